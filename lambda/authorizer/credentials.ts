/**
 * Reads the API key from the `Authorization` header only (docs/api.md#authentication: keys
 * in the query string or other headers are ignored). Strict on purpose: exactly one header,
 * scheme `Bearer` in any case, one space, one token. Anything looser would let two parsers
 * (ours and a proxy's) disagree about which credential a request carries.
 */

/** Longer values are refused before any parsing work (a key is 41 characters). */
export const MAX_AUTHORIZATION_LENGTH = 1024;

export type MalformedReason = 'multiple-headers' | 'too-long' | 'scheme' | 'whitespace';

export type Credential =
  | { readonly kind: 'missing' }
  | { readonly kind: 'malformed'; readonly reason: MalformedReason }
  | { readonly kind: 'token'; readonly token: string };

const OUTER_WHITESPACE = /^[ \t]+|[ \t]+$/g;
const ANY_WHITESPACE = /\s/;

/**
 * Classifies the header value(s). `string[]` is how multi-value headers arrive (ALB with
 * multi-value headers, Node's `IncomingMessage.headersDistinct`): two `Authorization` headers
 * are malformed, not "take the first".
 */
export function readCredential(authorization: string | readonly string[] | undefined): Credential {
  if (authorization === undefined) return { kind: 'missing' };
  if (typeof authorization !== 'string') {
    if (authorization.length > 1) return { kind: 'malformed', reason: 'multiple-headers' };
    return readCredential(authorization[0]);
  }
  if (authorization.length > MAX_AUTHORIZATION_LENGTH)
    return { kind: 'malformed', reason: 'too-long' };

  const value = authorization.replace(OUTER_WHITESPACE, '');
  if (value === '') return { kind: 'missing' };
  const space = value.indexOf(' ');
  const scheme = space === -1 ? value : value.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') return { kind: 'malformed', reason: 'scheme' };
  // "Bearer" alone carries no credential: answered like a missing header, as OpenAI does.
  if (space === -1) return { kind: 'missing' };
  const token = value.slice(space + 1);
  if (ANY_WHITESPACE.test(token)) return { kind: 'malformed', reason: 'whitespace' };
  return { kind: 'token', token };
}
