/**
 * Abuse, issue 11 finding 1: one long unbroken message must not freeze the session manager.
 * Through `npm start`: messages of one repeated character, up to just under the gateway's 1 MB
 * body cap, are answered with a 4xx within 1 s, while the session manager's event-loop delay
 * (`monitorEventLoopDelay` in its own process) stays under 100 ms: a blocked event loop would
 * hold the liveness probe and every other request until counting finished. Before the fix
 * 200 K characters took tens of seconds of one event-loop turn.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AbuseStack,
  gateway,
  newKey,
  STUB_MODEL,
  startAbuseStack,
} from './session-support.ts';

/** Generous bounds (ten times and more what the bounded counter takes on a loaded machine). */
const ANSWER_WITHIN_MS = 1_000;
const EVENT_LOOP_DELAY_UNDER_MS = 100;

/**
 * Runs `work` and returns its result with the longest event-loop delay the session manager's
 * process saw meanwhile: `monitorEventLoopDelay` inside that process, as its `/metrics` reports
 * it (prom-client reads the histogram's max and resets it at every scrape, so a scrape before
 * the work starts the window and one after reads it).
 */
async function measuringEventLoop<T>(metricsUrl: string, work: () => Promise<T>) {
  const lagMaxMs = async () => {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(60_000) })).text();
    const seconds = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1];
    if (seconds === undefined) throw new Error('no nodejs_eventloop_lag_max_seconds in /metrics');
    return Number(seconds) * 1000;
  };
  await lagMaxMs();
  const result = await work();
  return { result, delayMs: await lagMaxMs() };
}

describe('abuse: one long unbroken message', () => {
  let abuse: AbuseStack;
  let key: string;

  beforeAll(async () => {
    abuse = await startAbuseStack({ roomy: { requestsPerMinute: 6000, burst: 500 } });
    ({ key } = await newKey(abuse.stack, 'roomy'));
    // The first requests of a fresh process compile the code paths they run (JIT, lazy module
    // init), a one-off cost that has nothing to do with the input's size. Two smaller requests
    // on the same paths (counted and refused, counted and answered) pay it before anything is
    // measured, so the bounds below judge the work a request costs, not a cold process.
    for (const content of ['z'.repeat(50_000), 'The quick brown fox. '.repeat(100)]) {
      const warm = await gateway(abuse.stack, '/v1/chat/completions', {
        key,
        body: { model: STUB_MODEL, max_tokens: 16, messages: [{ role: 'user', content }] },
      });
      expect(warm.status).toBeLessThan(500);
    }
  }, 120_000);
  afterAll(() => abuse?.stop());

  const metrics = () => `${abuse.sessionManagerUrl}/metrics`;

  /** Random lowercase letters: one unbroken word that no BPE cache has seen. */
  const randomWord = (length: number) =>
    Array.from({ length }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');

  it.each([
    ['200 K characters of one letter', () => 'a'.repeat(200_000)],
    ['one letter up to just under the 1 MB body cap', () => 'a'.repeat(1024 * 1024 - 1024)],
    ['a 200 K-character word of random letters', () => randomWord(200_000)],
  ])(
    'answers a chat message of %s with a 4xx within 1 s, the event loop free',
    async (_label, make) => {
      const content = make();
      const { result, delayMs } = await measuringEventLoop(metrics(), () =>
        gateway(abuse.stack, '/v1/chat/completions', {
          key,
          body: { model: STUB_MODEL, messages: [{ role: 'user', content }] },
        }),
      );
      expect(result.status).toBeGreaterThanOrEqual(400);
      expect(result.status).toBeLessThan(500);
      expect(result.body).toMatchObject({ error: { type: 'invalid_request_error' } });
      expect(result.ms).toBeLessThan(ANSWER_WITHIN_MS);
      expect(delayMs).toBeLessThan(EVENT_LOOP_DELAY_UNDER_MS);
    },
  );

  it('answers a session turn of 200 K characters of one letter with a 4xx within 1 s, the event loop free', async () => {
    const created = await gateway(abuse.stack, '/v1/sessions', {
      key,
      body: { model: STUB_MODEL },
    });
    expect(created.status).toBe(201);
    const { id } = created.body as { id: string };
    const { result, delayMs } = await measuringEventLoop(metrics(), () =>
      gateway(abuse.stack, `/v1/sessions/${id}/messages`, {
        key,
        body: { content: 'b'.repeat(200_000) },
      }),
    );
    expect(result.status).toBeGreaterThanOrEqual(400);
    expect(result.status).toBeLessThan(500);
    expect(result.ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(delayMs).toBeLessThan(EVENT_LOOP_DELAY_UNDER_MS);
  });

  it('still answers a long message that fits the window, its count bounded by the window', async () => {
    // 20 K characters of prose (~4 K tokens) fit an 8 K window: a 200, not a refusal.
    const prose = 'The quick brown fox jumps over the lazy dog. '.repeat(450);
    const { result, delayMs } = await measuringEventLoop(metrics(), () =>
      gateway(abuse.stack, '/v1/chat/completions', {
        key,
        body: { model: STUB_MODEL, max_tokens: 16, messages: [{ role: 'user', content: prose }] },
      }),
    );
    expect(result.status).toBe(200);
    expect(delayMs).toBeLessThan(EVENT_LOOP_DELAY_UNDER_MS);
  });
});
