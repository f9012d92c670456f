/**
 * API key format (docs/api.md#authentication, GitHub's token design): `axon_` + 30 random base62
 * characters (178 bits) + a 6-character base62 CRC32 of everything before it. The prefix makes
 * leaked keys greppable by secret scanners; the checksum lets the authorizer drop typos and
 * random guesses without touching the key store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const KEY_PREFIX = 'axon_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 30 base62 characters carry 30 * log2(62) = 178.6 bits, above the 160 docs/api.md requires. */
export const RANDOM_LENGTH = 30;
export const CHECKSUM_LENGTH = 6;
export const KEY_LENGTH = KEY_PREFIX.length + RANDOM_LENGTH + CHECKSUM_LENGTH;
/** What operators see in listings and logs: `axon_` + 7 characters (41 of the 178 bits). */
export const DISPLAY_PREFIX_LENGTH = 12;

const KEY_SHAPE = /^axon_[0-9A-Za-z]{36}$/;
/** Largest multiple of 62 below 256: bytes at or above it are dropped to avoid modulo bias. */
const UNBIASED_LIMIT = 248;

/** `length` base62 characters from `crypto.randomBytes`, uniformly distributed. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length + 8)) {
      if (byte < UNBIASED_LIMIT) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** The CRC32 of `text` as exactly 6 base62 characters (62^6 > 2^32, so it always fits). */
export function checksum(text: string): string {
  let value = crc32(text);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** A new API key. Shown to its owner once; only its SHA-256 is ever stored. */
export function generateKey(): string {
  const body = KEY_PREFIX + randomBase62(RANDOM_LENGTH);
  return body + checksum(body);
}

export type KeyShapeProblem = 'prefix' | 'length' | 'characters' | 'checksum';

/**
 * Why a token cannot be an Axon key, or `undefined` when its shape and checksum are right.
 * Cheap enough to run on every request before any cache or key-store lookup.
 */
export function keyShapeProblem(token: string): KeyShapeProblem | undefined {
  if (!token.startsWith(KEY_PREFIX)) return 'prefix';
  if (token.length !== KEY_LENGTH) return 'length';
  if (!KEY_SHAPE.test(token)) return 'characters';
  const split = KEY_LENGTH - CHECKSUM_LENGTH;
  if (checksum(token.slice(0, split)) !== token.slice(split)) return 'checksum';
  return undefined;
}

/** The key store's partition key: lowercase hex SHA-256 of the full key. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The short, non-secret part of a key that listings and logs may show. */
export function displayPrefix(key: string): string {
  return key.slice(0, DISPLAY_PREFIX_LENGTH);
}

/** Public key id: `key_` + 16 base62 characters (95 bits, so collisions are not a concern). */
export function newKeyId(): string {
  return `key_${randomBase62(16)}`;
}

export const KEY_ID_SHAPE = /^key_[0-9A-Za-z]{16}$/;
