/**
 * Abuse, issue 11 finding 1: one long unbroken message must not freeze the session manager.
 * Through `npm start`: messages of one repeated character, up to just under the gateway's 1 MB
 * body cap, are answered with a 4xx within 1 s, while a probe loop on the session manager's own
 * `/healthz` (the liveness probe Kubernetes would run) never waits more than 100 ms: a blocked
 * event loop would hold every probe until counting finished. Before the fix 200 K characters
 * took tens of seconds of one event-loop turn.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AbuseStack, gateway, newKey, startAbuseStack } from './session-support.ts';

const MODEL = 'stub-echo-chatml';
/** Generous bounds (ten times and more what the bounded counter takes on a loaded machine). */
const ANSWER_WITHIN_MS = 1_000;
const PROBE_WAIT_UNDER_MS = 100;

/**
 * Runs `work` while probing `url` back to back; returns its result and the longest probe wait.
 * The probes go from this process, which `work` does not block: only the server's delay shows.
 */
async function whileProbing<T>(url: string, work: () => Promise<T>) {
  let running = true;
  let longest = 0;
  let probes = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
      await res.text();
      longest = Math.max(longest, performance.now() - started);
      probes++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    return { result: await work(), longest: () => longest, probes: () => probes };
  } finally {
    running = false;
    await loop;
  }
}

describe('abuse: one long unbroken message', () => {
  let abuse: AbuseStack;
  let key: string;

  beforeAll(async () => {
    abuse = await startAbuseStack({
      plans: { roomy: { requestsPerMinute: 6000, burst: 500 } },
      rateLimiter: { failureMode: 'open', redisTimeoutMs: 100 },
    });
    ({ key } = await newKey(abuse.stack, 'roomy'));
  }, 120_000);
  afterAll(() => abuse?.stop());

  const healthz = () => `${abuse.sessionManagerUrl}/healthz`;

  it.each([
    ['200 K', 200_000],
    ['just under the 1 MB body cap', 1024 * 1024 - 1024],
  ])(
    'answers a chat message of %s characters of one letter with a 4xx within 1 s, the event loop free',
    async (_label, length) => {
      const { result, longest, probes } = await whileProbing(healthz(), () =>
        gateway(abuse.stack, '/v1/chat/completions', {
          key,
          body: { model: MODEL, messages: [{ role: 'user', content: 'a'.repeat(length) }] },
        }),
      );
      expect(result.status).toBeGreaterThanOrEqual(400);
      expect(result.status).toBeLessThan(500);
      expect(result.body).toMatchObject({ error: { type: 'invalid_request_error' } });
      expect(result.ms).toBeLessThan(ANSWER_WITHIN_MS);
      expect(probes()).toBeGreaterThan(0);
      expect(longest()).toBeLessThan(PROBE_WAIT_UNDER_MS);
    },
  );

  it('answers a session turn of 200 K characters of one letter with a 4xx within 1 s, the event loop free', async () => {
    const created = await gateway(abuse.stack, '/v1/sessions', { key, body: { model: MODEL } });
    expect(created.status).toBe(201);
    const { id } = created.body as { id: string };
    const { result, longest } = await whileProbing(healthz(), () =>
      gateway(abuse.stack, `/v1/sessions/${id}/messages`, {
        key,
        body: { content: 'b'.repeat(200_000) },
      }),
    );
    expect(result.status).toBeGreaterThanOrEqual(400);
    expect(result.status).toBeLessThan(500);
    expect(result.ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(longest()).toBeLessThan(PROBE_WAIT_UNDER_MS);
  });

  it('still answers a long message that fits the window, its count bounded by the window', async () => {
    // 20 K characters of prose (~4 K tokens) fit an 8 K window: a 200, not a refusal.
    const prose = 'The quick brown fox jumps over the lazy dog. '.repeat(450);
    const { result, longest } = await whileProbing(healthz(), () =>
      gateway(abuse.stack, '/v1/chat/completions', {
        key,
        body: { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: prose }] },
      }),
    );
    expect(result.status).toBe(200);
    expect(longest()).toBeLessThan(PROBE_WAIT_UNDER_MS);
  });
});
