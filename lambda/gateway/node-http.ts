/**
 * The container edge's adapter: `node:http` requests in, gateway answers out, chunk by chunk.
 * It only translates; routing, authentication, limits, forwarding, header hygiene and settlement
 * are the gateway core's, exactly as behind the ALB adapter (alb.ts).
 *
 * Why `node:http` and not Fastify: the edge has no routes of its own (the core routes), no
 * schemas and no plugins, and it must write each upstream chunk the moment it arrives; plain
 * `node:http` does that with no framework between the socket and the core, which also keeps
 * its per-request CPU down on the hot path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StreamedResponse } from './gateway.ts';
import type { GatewayRequest, Headers } from './http.ts';

export interface NodeRequest {
  readonly request: GatewayRequest;
  /**
   * False when the body passed the cap: reading stopped there (the core answers 413 before
   * admission), so the rest is never read and the connection must close after the answer.
   */
  readonly complete: boolean;
}

/**
 * Reads a request, its body up to `maxBodyBytes` plus one byte: enough for the core to see it is
 * too large without holding a body of any size in memory.
 */
export async function fromNodeRequest(
  incoming: IncomingMessage,
  maxBodyBytes: number,
): Promise<NodeRequest> {
  // Straight from the raw pairs: `headersDistinct` builds an object of lists first, per request.
  const headers: Headers = new Map();
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const values = headers.get(name);
    if (values) values.push(value);
    else headers.set(name, [value]);
  }
  const url = incoming.url ?? '/';
  const mark = url.indexOf('?');
  const declared = Number(incoming.headers['content-length'] ?? 0);
  // Nothing of a body declared too large needs reading: it is refused whatever it holds.
  const { chunks, complete } =
    declared > maxBodyBytes
      ? { chunks: [Buffer.alloc(maxBodyBytes + 1)], complete: false }
      : await readCapped(incoming, maxBodyBytes);
  return {
    request: {
      method: (incoming.method ?? 'GET').toUpperCase(),
      path: mark < 0 ? url : url.slice(0, mark),
      query: mark < 0 ? '' : url.slice(mark + 1),
      headers,
      body: Buffer.concat(chunks),
    },
    complete,
  };
}

/**
 * Reads the body until it ends or passes the cap. Events rather than `for await`: leaving an
 * async iterator early destroys the request, and with it the socket the 413 must go out on.
 */
function readCapped(
  incoming: IncomingMessage,
  maxBodyBytes: number,
): Promise<{ chunks: Buffer[]; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (complete: boolean) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', reject);
      resolve({ chunks, complete });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > maxBodyBytes) {
        incoming.pause();
        done(false);
      }
    };
    const onEnd = () => done(true);
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', reject);
  });
}

/**
 * Writes an answer. A whole body goes out with its length; a streamed one with its headers
 * flushed at once and each chunk written as it comes (no compression, no buffering), the session
 * manager held back while the client reads slower than the model writes. Resolves when the
 * answer is written or the client has gone.
 */
export async function toNodeResponse(
  response: StreamedResponse,
  outgoing: ServerResponse,
  options: { readonly close: boolean },
): Promise<void> {
  // The answer's headers were made for this request (Gateway.serve), so they are completed here.
  const headers = response.headers;
  if (options.close) headers.connection = 'close';
  if (Buffer.isBuffer(response.body)) {
    headers['content-length'] = String(response.body.length);
    outgoing.writeHead(response.status, headers);
    outgoing.end(response.body);
    return;
  }
  outgoing.writeHead(response.status, headers);
  outgoing.flushHeaders();
  await response.body.pipeTo(outgoing);
  if (!outgoing.destroyed) outgoing.end();
}
