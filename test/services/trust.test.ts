/**
 * Who may call: the principal headers count only next to the gateway's shared secret. And what
 * every response carries: x-request-id. Probes and metrics need no principal.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { GatewaySecret } from '../../services/session-manager/src/core/gateway-secret.ts';
import {
  call,
  envelope,
  freshKeyId,
  GATEWAY_SECRET,
  principal,
  type Stack,
  startStack,
} from './support.ts';

describe('trust and request ids', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl') });
  });
  afterAll(() => stack.close());

  const refused: [string, Record<string, string>, string][] = [
    ['no secret', { 'x-axon-key-id': 'key_a', 'x-axon-plan': 'free' }, 'untrusted_caller'],
    [
      'a wrong secret',
      { ...principal('key_a'), 'x-axon-gateway-secret': 'not-the-secret-at-all' },
      'untrusted_caller',
    ],
    [
      'a secret that is a prefix',
      { ...principal('key_a'), 'x-axon-gateway-secret': GATEWAY_SECRET.slice(0, -1) },
      'untrusted_caller',
    ],
    ['no key id', { 'x-axon-gateway-secret': GATEWAY_SECRET }, 'missing_principal'],
    [
      'a key id with Redis-unsafe characters',
      { ...principal('key_a'), 'x-axon-key-id': 'a}b{c' },
      'missing_principal',
    ],
  ];

  it.each(refused)('answers 401 to a request with %s', async (_name, headers, code) => {
    for (const path of ['/v1/models', '/v1/sessions']) {
      const res = await call(`${stack.url}${path}`, { headers });
      expect(res.status).toBe(401);
      expect(envelope(res.body)).toMatchObject({ type: 'authentication_error', code });
    }
  });

  it('serves probes and metrics without a principal', async () => {
    expect(await call(`${stack.url}/healthz`)).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(await call(`${stack.url}/readyz`)).toMatchObject({
      status: 200,
      body: { status: 'ready' },
    });
    await call(`${stack.url}/v1/models`, { headers: principal(freshKeyId()) });
    const metrics = await fetch(`${stack.url}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('axon_sm_http_request_duration_seconds_bucket');
    expect(text).toContain('route="/v1/models"');
    expect(text).toContain('axon_sm_errors_total{code="untrusted_caller",status="401"}');
  });

  it('records inference latency by model', async () => {
    await call(`${stack.url}/v1/chat/completions`, {
      headers: principal(freshKeyId()),
      body: { model: 'stub-echo-chatml', messages: [{ role: 'user', content: 'x' }] },
    });
    const text = await (await fetch(`${stack.url}/metrics`)).text();
    expect(text).toMatch(
      /axon_sm_inference_duration_seconds_count\{model="stub-echo-chatml",stream="false",outcome="ok"\} [1-9]/,
    );
  });

  it('echoes a sane x-request-id and replaces an insane one', async () => {
    const sane = await call(`${stack.url}/healthz`, { headers: { 'x-request-id': 'req-123.abc' } });
    expect(sane.headers.get('x-request-id')).toBe('req-123.abc');
    const insane = await call(`${stack.url}/v1/models`, {
      headers: { 'x-request-id': 'a b<script>' },
    });
    expect(insane.status).toBe(401);
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await call(`${stack.url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(envelope(missing.body).type).toBe('not_found_error');
  });
});

describe('gateway secret', () => {
  it('refuses to start with a secret shorter than 16 characters', async () => {
    await expect(new GatewaySecret(async () => 'short').load()).rejects.toThrow(/at least 16/);
  });

  it('picks up a rotated secret on a mismatch, at most once per refresh interval', async () => {
    let value = 'first-secret-0123456789';
    let reads = 0;
    let now = 0;
    const secret = new GatewaySecret(
      async () => {
        reads++;
        return value;
      },
      { minRefreshMs: 30_000, now: () => now },
    );
    await secret.load();
    expect(await secret.verify('first-secret-0123456789')).toBe(true);
    value = 'second-secret-0123456789';
    expect(await secret.verify('second-secret-0123456789')).toBe(false); // too soon to re-read
    expect(reads).toBe(1);
    now = 31_000;
    expect(await secret.verify('second-secret-0123456789')).toBe(true);
    expect(await secret.verify('first-secret-0123456789')).toBe(false);
    expect(reads).toBe(2);
  });

  it('accepts the current and the previous value, and drops the previous one after the next rotation', async () => {
    const values = { current: 'second-secret-0123456789', previous: 'first-secret-0123456789' };
    let now = 0;
    const secret = new GatewaySecret(async () => values.current, {
      previous: async () => values.previous,
      minRefreshMs: 30_000,
      now: () => now,
    });
    await secret.load();
    expect(await secret.verify('second-secret-0123456789')).toBe(true);
    expect(await secret.verify('first-secret-0123456789')).toBe(true);
    expect(await secret.verify('not-the-secret-0123456789')).toBe(false);

    values.previous = values.current;
    values.current = 'third-secret-0123456789';
    now = 31_000;
    expect(await secret.verify('third-secret-0123456789')).toBe(true);
    expect(await secret.verify('second-secret-0123456789')).toBe(true);
    expect(await secret.verify('first-secret-0123456789')).toBe(false);
  });

  it('accepts only the current value while the secret has no previous version', async () => {
    const secret = new GatewaySecret(async () => 'only-secret-0123456789', {
      previous: async () => {
        throw new Error('ResourceNotFoundException: no AWSPREVIOUS');
      },
    });
    await secret.load();
    expect(await secret.verify('only-secret-0123456789')).toBe(true);
    expect(await secret.verify('first-secret-0123456789')).toBe(false);
  });
});
