/**
 * An Application Load Balancer on loopback: each HTTP request becomes the ALB's Lambda target
 * event (multi-value headers on, as the CDK app configures the target group) and the handler's
 * result becomes the HTTP answer. Like the ALB it appends the peer to `X-Forwarded-For`, keeps
 * query strings percent-encoded, base64-encodes non-text bodies, and answers 502 when the
 * function fails.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ALBEvent, ALBResult } from 'aws-lambda';
import { isTextContentType } from '#gateway/alb';

export type AlbHandler = (event: ALBEvent) => Promise<ALBResult>;

/** The emulator reads at most this much of a body; the gateway itself answers 413 above 1 MB. */
const MAX_READ_BYTES = 8 * 1024 * 1024;

const TARGET_GROUP_ARN = 'arn:aws:elasticloadbalancing:local:000000000000:targetgroup/axon-local/0';

function albError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'api_error', code } }));
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_READ_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function toAlbEvent(req: IncomingMessage, body: Buffer): ALBEvent {
  const [path = '/', query] = (req.url ?? '/').split(/\?(.*)/s);
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    append(multiValueHeaders, name, req.rawHeaders[i + 1] as string);
  }
  const peer = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  const forwarded = multiValueHeaders['x-forwarded-for']?.join(', ');
  multiValueHeaders['x-forwarded-for'] = [forwarded ? `${forwarded}, ${peer}` : peer];
  multiValueHeaders['x-forwarded-proto'] = ['http'];
  multiValueHeaders['x-forwarded-port'] = [String(req.socket.localPort ?? '')];

  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const pair of query ? query.split('&') : []) {
    if (!pair) continue;
    const [name = '', value = ''] = pair.split(/=(.*)/s);
    append(multiValueQueryStringParameters, name, value);
  }
  const text = isTextContentType(multiValueHeaders['content-type']?.[0]);
  return {
    requestContext: { elb: { targetGroupArn: TARGET_GROUP_ARN } },
    httpMethod: req.method ?? 'GET',
    path,
    multiValueQueryStringParameters,
    multiValueHeaders,
    body: body.toString(text ? 'utf8' : 'base64'),
    isBase64Encoded: !text,
  };
}

function append(map: Record<string, string[]>, name: string, value: string): void {
  const values = map[name];
  if (values) values.push(value);
  else map[name] = [value];
}

function writeResult(res: ServerResponse, result: ALBResult): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[name] = values.map(String);
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  headers['content-length'] = String(body.length);
  res.writeHead(result.statusCode, headers);
  res.end(body);
}

export interface AlbEmulator {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

export async function startAlbEmulator(
  handler: AlbHandler,
  options: { port?: number; host?: string; onError?: (err: unknown) => void } = {},
): Promise<AlbEmulator> {
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      if (!body) {
        albError(
          res,
          413,
          'request_too_large',
          'The request body is too large for the load balancer.',
        );
        return;
      }
      writeResult(res, await handler(toAlbEvent(req, body)));
    } catch (err) {
      options.onError?.(err);
      if (!res.headersSent)
        albError(res, 502, 'bad_gateway', 'The gateway function failed; retry the request.');
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 60_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
