/**
 * What the session abuse tests share: `npm start` with the two Redis servers the test controls
 * (the limiter's and the sessions'), the session manager on a known port so a test can probe
 * its `/healthz` directly, and raw HTTP through the gateway.
 */

import { type RunningStack, startStack } from '../e2e/local-stack.ts';
import { freePort, RedisServer } from '../support/redis.ts';

export interface AbuseStack {
  stack: RunningStack;
  limiterRedis: RedisServer;
  sessionRedis: RedisServer;
  /** Base URL of the session manager itself, behind the gateway. */
  sessionManagerUrl: string;
  stop(): Promise<void>;
}

/** The local stack's echoing stand-in for Triton, the model every session abuse test calls. */
export const STUB_MODEL = 'stub-echo-chatml';

/** A plan of the runtime config: its request rate and burst. */
export interface AbusePlan {
  requestsPerMinute: number;
  burst: number;
}

/**
 * Starts the stack with these plans and a limiter that fails open after 100 ms, the same in every
 * session abuse test: what a test varies is its plans and its Redis arguments (a small
 * `maxmemory`, say), not the limiter.
 */
export async function startAbuseStack(
  plans: Record<string, AbusePlan>,
  redisArgs: { limiter?: string[]; sessions?: string[] } = {},
): Promise<AbuseStack> {
  const config = { plans, rateLimiter: { failureMode: 'open', redisTimeoutMs: 100 } };
  const limiterRedis = await RedisServer.start({ args: redisArgs.limiter ?? [] });
  const sessionRedis = await RedisServer.start({ args: redisArgs.sessions ?? [] });
  const smPort = await freePort();
  const stack = await startStack(config, {
    REDIS_URL: limiterRedis.url,
    SESSION_REDIS_URL: sessionRedis.url,
    AXON_SESSION_MANAGER_PORT: String(smPort),
  });
  return {
    stack,
    limiterRedis,
    sessionRedis,
    sessionManagerUrl: `http://127.0.0.1:${smPort}`,
    async stop() {
      await stack.stop();
      await Promise.all([limiterRedis.stop(), sessionRedis.stop()]);
    },
  };
}

export async function newKey(stack: RunningStack, plan: string) {
  const created = await stack.keys('create', '--plan', plan);
  return { key: created.key as string, keyId: created.keyId as string };
}

/** A request through the gateway; the body is sent as JSON. */
export async function gateway(
  stack: RunningStack,
  path: string,
  init: { key: string; method?: string; body?: unknown },
): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${stack.url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      authorization: `Bearer ${init.key}`,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, ms: performance.now() - started };
}

/** Redis keys matching `pattern`, by SCAN (never KEYS) through redis-cli. */
export async function scanKeys(redis: RedisServer, pattern: string): Promise<string[]> {
  const out = await redis.cli('--scan', '--pattern', pattern);
  return out === '' ? [] : out.split('\n');
}

/** One field of INFO, as a number. */
export async function info(redis: RedisServer, field: string): Promise<number> {
  const text = await redis.cli('INFO', 'all');
  const value = new RegExp(`^${field}:(\\S+)`, 'm').exec(text)?.[1];
  if (value === undefined) throw new Error(`INFO has no ${field}`);
  return Number(value);
}
