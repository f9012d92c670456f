/**
 * The gateway core's answer to a session manager that refuses its secret (a rotation happened
 * since the instance read it): re-read, retry once with the same body, and never more than that.
 * The session manager here is the scriptable HTTP stand-in of support.ts, which accepts only the
 * value in `accepted`; the real session manager plays the same through a rotation in
 * test/lambda/gateway-secret-rotation/rotation-under-load.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { GATEWAY_SECRET_HEADER } from '#gateway/upstream';
import { bearer, type Fixture, json, request, startFixture } from './support.ts';

const OLD = 'old-gateway-secret-0123456789';
const NEW = 'new-gateway-secret-0123456789';

describe('gateway after the session manager refuses its secret', () => {
  let f: Fixture;
  let key: string;
  let accepted: string;
  let stored: string;
  let reads: number;
  const readSecret = async () => {
    reads++;
    return stored;
  };
  const retries = () => f.metrics.counts.get('UpstreamSecretRetries') ?? 0;
  const post = (body: string) =>
    request('POST', '/v1/sessions', { ...bearer(key), 'content-type': 'application/json' }, body);

  beforeAll(async () => {
    f = await startFixture({ redisUrl: inject('redisUrl') });
    key = (await f.newKey('pro')).key;
    f.upstream.script = (req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.headers[GATEWAY_SECRET_HEADER] !== accepted) {
        res.statusCode = 401;
        res.end(
          JSON.stringify({
            error: { type: 'authentication_error', code: 'untrusted_caller', message: 'no' },
          }),
        );
        return;
      }
      res.end(JSON.stringify({ ok: true, body: req.body }));
    };
  });
  afterAll(() => f.close());
  beforeEach(() => {
    accepted = NEW;
    stored = NEW;
    reads = 0;
  });

  it('re-reads the secret and sends the same request again with the new value', async () => {
    const gateway = f.instance({ secret: OLD, readSecret });
    const before = f.upstream.seen.length;
    const retried = retries();

    const response = await gateway.handle(post('{"metadata":{"n":"1"}}'));

    expect(response.status).toBe(200);
    expect(json(response.body)).toEqual({ ok: true, body: '{"metadata":{"n":"1"}}' });
    const sent = f.upstream.seen.slice(before);
    expect(sent.map((s) => s.headers[GATEWAY_SECRET_HEADER])).toEqual([OLD, NEW]);
    expect(sent.map((s) => s.body)).toEqual(['{"metadata":{"n":"1"}}', '{"metadata":{"n":"1"}}']);
    expect(reads).toBe(1);
    expect(retries()).toBe(retried + 1);
  });

  it('passes the 401 on without a retry when the re-read value is the same', async () => {
    stored = OLD;
    const gateway = f.instance({ secret: OLD, readSecret });
    const before = f.upstream.seen.length;

    const response = await gateway.handle(post('{}'));

    expect(response.status).toBe(401);
    expect(json(response.body)).toMatchObject({ error: { code: 'untrusted_caller' } });
    expect(f.upstream.seen.length - before).toBe(1);
    expect(reads).toBe(1);
  });

  it('shares one read among requests refused together', async () => {
    const gateway = f.instance({ secret: OLD, readSecret });

    const responses = await Promise.all(
      Array.from({ length: 8 }, () => gateway.handle(post('{}'))),
    );

    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(reads).toBe(1);
  });

  it('reads at most once per interval when the session manager refuses every value', async () => {
    accepted = 'a-value-nobody-has-0123456789';
    stored = OLD;
    const gateway = f.instance({ secret: OLD, readSecret });

    for (let i = 0; i < 5; i++) expect((await gateway.handle(post('{}'))).status).toBe(401);

    expect(reads).toBe(1);
  });

  it('never re-reads an instance given no source to read from', async () => {
    const gateway = f.instance({ secret: OLD });
    expect((await gateway.handle(post('{}'))).status).toBe(401);
    expect(reads).toBe(0);
  });
});
