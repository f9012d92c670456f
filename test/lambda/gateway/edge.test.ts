/**
 * The container edge over real parts: the gateway core of the fixture (dynalite, the suite's
 * redis-server), the edge's HTTP server on a free port, and a scripted HTTP stand-in for the
 * session manager, so each test controls exactly when every chunk is written.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fromAlbEvent, toAlbResult } from '#gateway/alb';
import { parseConfig } from '#shared/config';
import { createEdge, type Edge } from '../../../services/gateway-edge/src/edge.ts';
import { poll } from '../../support/poll.ts';
import { bearer, type Fixture, startFixture, UPSTREAM_SECRET } from './support.ts';

const BODY_CAP = 4096;
const LEASE_TTL_MS = 800;
/** A bucket that barely refills during a test, so the remaining tokens show what was booked. */
const TOKEN_BURST = 10_000;

const config = parseConfig({
  plans: {
    streamer: {
      requestsPerMinute: 6000,
      burst: 1000,
      tokensPerMinute: 6,
      tokenBurst: TOKEN_BURST,
      maxConcurrentRequests: 1,
    },
  },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: 200, leaseTtlMs: LEASE_TTL_MS },
  auth: { cacheTtlSeconds: 30, failuresPerMinutePerAddress: 1000 },
});

const chatBody = (maxTokens: number) =>
  JSON.stringify({
    model: 'm',
    stream: true,
    max_tokens: maxTokens,
    messages: [{ role: 'user', content: 'hi' }],
  });

/** What admission reserves for `chatBody(maxTokens)`: body bytes / 4 plus the completion cap. */
const reservation = (maxTokens: number) =>
  Math.ceil(Buffer.byteLength(chatBody(maxTokens)) / 4) + maxTokens;

/**
 * An upstream script for the chat route only; every other route (the `GET /v1/models` that
 * `remainingTokens` and the lease checks send) gets an empty model list.
 */
function chatOnly(onChat: Fixture['upstream']['script']): Fixture['upstream']['script'] {
  return (req, res) => {
    if (req.url === '/v1/chat/completions') return onChat(req, res);
    res.setHeader('content-type', 'application/json');
    res.end('{"data":[]}');
  };
}

/** A deferred the upstream script waits on, released by the test. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/** The key's remaining tokens, read from a request that reserves none (`GET /v1/models`). */
async function remainingTokens(url: string, key: string): Promise<number> {
  const response = await fetch(`${url}/v1/models`, { headers: bearer(key) });
  await response.arrayBuffer();
  return Number(response.headers.get('x-ratelimit-remaining-tokens'));
}

/** A raw HTTP exchange, to send bodies of any framing and see every response header. */
function exchange(
  url: string,
  options: { method: string; path: string; headers: Record<string, string>; chunks: Buffer[] },
): Promise<{ response: IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}${options.path}`,
      { method: options.method, headers: options.headers },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (c: Buffer) => parts.push(c));
        response.on('end', () => resolve({ response, body: Buffer.concat(parts).toString() }));
      },
    );
    req.on('error', reject);
    for (const chunk of options.chunks) req.write(chunk);
    req.end();
  });
}

describe('container edge', () => {
  let f: Fixture;
  let edge: Edge;
  let url: string;
  beforeAll(async () => {
    // The upstream may stay silent for longer than the lease lives (the renewal test).
    f = await startFixture({
      redisUrl: inject('redisUrl'),
      config,
      maxBodyBytes: BODY_CAP,
      upstreamTimeoutMs: LEASE_TTL_MS * 10,
    });
    edge = createEdge({ gateway: f.gateway, shutdownGraceMs: 5_000 });
    url = await edge.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await edge?.shutdown();
    await f?.close();
  });

  it('relays each event as the session manager writes it and books the usage it ends with', async () => {
    const { key } = await f.newKey('streamer');
    const second = gate();
    f.upstream.script = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-axon-internal': 'no' });
      res.write('data: {"n":1}\n\n');
      await second.opened;
      res.write('data: {"n":2}\n\n: usage {"prompt_tokens":7,"completion_tokens":30,');
      res.end('"total_tokens":37}\n\ndata: [DONE]\n\n');
    };

    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: chatBody(500),
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    // The second event does not exist yet: the first can only arrive if nothing buffers.
    const first = decoder.decode((await reader.read()).value);
    second.open();
    let rest = '';
    for (let part = await reader.read(); !part.done; part = await reader.read()) {
      rest += decoder.decode(part.value);
    }

    expect(first).toBe('data: {"n":1}\n\n');
    expect(rest).toContain('data: {"n":2}');
    expect(rest).toContain('data: [DONE]');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(response.headers.get('x-axon-internal')).toBeNull();
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(
      String(TOKEN_BURST - reservation(500)),
    );
    const remaining = await poll(
      () => remainingTokens(url, key),
      (n) => n >= TOKEN_BURST - 37,
    );
    expect(remaining).toBeGreaterThanOrEqual(TOKEN_BURST - 37);
    expect(remaining).toBeLessThan(TOKEN_BURST - 37 + 5);
  });

  it('forwards with the principal and secret added and the credential and x-axon-* removed', async () => {
    const { key, keyId } = await f.newKey('streamer');
    f.upstream.script = (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"data":[]}');
    };
    const before = f.upstream.seen.length;
    const { response } = await exchange(url, {
      method: 'GET',
      path: '/v1/models?limit=2',
      headers: {
        ...bearer(key),
        'x-axon-key-id': 'spoofed',
        connection: 'keep-alive, x-drop',
        'x-drop': 'hop',
      },
      chunks: [],
    });

    const seen = f.upstream.seen[before];
    expect(response.statusCode).toBe(200);
    expect(seen?.headers['x-drop']).toBeUndefined();
    expect(seen?.url).toBe('/v1/models?limit=2');
    expect(seen?.headers.authorization).toBeUndefined();
    expect(seen?.headers['x-axon-key-id']).toBe(keyId);
    expect(seen?.headers['x-axon-gateway-secret']).toBe(UPSTREAM_SECRET);
  });

  it('cancels the upstream request when the client leaves mid-stream, keeps the reservation and frees the lease', async () => {
    const { key } = await f.newKey('streamer');
    let upstreamClosed = false;
    f.upstream.script = chatOnly((_req, res) => {
      res.on('close', () => {
        upstreamClosed = !res.writableFinished;
      });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n'); // and never more: only the client can end this
    });
    const leaving = new AbortController();
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: chatBody(300),
      signal: leaving.signal,
    });
    await (response.body as ReadableStream<Uint8Array>).getReader().read();
    leaving.abort();

    expect(await poll(async () => upstreamClosed, Boolean)).toBe(true);
    // maxConcurrentRequests is 1: a second request is admitted only once the lease is released.
    const next = await poll(
      async () => (await fetch(`${url}/v1/models`, { headers: bearer(key) })).status,
      (status) => status === 200,
    );
    expect(next).toBe(200);
    expect(await remainingTokens(url, key)).toBeLessThan(TOKEN_BURST - reservation(300) + 5);
  });

  it('cancels the upstream request when the client leaves before the session manager answers', async () => {
    const { key } = await f.newKey('streamer');
    let received = false;
    let upstreamClosed = false;
    f.upstream.script = chatOnly((_req, res) => {
      received = true;
      // No status line yet: only the client leaving can end this before the upstream timeout.
      res.on('close', () => {
        upstreamClosed = !res.headersSent;
      });
    });
    const leaving = new AbortController();
    const answer = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: chatBody(300),
      signal: leaving.signal,
    }).catch((err: unknown) => err);
    expect(await poll(async () => received, Boolean)).toBe(true);
    leaving.abort();
    expect(await answer).toBeInstanceOf(Error);
    // Closed because the client left (milliseconds), not by the fixture's 2 s upstream timeout.
    expect(await poll(async () => upstreamClosed, Boolean, 1500)).toBe(true);
  });

  it('holds the session manager back while the client does not read, then relays the rest', async () => {
    const { key } = await f.newKey('streamer');
    // 64 MiB of events, far more than the sockets between the three parties can hold.
    const event = Buffer.from(`data: {"pad":"${'x'.repeat(64 * 1024 - 18)}"}\n\n`);
    const events = 1024;
    let written = 0;
    let stalled: (bytes: number) => void = () => {};
    const stall = new Promise<number>((resolve) => {
      stalled = resolve;
    });
    f.upstream.script = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let n = 0; n < events; n++) {
        written += event.length;
        if (res.write(event)) continue;
        // Full: a drain that does not come within a second means the edge stopped reading.
        const drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 1_000);
          res.once('drain', () => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        if (!drained) {
          stalled(written);
          await new Promise((resolve) => res.once('drain', resolve));
        }
      }
      stalled(written);
      res.end(
        ': usage {"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}\n\ndata: [DONE]\n\n',
      );
    };
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.pause(); // the client reads nothing yet
    const body = chatBody(100);
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: edge\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );

    // Without backpressure the edge would read all 64 MiB and hold it in memory for the client.
    expect(await stall).toBeLessThan(32 * 1024 * 1024);

    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      received = (received + text).slice(-200);
    });
    socket.resume();
    await new Promise((resolve) => socket.once('end', resolve));
    expect(received).toContain('data: [DONE]');
    expect(written).toBe(events * event.length);
    const remaining = await poll(
      () => remainingTokens(url, key),
      (n) => n >= TOKEN_BURST - 3,
    );
    expect(remaining).toBeLessThan(TOKEN_BURST - 3 + 5);
  });

  it('renews the lease while a stream outlives it, so a second request waits its turn', async () => {
    const { key } = await f.newKey('streamer');
    const finish = gate();
    f.upstream.script = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      await finish.opened;
      res.end(': usage {"total_tokens":3}\n\n');
    };
    const streaming = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: chatBody(10),
    });
    const reader = (streaming.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    // Three lease lifetimes: without renewal the lease would have expired twice over.
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS * 3));
    const meanwhile = await fetch(`${url}/v1/models`, { headers: bearer(key) });
    const refusal = (await meanwhile.json()) as { error: { code: string } };
    finish.open();
    while (!(await reader.read()).done);

    expect(meanwhile.status).toBe(429);
    expect(refusal.error.code).toBe('concurrency_limit_exceeded');
  });

  it('answers 413 for a body over the cap, before admission and uncharged, however it is framed', async () => {
    const { key } = await f.newKey('streamer');
    const before = f.upstream.seen.length;
    const big = Buffer.alloc(BODY_CAP + 10, 'a');
    const headers = { ...bearer(key), 'content-type': 'application/json' };
    const declared = await exchange(url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { ...headers, 'content-length': String(big.length) },
      chunks: [big],
    });
    const chunked = await exchange(url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers,
      chunks: [big.subarray(0, 3000), big.subarray(3000)],
    });

    for (const { response, body } of [declared, chunked]) {
      expect(response.statusCode).toBe(413);
      expect(JSON.parse(body)).toEqual({
        error: {
          type: 'invalid_request_error',
          code: 'request_too_large',
          message: expect.stringContaining(String(BODY_CAP)),
        },
      });
      expect(response.headers.connection).toBe('close');
      expect(response.headers['x-ratelimit-remaining-tokens']).toBe(String(TOKEN_BURST));
    }
    expect(f.upstream.seen.length).toBe(before);
  });

  it('answers what is not even HTTP with 400 in the error envelope', async () => {
    const { port } = new URL(url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('NOT HTTP\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const [head = '', body = ''] = answer.split('\r\n\r\n');

    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toContain('content-type: application/json');
    expect(JSON.parse(body)).toMatchObject({
      error: { type: 'invalid_request_error', code: 'bad_request' },
    });
  });

  it('answers errors in the same envelope with the same headers as the Lambda edge', async () => {
    const cases = [
      { method: 'GET', path: '/v1/models', headers: {} as Record<string, string> },
      { method: 'GET', path: '/nowhere', headers: {} },
      { method: 'GET', path: '/v1/models', headers: { authorization: 'Bearer axon_nope' } },
    ];
    for (const c of cases) {
      const id = { 'x-request-id': `same-${c.path.length}` };
      const viaEdge = await fetch(`${url}${c.path}`, { headers: { ...c.headers, ...id } });
      const viaLambda = toAlbResult(
        await f.gateway.handle(
          fromAlbEvent({
            httpMethod: c.method,
            path: c.path,
            headers: { ...c.headers, ...id },
            body: '',
            isBase64Encoded: false,
            requestContext: { elb: { targetGroupArn: 'arn' } },
            queryStringParameters: {},
          }).request,
        ),
        false,
      );
      const edgeHeaders = Object.fromEntries(
        [...viaEdge.headers].filter(([n]) => !['date', 'connection', 'keep-alive'].includes(n)),
      );

      expect(viaEdge.status).toBe(viaLambda.statusCode);
      expect(await viaEdge.text()).toBe(viaLambda.body);
      expect(edgeHeaders).toEqual({
        ...viaLambda.headers,
        'content-length': String(Buffer.byteLength(viaLambda.body ?? '')),
      });
    }
  });
});

describe('container edge shutdown', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ redisUrl: inject('redisUrl'), config });
  });
  afterAll(() => f?.close());

  it('fails /healthz, lets an open stream finish, then stops listening', async () => {
    const edge = createEdge({ gateway: f.gateway, shutdownGraceMs: 10_000 });
    const url = await edge.listen(0, '127.0.0.1');
    const { key } = await f.newKey('streamer');
    const finish = gate();
    f.upstream.script = async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      await finish.opened;
      res.end('data: {"n":2}\n\n: usage {"total_tokens":3}\n\n');
    };
    const streaming = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: chatBody(10),
    });
    const reader = (streaming.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);

    let stopped = false;
    const stopping = edge.shutdown().then(() => {
      stopped = true;
    });
    const health = await fetch(`${url}/healthz`);
    const healthBody = (await health.json()) as { error: { code: string } };
    expect(health.status).toBe(503);
    expect(healthBody.error.code).toBe('shutting_down');
    expect(stopped).toBe(false);

    finish.open();
    for (let part = await reader.read(); !part.done; part = await reader.read()) {
      text += decoder.decode(part.value);
    }
    await stopping;

    expect(text).toContain('data: {"n":2}');
    expect(stopped).toBe(true);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('cuts a stream that outlasts the grace period and still stops', async () => {
    const edge = createEdge({ gateway: f.gateway, shutdownGraceMs: 300 });
    const url = await edge.listen(0, '127.0.0.1');
    const { key } = await f.newKey('streamer');
    f.upstream.script = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n'); // never ends by itself
    };
    const streaming = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: chatBody(10),
    });
    const reader = (streaming.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();

    await edge.shutdown();

    expect(edge.inFlight()).toBe(0);
    await expect(reader.read()).rejects.toThrow();
  });
});

describe('container edge, an upstream that falls silent mid-stream', () => {
  let f: Fixture;
  let edge: Edge;
  let url: string;
  beforeAll(async () => {
    f = await startFixture({ redisUrl: inject('redisUrl'), config, upstreamTimeoutMs: 300 });
    edge = createEdge({ gateway: f.gateway, shutdownGraceMs: 1_000 });
    url = await edge.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await edge?.shutdown();
    await f?.close();
  });

  it('ends the stream with an upstream_timeout error event and keeps the reservation', async () => {
    const { key } = await f.newKey('streamer');
    f.upstream.script = chatOnly((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n'); // then silence, longer than the timeout
    });
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: chatBody(200),
    });
    const text = await response.text();

    expect(response.status).toBe(200);
    const events = text.split('\n\n').filter(Boolean);
    expect(events[0]).toBe('data: {"n":1}');
    expect(JSON.parse((events[1] ?? '').replace(/^data: /, ''))).toMatchObject({
      error: { type: 'api_error', code: 'upstream_timeout' },
    });
    expect(await remainingTokens(url, key)).toBeLessThan(TOKEN_BURST - reservation(200) + 5);
  });
});
