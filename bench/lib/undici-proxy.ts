/**
 * Child process [U] of `bench:gateway`: the second Node floor under the container edge, the bare
 * proxy of node-proxy.ts with undici in place of `node:http` for the upstream leg. The same
 * `node:http` server; the request body streamed through to `pool.request` (a keep-alive `Pool`
 * of 64 connections, as the node proxy's agent has 64 sockets) with the trusted headers set; the
 * answer written back whole, as the node proxy writes it. No authentication, no limiter, no
 * header hygiene, no logging: the two floors differ in their HTTP client only, so the cheaper of
 * them is the least any Node edge on this path can cost.
 * Env: BENCH_UPSTREAM_URL, BENCH_GATEWAY_SECRET, BENCH_KEY_ID, BENCH_PLAN. Prints `{"url"}` once
 * listening.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { exitWithParent } from './children.ts';
import { trusted, upstream } from './proxy-env.ts';

// Idle connections stay open between one cell of this target and the next (undici's default
// would close them after 4 s; the node proxy's agent keeps them until the server closes them).
const pool = new Pool(upstream.origin, { connections: 64, keepAliveTimeout: 60_000 });

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

const server = createServer((incoming, outgoing) => {
  const length = incoming.headers['content-length'];
  pool
    .request({
      method: (incoming.method ?? 'GET') as Method,
      path: incoming.url ?? '/',
      headers: {
        'content-type': incoming.headers['content-type'] ?? 'application/json',
        ...(length !== undefined && { 'content-length': length }),
        ...trusted,
      },
      body: incoming,
    })
    .then(
      ({ statusCode, headers, body }) => {
        const parts: Buffer[] = [];
        body.on('data', (chunk: Buffer) => parts.push(chunk));
        body.on('error', () => outgoing.destroy());
        body.on('end', () => {
          const whole = Buffer.concat(parts);
          const type = headers['content-type'];
          outgoing.writeHead(statusCode, {
            'content-type': typeof type === 'string' ? type : 'application/json',
            'content-length': String(whole.length),
          });
          outgoing.end(whole);
        });
      },
      () => outgoing.destroy(),
    );
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
exitWithParent(async () => {
  server.close();
  await pool.destroy();
});
