/**
 * Every malformed Authorization value is 401 (or 429 once the address has spent its failures),
 * never another error, never a key-store read. The table uses a REAL active key as material,
 * so what rejects each value is its malformation, not an unknown key.
 */

import { AxonError } from '@axon/runtime/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '#authorizer/admin';
import { Authorizer } from '#authorizer/authorizer';
import { generateKey } from '#authorizer/key-format';
import { KeyStore } from '#authorizer/key-store';
import { PrincipalCache } from '#authorizer/principal-cache';
import { parseConfig } from '#shared/config';
import { MemoryStore } from '#token-bucket/memory-store';
import {
  CountingKeys,
  createTestTable,
  type Dynalite,
  LogCapture,
  startDynalite,
} from './support.ts';

type Header = string | string[] | undefined;

let db: Dynalite;
const logs = new LogCapture();
let valid: string;
let other: string;
let cases: [name: string, value: Header, code: 'missing_api_key' | 'invalid_api_key'][];
let tableName: string;
let store: KeyStore;

beforeAll(async () => {
  logs.start();
  db = await startDynalite();
  const table = await createTestTable(db.endpoint);
  tableName = table.tableName;
  store = new KeyStore(table.client, tableName);
  const config = parseConfig({ plans: { free: { requestsPerMinute: 60, burst: 10 } } });
  valid = (await createKey(table.client, tableName, { config, plan: 'free' })).key;
  other = (await createKey(table.client, tableName, { config, plan: 'free' })).key;
  const body = valid.slice(0, -6);
  const lastFlipped = valid.slice(0, -1) + (valid.endsWith('0') ? '1' : '0');
  const missing = 'missing_api_key' as const;
  const invalid = 'invalid_api_key' as const;
  cases = [
    ['no header', undefined, missing],
    ['empty', '', missing],
    ['one space', ' ', missing],
    ['one tab', '\t', missing],
    ['scheme only', 'Bearer', missing],
    ['scheme and space', 'Bearer ', missing],
    ['lowercase scheme only', 'bearer', missing],
    ['empty header list', [], missing],
    ['Basic credentials', 'Basic dXNlcjpwYXNz', invalid],
    ['Basic scheme with a real key', `Basic ${valid}`, invalid],
    ['Token scheme with a real key', `Token ${valid}`, invalid],
    ['Digest scheme', 'Digest username="x", realm="axon"', invalid],
    ['a real key without scheme', valid, invalid],
    ['two spaces after the scheme', `Bearer  ${valid}`, invalid],
    ['trailing word', `Bearer ${valid} extra`, invalid],
    ['space inside the key', `Bearer ${valid.slice(0, 20)} ${valid.slice(20)}`, invalid],
    ['tab as separator', `Bearer\t${valid}`, invalid],
    ['newline as separator', `Bearer\n${valid}`, invalid],
    ['lowercase scheme, wrong checksum', `bearer ${lastFlipped}`, invalid],
    ['uppercase scheme, truncated key', `BEARER ${valid.slice(0, 30)}`, invalid],
    ['mixed-case scheme, prefix only', 'BeArEr axon_', invalid],
    ['10 KB of letters', `Bearer ${'a'.repeat(10_240)}`, invalid],
    ['10 KB behind the right prefix', `Bearer axon_${'A'.repeat(10_240)}`, invalid],
    ['10 KB without scheme', 'x'.repeat(10_240), invalid],
    ['two identical headers', [`Bearer ${valid}`, `Bearer ${valid}`], invalid],
    ['two headers, two real keys', [`Bearer ${valid}`, `Bearer ${other}`], invalid],
    ['an empty and a real header', ['', `Bearer ${valid}`], invalid],
    ['comma-joined headers (HTTP API 2.0)', `Bearer ${valid},Bearer ${valid}`, invalid],
    ['non-ASCII letter in the key', `Bearer ${valid.slice(0, 10)}é${valid.slice(11)}`, invalid],
    ['CJK after the prefix', `Bearer axon_${'密'.repeat(36)}`, invalid],
    ['right-to-left override before the key', `Bearer \u202e${valid}`, invalid],
    ['zero-width space after the key', `Bearer ${valid}\u200b`, invalid],
    ['NUL after the key', `Bearer ${valid}\u0000`, invalid],
    ['NUL inside the key', `Bearer ${valid.slice(0, 20)}\u0000${valid.slice(21)}`, invalid],
    ['NUL alone', '\u0000', invalid],
    ['right prefix, wrong checksum', `Bearer ${lastFlipped}`, invalid],
    ["another key's checksum", `Bearer ${body}${other.slice(-6)}`, invalid],
    ['checksum missing', `Bearer ${body}`, invalid],
    ['truncated by one character', `Bearer ${valid.slice(0, -1)}`, invalid],
    ['display prefix only', `Bearer ${valid.slice(0, 12)}`, invalid],
    ['one character too long', `Bearer ${valid}0`, invalid],
    ['uppercase prefix', `Bearer AXON_${valid.slice(5)}`, invalid],
    ['dash instead of underscore', `Bearer axon-${valid.slice(5)}`, invalid],
    ['quoted key', `Bearer "${valid}"`, invalid],
    ['base64 of the key', `Bearer ${Buffer.from(valid).toString('base64')}`, invalid],
    ['URL-encoded key with a space', `Bearer ${encodeURIComponent(` ${valid}`)}`, invalid],
    ['OpenAI-style key', `Bearer sk-proj-${'x'.repeat(48)}`, invalid],
    ['the word undefined', 'Bearer undefined', invalid],
    ['the word null', 'Bearer null', invalid],
    ['JSON instead of a token', `Bearer {"key":"${valid}"}`, invalid],
  ];
});

afterAll(async () => {
  logs.stop();
  await db.stop();
});

function authorizerWith(failuresPerMinutePerAddress: number) {
  const config = parseConfig({
    plans: { free: { requestsPerMinute: 60, burst: 10 } },
    auth: { cacheTtlSeconds: 30, failuresPerMinutePerAddress },
  });
  const keys = new CountingKeys(store);
  const cache = new PrincipalCache({ ttlSeconds: 30 });
  const failures = new MemoryStore();
  const authorizer = new Authorizer({ keys, cache, failures, config, log: logs.logger });
  return { authorizer, keys };
}

async function outcome(authorizer: Authorizer, authorization: Header, address: string) {
  try {
    await authorizer.authenticate({ authorization, forwardedFor: address });
    return { authenticated: true } as const;
  } catch (err) {
    if (!(err instanceof AxonError)) return { threw: err } as const;
    return { status: err.status, code: err.code, headers: err.headers, body: err.toBody() };
  }
}

describe('malformed Authorization values', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it('answers each with 401 and the right code and WWW-Authenticate, without a key-store read', async () => {
    const { authorizer, keys } = authorizerWith(1000);
    for (const [name, value, code] of cases) {
      const result = await outcome(authorizer, value, '203.0.113.10');
      const challenge =
        code === 'missing_api_key'
          ? 'Bearer realm="axon"'
          : 'Bearer realm="axon", error="invalid_token"';
      expect(result, name).toEqual({
        status: 401,
        code,
        headers: { 'www-authenticate': challenge },
        body: { error: { type: 'authentication_error', code, message: expect.any(String) } },
      });
    }
    expect(keys.calls).toBe(0);
    // Control: the key the table is made from does authenticate.
    await expect(
      authorizer.authenticate({ authorization: `Bearer ${valid}` }),
    ).resolves.toBeDefined();
  });

  it('switches to 429 too_many_auth_failures once the address spent its failures', async () => {
    const { authorizer } = authorizerWith(10);
    const results = [];
    for (const [name, value, code] of cases) {
      results.push({ name, code, result: await outcome(authorizer, value, '203.0.113.11') });
    }
    const tokenCases = results.filter((r) => r.code === 'invalid_api_key');
    expect(tokenCases.slice(0, 10).map((r) => r.result.status)).toEqual(Array(10).fill(401));
    for (const { name, result } of tokenCases.slice(10)) {
      expect(result, name).toMatchObject({ status: 429, code: 'too_many_auth_failures' });
      expect(
        Number((result as { headers: Record<string, string> }).headers['retry-after']),
      ).toBeGreaterThanOrEqual(1);
    }
    // No credential at all is not a guess: it is never charged or refused with 429.
    for (const { name, result } of results.filter((r) => r.code === 'missing_api_key')) {
      expect(result, name).toMatchObject({ status: 401, code: 'missing_api_key' });
    }
  });

  it('treats random well-formed keys as unknown (401), and a real key alongside them as valid', async () => {
    const { authorizer, keys } = authorizerWith(1000);
    for (let i = 0; i < 5; i++) {
      expect(await outcome(authorizer, `Bearer ${generateKey()}`, '203.0.113.12')).toMatchObject({
        status: 401,
      });
    }
    expect(keys.calls).toBe(5);
    expect(await outcome(authorizer, `bearer ${valid}`, '203.0.113.12')).toEqual({
      authenticated: true,
    });
  });
});
