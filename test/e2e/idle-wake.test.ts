/**
 * Dev at idle through `npm start`: the Triton stand-in is asleep until a model is asked for,
 * the idle scaler (a labelled stand-in for KEDA and Karpenter) starts it on the session
 * manager's demand counter after a cold start, and stops it after the idle period. The waking
 * request either waits within the bound and gets its answer, or gets 503 `model_starting` with
 * Retry-After in the OpenAI envelope: never a 500, never a hang.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poll } from '../support/poll.ts';
import { RedisServer } from '../support/redis.ts';
import { type RunningStack, startStack } from './local-stack.ts';

const MODEL = 'stub-echo-chatml';
const config = {
  plans: { roomy: { requestsPerMinute: 6000, burst: 500 } },
  rateLimiter: { failureMode: 'closed', redisTimeoutMs: 500 },
  auth: { cacheTtlSeconds: 1, failuresPerMinutePerAddress: 1000 },
};
const STARTED = /DEV\/TEST STAND-IN for Triton/g;
const STOPPED = /idle, Triton stand-in stops/g;
const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0;
const ask = (client: OpenAI) =>
  client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });

describe('dev at idle, through npm start', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  describe('a cold start shorter than the wait', () => {
    let stack: RunningStack;
    let client: OpenAI;
    beforeAll(async () => {
      stack = await startStack(config, {
        REDIS_URL: redis.url,
        AXON_STUB_IDLE_MS: '1500',
        AXON_STUB_COLD_START_MS: '1000',
        AXON_WAKE_WAIT_MS: '15000',
      });
      const { key } = (await stack.keys('create', '--plan', 'roomy')) as { key: string };
      client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: key, maxRetries: 0 });
    });
    afterAll(async () => {
      await stack?.dispose();
    });

    it('answers the request that wakes Triton, sleeps once idle, and wakes again', async () => {
      expect(count(stack.output(), STARTED)).toBe(0);
      // Listed from the stage's models while Triton sleeps.
      expect((await client.models.list()).data.map((m) => m.id)).toContain(MODEL);

      const started = Date.now();
      const first = await ask(client);
      expect(first.choices[0]?.message.content).toBe('[stub] You said: hi');
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(count(stack.output(), STARTED)).toBe(1);

      await poll(
        async () => count(stack.output(), STOPPED),
        (n) => n === 1,
        20_000,
      );
      const again = await ask(client);
      expect(again.choices[0]?.message.content).toBe('[stub] You said: hi');
      expect(count(stack.output(), STARTED)).toBe(2);
    });
  });

  describe('a cold start longer than the wait', () => {
    let stack: RunningStack;
    let client: OpenAI;
    beforeAll(async () => {
      stack = await startStack(config, {
        REDIS_URL: redis.url,
        AXON_STUB_IDLE_MS: '60000',
        AXON_STUB_COLD_START_MS: '2000',
        AXON_WAKE_WAIT_MS: '300',
      });
      const { key } = (await stack.keys('create', '--plan', 'roomy')) as { key: string };
      client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: key, maxRetries: 0 });
    });
    afterAll(async () => {
      await stack?.dispose();
    });

    it('answers 503 model_starting with Retry-After, then the model once it is up', async () => {
      const started = Date.now();
      const error = await ask(client).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      const failure = error as InstanceType<typeof OpenAI.InternalServerError>;
      expect(failure.status).toBe(503);
      expect(failure.headers?.get('retry-after')).toBe('30');
      expect(failure.error).toMatchObject({ type: 'api_error', code: 'model_starting' });
      // 300 ms of waiting; ten times that and more only if the wait were unbounded.
      expect(Date.now() - started).toBeLessThan(10_000);

      await poll(
        async () => count(stack.output(), STARTED),
        (n) => n === 1,
        20_000,
      );
      const answer = await ask(client);
      expect(answer.choices[0]?.message.content).toBe('[stub] You said: hi');
    });
  });
});
