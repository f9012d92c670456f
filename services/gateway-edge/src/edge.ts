/**
 * The container edge as an HTTP server over the gateway core: each request goes through the
 * node:http adapter (lambda/gateway/node-http.ts) into `Gateway.stream`, and streamed answers
 * are piped out chunk by chunk. The only thing the edge adds is its lifecycle: a graceful drain
 * (`shutdown`) that fails `/healthz` so the load balancer takes the instance out, closes each
 * connection after its current answer, lets open streams finish within a grace period and then
 * stops listening.
 *
 * Why the listener stays open while anything is in flight: the load balancer only stops sending
 * once it has seen the health check fail or the target deregistered, and a request it sends in
 * that window is better served (on a connection then closed) than refused with a reset.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientGone } from '../../../lambda/gateway/cancel.ts';
import { ShuttingDownError } from '../../../lambda/gateway/errors.ts';
import type { Gateway } from '../../../lambda/gateway/gateway.ts';
import { errorResponse } from '../../../lambda/gateway/http.ts';
import { fromNodeRequest, toNodeResponse } from '../../../lambda/gateway/node-http.ts';

export interface EdgeOptions {
  /** Its `maxBodyBytes` is the body cap: larger bodies get 413 before admission, uncharged. */
  readonly gateway: Pick<Gateway, 'stream' | 'maxBodyBytes'>;
  /** How long open requests may run on after a shutdown begins. */
  readonly shutdownGraceMs: number;
  /** Called with failures no client can be told of (the answer had already started). */
  readonly onError?: (err: unknown) => void;
}

export interface Edge {
  readonly server: Server;
  listen(port: number, host?: string): Promise<string>;
  /** Requests being answered right now, streams included. */
  inFlight(): number;
  /**
   * Drains: answers `/healthz` 503, closes every connection after its current answer, and once
   * nothing is in flight, or `shutdownGraceMs` has passed and what was left is cut (each cut
   * stream settled as a client disconnect), stops listening. Resolves when it has.
   */
  shutdown(): Promise<void>;
}

export function createEdge(options: EdgeOptions): Edge {
  const { gateway, shutdownGraceMs } = options;
  const onError = options.onError ?? (() => undefined);
  let draining = false;
  let open = 0;
  let idle: (() => void) | undefined;

  /** One request, start to end; never rejects (a failure after the answer started is reported). */
  async function serve(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    try {
      // Only a client that left before its answer was written cancels anything.
      const gone = new ClientGone();
      outgoing.once('close', () => {
        if (!outgoing.writableFinished) gone.abort();
      });
      const { request, complete } = await fromNodeRequest(incoming, gateway.maxBodyBytes);
      const response =
        draining && request.path === '/healthz'
          ? errorResponse(new ShuttingDownError())
          : await gateway.stream(request, gone);
      await toNodeResponse(response, outgoing, { close: draining || !complete });
    } catch (err) {
      onError(err);
      outgoing.destroy();
    } finally {
      open--;
      if (open === 0) idle?.();
    }
  }

  const server = createServer(
    // The core bounds the wait for the session manager; a socket timeout here would cut a long
    // generation. Time to send a request stays bounded.
    { requestTimeout: 30_000, keepAliveTimeout: 65_000 },
    (incoming, outgoing) => {
      open++;
      void serve(incoming, outgoing);
    },
  );

  // What node:http cannot even parse never reaches the core; it still gets the error envelope
  // instead of Node's bare-text default.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout']
          : [400, 'Bad Request'];
    const body = JSON.stringify({
      error: {
        message: `The request could not be read as HTTP/1.1 (${reason.toLowerCase()}).`,
        type: 'invalid_request_error',
        code: 'bad_request',
      },
    });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  return {
    server,
    async listen(port, host = '0.0.0.0') {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      return `http://${address.address === '0.0.0.0' ? '127.0.0.1' : address.address}:${address.port}`;
    },
    inFlight: () => open,
    async shutdown() {
      if (draining) return;
      draining = true;
      server.closeIdleConnections();
      if (open > 0) {
        const finished = new Promise<void>((resolve) => {
          idle = resolve;
        });
        const cut = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
        await finished;
        clearTimeout(cut);
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
