import { describe, expect, it } from 'vitest';
import {
  checksum,
  displayPrefix,
  generateKey,
  hashKey,
  KEY_ID_SHAPE,
  KEY_LENGTH,
  keyShapeProblem,
  newKeyId,
} from '#authorizer/key-format';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('key format', () => {
  it('generates axon_ + 30 random base62 characters + a 6-character checksum', () => {
    const key = generateKey();
    expect(key).toMatch(/^axon_[0-9A-Za-z]{36}$/);
    expect(key).toHaveLength(KEY_LENGTH);
    expect(key.slice(-6)).toBe(checksum(key.slice(0, -6)));
    expect(keyShapeProblem(key)).toBeUndefined();
  });

  it('encodes CRC32 as 6 base62 characters (check value of "123456789" is 0xCBF43926)', () => {
    // 0xCBF43926 = 3421780262 = 3*62^5 + 45*62^4 + 35*62^3 + 27*62^2 + 22*62 + 14 (3 j Z R M E)
    expect(checksum('123456789')).toBe('3jZRME');
    expect(3 * 62 ** 5 + 45 * 62 ** 4 + 35 * 62 ** 3 + 27 * 62 ** 2 + 22 * 62 + 14).toBe(
      0xcbf43926,
    );
  });

  it('draws every base62 character and never repeats a key', () => {
    const keys = Array.from({ length: 400 }, generateKey);
    expect(new Set(keys).size).toBe(keys.length);
    const seen = new Set(keys.flatMap((key) => [...key.slice(5, 35)]));
    expect([...BASE62].filter((c) => !seen.has(c))).toEqual([]);
  });

  it('rejects every single-character change of a key by its checksum', () => {
    const key = generateKey();
    for (let i = 5; i < key.length; i++) {
      for (const replacement of ['0', 'z', 'Q']) {
        if (key[i] === replacement) continue;
        const changed = key.slice(0, i) + replacement + key.slice(i + 1);
        expect(keyShapeProblem(changed), `position ${i}`).toBe('checksum');
      }
    }
  });

  it('names the shape problem of a token that is not a key', () => {
    const key = generateKey();
    expect(keyShapeProblem('sk-abc')).toBe('prefix');
    expect(keyShapeProblem(`AXON_${key.slice(5)}`)).toBe('prefix');
    expect(keyShapeProblem(key.slice(0, -1))).toBe('length');
    expect(keyShapeProblem(`${key}0`)).toBe('length');
    expect(keyShapeProblem(`${key.slice(0, 10)}-${key.slice(11)}`)).toBe('characters');
    expect(keyShapeProblem(`${key.slice(0, 10)}é${key.slice(11)}`)).toBe('characters');
  });

  it('hashes with SHA-256 as lowercase hex', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('shows axon_ and 7 characters as the display prefix', () => {
    const key = generateKey();
    expect(displayPrefix(key)).toBe(key.slice(0, 12));
  });

  it('makes public key ids of the documented shape', () => {
    const ids = Array.from({ length: 50 }, newKeyId);
    for (const id of ids) expect(id).toMatch(KEY_ID_SHAPE);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
