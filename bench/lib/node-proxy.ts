/**
 * Child process [P] of `bench:gateway`: the least a Node.js proxy can do on this path, as the
 * floor under the container edge. A bare `node:http` server that reads the body, sends it to the
 * session manager over a keep-alive agent with the trusted headers set, and writes the answer
 * back whole (an event stream piped through as it arrives): no authentication, no limiter, no
 * header hygiene, no logging. What the container edge costs above this is the gateway's own
 * work; what this costs above nginx is Node's HTTP stack, which no change to the gateway can
 * remove.
 * Env: BENCH_UPSTREAM_URL, BENCH_GATEWAY_SECRET, BENCH_KEY_ID, BENCH_PLAN. Prints `{"url"}` once
 * listening.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exitWithParent } from './children.ts';
import { trusted, upstream } from './proxy-env.ts';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

const server = createServer((incoming, outgoing) => {
  const chunks: Buffer[] = [];
  incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
  incoming.on('end', () => {
    const body = Buffer.concat(chunks);
    const forwarded = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        agent,
        headers: {
          'content-type': incoming.headers['content-type'] ?? 'application/json',
          'content-length': String(body.length),
          ...trusted,
        },
      },
      (answer) => {
        const type = answer.headers['content-type'] ?? 'application/json';
        // An event stream goes through as it comes (the time-to-first-token floor); the rest whole.
        if (type.startsWith('text/event-stream')) {
          outgoing.writeHead(answer.statusCode ?? 502, { 'content-type': type });
          outgoing.flushHeaders();
          answer.pipe(outgoing);
          return;
        }
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          const whole = Buffer.concat(parts);
          outgoing.writeHead(answer.statusCode ?? 502, {
            'content-type': type,
            'content-length': String(whole.length),
          });
          outgoing.end(whole);
        });
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    forwarded.end(body);
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
exitWithParent(async () => {
  server.close();
  agent.destroy();
});
