import { describe, expect, it } from 'vitest';
import { clientAddress, failureIdentity } from '#authorizer/client-address';
import { readCredential } from '#authorizer/credentials';

describe('readCredential', () => {
  it('takes the token of "Bearer <token>" whatever the case of the scheme', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect(readCredential(`${scheme} abc`)).toEqual({ kind: 'token', token: 'abc' });
    }
  });

  it('ignores whitespace around the whole value, as HTTP parsers do', () => {
    expect(readCredential(' \tBearer abc \t')).toEqual({ kind: 'token', token: 'abc' });
  });

  it('treats no header, an empty one and a bare "Bearer" as no credential', () => {
    for (const value of [undefined, [], '', '   ', 'Bearer', ' bearer ', ['Bearer']]) {
      expect(readCredential(value)).toEqual({ kind: 'missing' });
    }
  });

  it('refuses two Authorization headers even when both are well formed', () => {
    expect(readCredential(['Bearer a', 'Bearer a'])).toEqual({
      kind: 'malformed',
      reason: 'multiple-headers',
    });
  });

  it('accepts a single-element header list like a plain value', () => {
    expect(readCredential(['Bearer abc'])).toEqual({ kind: 'token', token: 'abc' });
  });

  it('refuses other schemes, inner whitespace and oversized values', () => {
    expect(readCredential('Basic YTpi')).toMatchObject({ reason: 'scheme' });
    expect(readCredential('Token abc')).toMatchObject({ reason: 'scheme' });
    expect(readCredential('Bearer\tabc')).toMatchObject({ reason: 'scheme' });
    expect(readCredential('Bearer  abc')).toMatchObject({ reason: 'whitespace' });
    expect(readCredential('Bearer abc def')).toMatchObject({ reason: 'whitespace' });
    expect(readCredential(`Bearer ${'a'.repeat(2000)}`)).toMatchObject({ reason: 'too-long' });
  });
});

describe('clientAddress', () => {
  it('takes the last X-Forwarded-For entry, which the ALB appended', () => {
    expect(clientAddress('1.1.1.1, 10.0.0.1,  203.0.113.9 ')).toBe('203.0.113.9');
    expect(clientAddress(['1.1.1.1', '2.2.2.2, 203.0.113.9'])).toBe('203.0.113.9');
    expect(clientAddress('203.0.113.9')).toBe('203.0.113.9');
  });

  it('has no address for an absent or empty header', () => {
    expect(clientAddress(undefined)).toBeUndefined();
    expect(clientAddress('')).toBeUndefined();
    expect(clientAddress('1.1.1.1,')).toBeUndefined();
    expect(clientAddress([])).toBeUndefined();
  });
});

describe('failureIdentity', () => {
  it('keys IPv4 clients by address, IPv4-mapped IPv6 included', () => {
    expect(failureIdentity('203.0.113.9')).toBe('auth:203.0.113.9');
    expect(failureIdentity('::ffff:203.0.113.9')).toBe('auth:203.0.113.9');
  });

  it('groups IPv6 clients by their /64', () => {
    const a = failureIdentity('2001:db8:1:2:aaaa::1');
    expect(a).toBe('auth:2001:db8:1:2::/64');
    expect(failureIdentity('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe(a);
    expect(failureIdentity('2001:db8::1')).toBe('auth:2001:db8:0:0::/64');
    expect(failureIdentity('::1')).toBe('auth:0:0:0:0::/64');
    expect(failureIdentity('fe80::1%eth0')).toBe('auth:fe80:0:0:0::/64');
  });

  it('puts everything that is not an address into one shared bucket', () => {
    for (const value of [undefined, '', 'unknown', 'evil{tag}', '999.1.1.1', 'x'.repeat(500)]) {
      expect(failureIdentity(value)).toBe('auth:unknown');
    }
  });
});
