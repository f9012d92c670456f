/**
 * The product as a user touches it: `npm start`, then the official `openai` SDK and raw HTTP
 * against the gateway. Everything behind it is real (either edge: the gateway bundle behind the
 * ALB emulator or the container edge's HTTP server; dynalite, Redis, session manager) except
 * Triton, which the labelled inference stand-in replaces.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poll } from '../support/poll.ts';
import { RedisServer } from '../support/redis.ts';
import { groupAlive, interruptStartup, type RunningStack, startStack } from './local-stack.ts';

const MODEL = 'stub-echo-chatml';
const EDGES = ['lambda', 'container'] as const;
/** The stand-in's delay between streamed tokens in the suites that watch streaming. */
const TOKEN_DELAY_MS = 50;
const STREAMER_TOKENS = 100_000;

function testConfig(failureMode: 'open' | 'closed') {
  return {
    plans: {
      tiny: { requestsPerMinute: 60, burst: 2, tokensPerMinute: 100000 },
      roomy: { requestsPerMinute: 6000, burst: 500 },
      metered: { requestsPerMinute: 600, burst: 10, tokensPerMinute: 600 },
      // A large token bucket that barely refills: what a stream was charged stays visible.
      streamer: {
        requestsPerMinute: 600,
        burst: 50,
        tokensPerMinute: 6,
        tokenBurst: STREAMER_TOKENS,
        maxConcurrentRequests: 1,
      },
    },
    rateLimiter: { failureMode, redisTimeoutMs: 100 },
    auth: { cacheTtlSeconds: 1, failuresPerMinutePerAddress: 1000 },
  };
}

const client = (stack: RunningStack, apiKey: string, maxRetries = 0) =>
  new OpenAI({ baseURL: `${stack.url}/v1`, apiKey, maxRetries });

async function newKey(stack: RunningStack, plan: string): Promise<{ key: string; keyId: string }> {
  const created = await stack.keys('create', '--plan', plan);
  return { key: created.key as string, keyId: created.keyId as string };
}

/** What a clean stop leaves: npm's exit code, local.json, the gateway build and the group. */
async function stopAndInspect(stack: RunningStack, stop: () => Promise<number | null>) {
  // A hung shutdown shows up as this value in the diff rather than as a bare test timeout.
  const hung = new Promise<string>((r) =>
    setTimeout(r, 20_000, 'still running after 20 s').unref(),
  );
  const code = await Promise.race([stop(), hung]);
  const groupGone = await poll(
    async () => !groupAlive(stack.pgid),
    (gone) => gone,
  );
  return {
    code,
    stateLeft: existsSync(join(stack.stateDir, 'local.json')),
    buildLeft: existsSync(stack.buildDir),
    groupGone,
  };
}

const CLEAN = { code: 0, stateLeft: false, buildLeft: false, groupGone: true };

async function raw(stack: RunningStack, path: string, init: RequestInit & { key?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.key) headers.set('authorization', `Bearer ${init.key}`);
  if (init.body) headers.set('content-type', 'application/json');
  return fetch(`${stack.url}${path}`, { ...init, headers });
}

describe.each(EDGES)('local stack, failure mode open, %s edge', (edge) => {
  let redis: RedisServer;
  let stack: RunningStack;
  beforeAll(async () => {
    redis = await RedisServer.start();
    stack = await startStack(testConfig('open'), {
      REDIS_URL: redis.url,
      AXON_EDGE: edge,
      AXON_STUB_TOKEN_DELAY_MS: String(TOKEN_DELAY_MS),
    });
  });
  afterAll(async () => {
    await stack?.dispose();
    await redis?.stop();
  });

  it('writes local.json where the key CLI finds it and prints a demo key that lists the models', async () => {
    expect(existsSync(join(stack.stateDir, 'local.json'))).toBe(true);
    const models = await client(stack, stack.demoKey).models.list();
    expect(models.data.map((m) => m.id)).toContain(MODEL);
  });

  it('answers chat completions, streamed and not, through the openai SDK', async () => {
    const { key } = await newKey(stack, 'roomy');
    const openai = client(stack, key);
    const completion = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hello gateway' }],
    });
    expect(completion.choices[0]?.message.content).toContain('hello gateway');
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);

    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'stream this' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toContain('stream this');
  });

  it('says which edge it runs', () => {
    expect(stack.output()).toContain(`(${edge} edge) listening on`);
  });

  it(
    edge === 'container'
      ? 'streams a 40-token answer as it is generated and charges the key its tokens'
      : 'delivers a 40-token stream in one piece (an ALB Lambda target buffers) and charges the key its tokens',
    async () => {
      const { key } = await newKey(stack, 'streamer');
      // "[stub] You said:" and 37 words: 40 pieces, one every TOKEN_DELAY_MS.
      const words = Array.from({ length: 37 }, (_, i) => `w${i}`).join(' ');
      const stream = await client(stack, key).chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: words }],
        max_tokens: 40,
        stream: true,
        stream_options: { include_usage: true },
      });
      const arrivals: number[] = [];
      let text = '';
      let used = 0;
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta?.content;
        if (piece) {
          arrivals.push(performance.now());
          text += piece;
        }
        used = chunk.usage?.total_tokens ?? used;
      }
      const spread = (arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0);

      expect(arrivals).toHaveLength(40);
      expect(text).toBe(`[stub] You said: ${words}`);
      if (edge === 'container') expect(spread).toBeGreaterThanOrEqual(1000);
      // 39 gaps of 50 ms were generated; behind the Lambda edge they all arrive at once.
      else expect(spread).toBeLessThan(39 * TOKEN_DELAY_MS * 0.25);
      expect(used).toBeGreaterThan(40);
      const next = await raw(stack, '/v1/models', { key });
      const remaining = Number(next.headers.get('x-ratelimit-remaining-tokens'));
      expect(remaining).toBeGreaterThanOrEqual(STREAMER_TOKENS - used);
      expect(remaining).toBeLessThan(STREAMER_TOKENS - used + 10);
    },
  );

  it('answers 413 request_too_large for a body over 1 MiB and charges nothing', async () => {
    const { key } = await newKey(stack, 'streamer');
    const response = await raw(stack, '/v1/chat/completions', {
      method: 'POST',
      key,
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'x'.repeat(1 << 20) }],
      }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'request_too_large' },
    });
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(STREAMER_TOKENS));
  });

  // Only the container edge can see a client leave mid-stream: the Lambda edge answers whole.
  if (edge === 'container') {
    it('cancels the generation when the client leaves mid-stream and frees the key for its next request', async () => {
      const { key } = await newKey(stack, 'streamer'); // one request in flight at most
      const leaving = new AbortController();
      const response = await raw(stack, '/v1/chat/completions', {
        method: 'POST',
        key,
        body: JSON.stringify({
          model: MODEL,
          stream: true,
          max_tokens: 40,
          messages: [{ role: 'user', content: Array(40).fill('long').join(' ') }],
        }),
        signal: leaving.signal,
      });
      await (response.body as ReadableStream<Uint8Array>).getReader().read();
      leaving.abort();

      const cancelled = await poll(
        async () =>
          /inference-stub: stream cancelled by the caller after (\d+) of 40/.exec(stack.output()),
        (match) => match !== null,
      );
      expect(Number(cancelled?.[1])).toBeLessThan(40);
      const next = await poll(
        async () => (await raw(stack, '/v1/models', { key })).status,
        (status) => status === 200,
      );
      expect(next).toBe(200);
    });
  }

  it('debits the tokens a buffered stream used from the key, though the client asked for no usage', async () => {
    const { key } = await newKey(stack, 'metered'); // 600 tokens per minute: 10 a second
    const ask = () =>
      raw(stack, '/v1/chat/completions', {
        method: 'POST',
        key,
        body: JSON.stringify({
          model: MODEL,
          stream: true,
          messages: [{ role: 'user', content: 'count me' }],
        }),
      });
    const first = await ask();
    const body = await first.text();
    const comment = /^: usage (\{.*\})$/m.exec(body)?.[1];
    const used = (JSON.parse(comment ?? '{}') as { total_tokens?: number }).total_tokens ?? 0;
    expect(used).toBeGreaterThan(0);
    const started = Date.now();
    const second = await ask();
    const refilled = Math.ceil(((Date.now() - started) / 1000) * 10) + 1;
    expect(Number(second.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThanOrEqual(
      600 - used + refilled,
    );
  });

  it("keeps a session's history across turns", async () => {
    const { key } = await newKey(stack, 'roomy');
    const created = await raw(stack, '/v1/sessions', {
      method: 'POST',
      key,
      body: JSON.stringify({ model: MODEL }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    for (const content of ['my name is Ada', 'what is my name?']) {
      const turn = await raw(stack, `/v1/sessions/${id}/messages`, {
        method: 'POST',
        key,
        body: JSON.stringify({ content }),
      });
      expect(turn.status).toBe(200);
    }
    const session = (await (await raw(stack, `/v1/sessions/${id}`, { key })).json()) as {
      messages: { role: string; content: string }[];
    };
    expect(session.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(session.messages[0]?.content).toBe('my name is Ada');
    expect(session.messages[2]?.content).toBe('what is my name?');
  });

  it('hides a session from every other key with 404, spoofed principal headers or not', async () => {
    const owner = await newKey(stack, 'roomy');
    const other = await newKey(stack, 'roomy');
    const created = await raw(stack, '/v1/sessions', {
      method: 'POST',
      key: owner.key,
      body: JSON.stringify({ model: MODEL }),
    });
    const { id } = (await created.json()) as { id: string };
    expect((await raw(stack, `/v1/sessions/${id}`, { key: owner.key })).status).toBe(200);

    const stolen = await raw(stack, `/v1/sessions/${id}`, { key: other.key });
    expect(stolen.status).toBe(404);
    const spoofed = await raw(stack, `/v1/sessions/${id}`, {
      key: other.key,
      headers: {
        'x-axon-key-id': owner.keyId,
        'x-axon-plan': 'roomy',
        'x-axon-gateway-secret': 'guess',
      },
    });
    expect(spoofed.status).toBe(404);
    expect(await spoofed.json()).toMatchObject({ error: { type: 'not_found_error' } });
  });

  it('answers 401 missing_api_key with a Bearer challenge when no key is sent', async () => {
    // The SDK insists on an apiKey, so drop the header it would make from it.
    const anonymous = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: 'unused',
      maxRetries: 0,
      defaultHeaders: { authorization: null },
    });
    const missing = await anonymous.models.list().catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((missing as InstanceType<typeof OpenAI.AuthenticationError>).error).toMatchObject({
      code: 'missing_api_key',
    });
    const noKey = await raw(stack, '/v1/models');
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: { code: 'missing_api_key' } });
    expect(noKey.headers.get('www-authenticate')).toBe('Bearer realm="axon"');
  });

  it('raises AuthenticationError for a key that is not a valid API key', async () => {
    const error = await client(stack, 'axon_invalid')
      .models.list()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
  });

  it('raises AuthenticationError for a revoked key once the principal cache TTL has passed', async () => {
    const { key, keyId } = await newKey(stack, 'roomy');
    const openai = client(stack, key);
    await expect(openai.models.list()).resolves.toBeDefined();
    await stack.keys('revoke', keyId);
    // The gateway may serve the cached principal for up to the test config's TTL (1 s); poll for
    // ten times that rather than sleeping through it.
    const error = await poll(
      () =>
        openai.models.list().then(
          () => undefined,
          (e: unknown) => e,
        ),
      (e) => e !== undefined,
    );
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
  });

  it('raises RateLimitError past the burst, and a client honouring Retry-After then succeeds', async () => {
    const { key } = await newKey(stack, 'tiny'); // burst 2, one request a second
    const strict = client(stack, key);
    await strict.models.list();
    await strict.models.list();
    const error = await strict.models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const denied = error as InstanceType<typeof OpenAI.RateLimitError>;
    const retryAfter = Number(denied.headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(denied.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'rate_limit_error' });

    // The SDK retries 429s itself: its first try is denied again (the bucket is still empty),
    // then it waits as long as Retry-After says and the retry is admitted.
    const started = Date.now();
    const patient = client(stack, key, 2);
    const models = await patient.models.list();
    expect(models.data.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(retryAfter * 1000 - 50);
  });

  it('keeps serving, marked degraded, while Redis is down, and is Redis-backed again once it returns', async () => {
    const { key } = await newKey(stack, 'roomy');
    const openai = client(stack, key);
    await openai.models.list();

    await redis.kill();
    const during = await raw(stack, '/v1/models', { key });
    expect(during.status).toBe(200);
    expect(during.headers.get('x-axon-ratelimit-degraded')).toBe('1');
    const completion = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'still there?' }],
    });
    expect(completion.choices[0]?.message.content).toContain('still there?');

    await redis.restart();
    const degraded = await poll(
      async () =>
        (await raw(stack, '/v1/models', { key })).headers.get('x-axon-ratelimit-degraded'),
      (header) => header === null,
    );
    expect(degraded).toBeNull();
  });

  it('stops on SIGINT with exit 0, removing local.json and its build and leaving no process', async () => {
    expect(existsSync(join(stack.stateDir, 'local.json'))).toBe(true);
    // Only the Lambda edge is bundled; the container edge runs from source in the stack's process.
    expect(existsSync(stack.buildDir)).toBe(edge === 'lambda');
    // The container edge drains on stop: a stream open when the signal comes still ends whole.
    const { key } = await newKey(stack, 'roomy');
    const open = await raw(stack, '/v1/chat/completions', {
      method: 'POST',
      key,
      body: JSON.stringify({
        model: MODEL,
        stream: true,
        max_tokens: 20,
        messages: [{ role: 'user', content: 'drain me please' }],
      }),
    });
    const reader = (open.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    const stopped = stopAndInspect(stack, () => stack.stop('SIGINT'));
    let body = new TextDecoder().decode(first.value);
    for (let part = await reader.read(); !part.done; part = await reader.read()) {
      body += new TextDecoder().decode(part.value);
    }

    expect(body).toContain('data: [DONE]');
    expect(await stopped).toEqual(CLEAN);
    expect(stack.output()).toContain('SIGINT: stopping the local stack');
  }, 60_000);
});

describe('local stack, container edge, the longest answer the model window allows', () => {
  let stack: RunningStack;
  beforeAll(async () => {
    stack = await startStack(testConfig('open'), {
      REDIS_URL: '',
      AXON_EDGE: 'container',
      AXON_STUB_TOKEN_DELAY_MS: '0',
    });
  });
  afterAll(async () => {
    await stack?.dispose();
  });

  it('streams it byte for byte as the same request answers without streaming', async () => {
    const { key } = await newKey(stack, 'roomy');
    const openai = client(stack, key);
    // Mostly one-token words, with multi-byte ones that a chunk boundary could split.
    const words = (n: number) =>
      Array.from({ length: n }, (_, i) => (i % 50 === 49 ? `héllo日本🙂${i}` : 'word')).join(' ');
    const ask = (n: number) => ({
      model: MODEL,
      messages: [{ role: 'user' as const, content: words(n) }],
      // The echo answers "[stub] You said:" and the words: n + 3 pieces, exactly the cap.
      max_tokens: n + 3,
    });
    // The largest n whose prompt and answer still fit the stand-in's context window.
    let fits = 1;
    let fails = 8192;
    while (fails - fits > 1) {
      const n = Math.floor((fits + fails) / 2);
      const ok = await openai.chat.completions.create(ask(n)).then(
        () => true,
        () => false,
      );
      if (ok) fits = n;
      else fails = n;
    }
    const whole = await openai.chat.completions.create(ask(fits));
    const stream = await openai.chat.completions.create({ ...ask(fits), stream: true });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    const text = whole.choices[0]?.message.content ?? '';

    expect(fits).toBeGreaterThan(1000);
    expect(text.split(' ')).toHaveLength(fits + 3);
    expect(Buffer.from(streamed)).toEqual(Buffer.from(text));
  }, 120_000);
});

describe('local stack, failure mode closed', () => {
  let redis: RedisServer;
  let stack: RunningStack;
  beforeAll(async () => {
    redis = await RedisServer.start();
    stack = await startStack(testConfig('closed'), { REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await stack?.dispose();
    await redis?.stop();
  });

  it('answers 503 rate_limiter_unavailable while Redis is down, and serves again once it returns', async () => {
    const { key } = await newKey(stack, 'roomy');
    expect((await raw(stack, '/v1/models', { key })).status).toBe(200);

    await redis.kill();
    const during = await raw(stack, '/v1/models', { key });
    expect(during.status).toBe(503);
    expect(await during.json()).toMatchObject({
      error: { type: 'api_error', code: 'rate_limiter_unavailable' },
    });
    expect(during.headers.get('x-request-id')).toBeTruthy();

    await redis.restart();
    const status = await poll(
      async () => (await raw(stack, '/v1/models', { key })).status,
      (code) => code === 200,
    );
    expect(status).toBe(200);
  });
});

describe('local stack, with the redis-server it spawns itself', () => {
  let stack: RunningStack;
  beforeAll(async () => {
    stack = await startStack(testConfig('open'), { REDIS_URL: '' });
  });
  afterAll(async () => {
    await stack?.dispose();
  });

  it('stops cleanly on Ctrl-C even when its event loop is stalled as the signal arrives', async () => {
    const group = execFileSync('ps', ['-o', 'args=', '-g', String(stack.pgid)], {
      encoding: 'utf8',
    });
    expect(group).toMatch(/^redis-server /m);
    // Ctrl-C signals the whole group: npm, the stack's process and its redis-server. A busy CPU
    // can keep the stack's process from running for a while; SIGSTOP makes that certain. The
    // pause is the length of the injected stall, far beyond tsx's 2 x 30 ms signal relay, which
    // SIGKILLed a stack that did not answer in time (exit 130).
    process.kill(stack.pid, 'SIGSTOP');
    const code = stack.stop('SIGINT');
    await new Promise((r) => setTimeout(r, 500));
    try {
      process.kill(stack.pid, 'SIGCONT');
    } catch {
      // Already gone: killed while stopped, which the exit code below reports.
    }
    expect(await stopAndInspect(stack, () => code)).toEqual(CLEAN);
    expect(stack.output()).toContain('SIGINT: stopping the local stack');
  }, 60_000);
});

describe('local stack, interrupted while it starts', () => {
  it('holds a SIGINT that arrives mid-startup and stops once up: exit 0, nothing left behind', async () => {
    // The stand-in announces itself halfway through startup, before the gateway is bundled.
    const { seen, code, output, stateLeft, buildLeft, groupGone } = await interruptStartup(
      testConfig('open'),
      { REDIS_URL: '' },
      /^inference-stub: /m,
    );
    expect(seen).toBe(true);
    expect(output).not.toMatch(/Demo API key/);
    // The stack's own output says why when it did not stop cleanly.
    expect({ code, stateLeft, buildLeft, groupGone }, output).toEqual(CLEAN);
    expect(output).toContain('SIGINT: stopping the local stack once it has started');
  }, 90_000);
});
