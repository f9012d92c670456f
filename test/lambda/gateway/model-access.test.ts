/**
 * The gateway forwards a key's models as `x-axon-models` (docs/api.md#forwarding) and nothing a
 * client sends can set or widen it: every client `x-axon-*` header is dropped before the
 * gateway's own are added.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MODELS_HEADER } from '#gateway/upstream';
import { parseConfig } from '#shared/config';
import { bearer, type Fixture, request, startFixture } from './support.ts';

const config = parseConfig({
  plans: {
    limited: { requestsPerMinute: 6000, burst: 1000, models: ['small', 'medium'] },
    open: { requestsPerMinute: 6000, burst: 1000 },
  },
});

describe('x-axon-models through the gateway', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ redisUrl: inject('redisUrl'), config });
  });
  afterAll(() => f.close());

  /** What the session manager receives for one request of `key` with the client's headers. */
  async function forwarded(key: string, headers: Record<string, string | string[]> = {}) {
    const before = f.upstream.seen.length;
    const response = await f.gateway.handle(
      request('GET', '/v1/models', { ...bearer(key), ...headers }),
    );
    expect(response.status).toBe(200);
    return f.upstream.seen[before]?.headers ?? {};
  }

  it('forwards the plan’s list, a key’s own list, and no header for every model', async () => {
    const plan = await f.newKey('limited');
    expect((await forwarded(plan.key))[MODELS_HEADER]).toBe('small,medium');
    const own = await f.newKey('open', ['large']);
    expect((await forwarded(own.key))[MODELS_HEADER]).toBe('large');
    const open = await f.newKey('open');
    expect(await forwarded(open.key)).not.toHaveProperty(MODELS_HEADER);
  });

  it('never lets a client set or widen its list', async () => {
    const limited = await f.newKey('limited');
    const open = await f.newKey('open');
    const spoofs: Record<string, string | string[]>[] = [
      { 'x-axon-models': 'small,medium,large' },
      { 'X-Axon-Models': 'large' },
      { 'x-axon-models': ['large', 'huge'] },
      { 'x-axon-models': '' },
    ];
    for (const spoof of spoofs) {
      expect((await forwarded(limited.key, spoof))[MODELS_HEADER]).toBe('small,medium');
      // A key that may call every model gets no header at all, not the client's.
      expect(await forwarded(open.key, spoof)).not.toHaveProperty(MODELS_HEADER);
    }
  });
});
