/**
 * API key format (docs/api.md#authentication, GitHub's token design): `axon_` + 30 random base62
 * characters (178 bits) + a 6-character base62 CRC32 of everything before it. The prefix makes
 * leaked keys greppable by secret scanners; the checksum lets the authorizer drop typos and
 * random guesses without touching the key store. Admin keys (docs/auth.md#admin-keys) are the
 * same with the prefix `axon_admin_`: base62 has no `_`, so no model key can start with it, and
 * the kind is visible to a scanner and to the failed-auth limiter before any lookup.
 */
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const KEY_PREFIX = 'axon_';
/** Admin keys: manage keys and read usage, never call a model. */
export const ADMIN_KEY_PREFIX = 'axon_admin_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 30 base62 characters carry 30 * log2(62) = 178.6 bits, above the 160 docs/api.md requires. */
export const RANDOM_LENGTH = 30;
export const CHECKSUM_LENGTH = 6;
export const KEY_LENGTH = KEY_PREFIX.length + RANDOM_LENGTH + CHECKSUM_LENGTH;
export const ADMIN_KEY_LENGTH = ADMIN_KEY_PREFIX.length + RANDOM_LENGTH + CHECKSUM_LENGTH;
/** What operators see in listings and logs: `axon_` + 7 characters (41 of the 178 bits). */
export const DISPLAY_PREFIX_LENGTH = 12;
/** The same for an admin key: `axon_admin_` + 7 characters. */
export const ADMIN_DISPLAY_PREFIX_LENGTH = ADMIN_KEY_PREFIX.length + 7;

const KEY_SHAPE = /^axon_[0-9A-Za-z]{36}$/;
const ADMIN_KEY_SHAPE = /^axon_admin_[0-9A-Za-z]{36}$/;
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

export type KeyKind = 'model' | 'admin';

/** A new API key (or admin key). Shown to its owner once; only its SHA-256 is ever stored. */
export function generateKey(kind: KeyKind = 'model'): string {
  const body = (kind === 'admin' ? ADMIN_KEY_PREFIX : KEY_PREFIX) + randomBase62(RANDOM_LENGTH);
  return body + checksum(body);
}

/** What a token claims to be, from its prefix alone (before any check of its shape). */
export function claimedKind(token: string): KeyKind {
  return token.startsWith(ADMIN_KEY_PREFIX) ? 'admin' : 'model';
}

export type KeyShapeProblem = 'prefix' | 'length' | 'characters' | 'checksum';

/**
 * Why a token cannot be an Axon key, or `undefined` when its shape and checksum are right.
 * Cheap enough to run on every request before any cache or key-store lookup.
 */
export function keyShapeProblem(token: string): KeyShapeProblem | undefined {
  if (!token.startsWith(KEY_PREFIX)) return 'prefix';
  const admin = claimedKind(token) === 'admin';
  const length = admin ? ADMIN_KEY_LENGTH : KEY_LENGTH;
  if (token.length !== length) return 'length';
  if (!(admin ? ADMIN_KEY_SHAPE : KEY_SHAPE).test(token)) return 'characters';
  const split = length - CHECKSUM_LENGTH;
  if (checksum(token.slice(0, split)) !== token.slice(split)) return 'checksum';
  return undefined;
}

/** The key store's partition key: lowercase hex SHA-256 of the full key. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The short, non-secret part of a key that listings and logs may show. */
export function displayPrefix(key: string): string {
  return key.slice(
    0,
    claimedKind(key) === 'admin' ? ADMIN_DISPLAY_PREFIX_LENGTH : DISPLAY_PREFIX_LENGTH,
  );
}

/** Public key id: `key_` + 16 base62 characters (95 bits, so collisions are not a concern). */
export function newKeyId(): string {
  return `key_${randomBase62(16)}`;
}

export const KEY_ID_SHAPE = /^key_[0-9A-Za-z]{16}$/;
