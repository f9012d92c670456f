/**
 * Identifiers. Session ids are the only thing standing between a session and another caller
 * who guesses it (besides key scoping), so they carry 131 bits from the CSPRNG. They start with
 * the creation time in fixed-width base62, so sorting ids sorts sessions by age: listing
 * "newest first, after <id>" is a plain range query that still works when <id> has expired.
 */
import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'; // ASCII order
const TIME_CHARS = 8; // 62^8 ms is about 6900 years
const RANDOM_CHARS = 22; // 22 * log2(62) = 131 bits

/** `length` uniformly random base62 characters (rejection sampling keeps it unbiased). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function base62Fixed(value: number, width: number): string {
  let out = '';
  let rest = Math.floor(value);
  for (let i = 0; i < width; i++) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

export function newSessionId(nowMs = Date.now()): string {
  return `sess_${base62Fixed(nowMs, TIME_CHARS)}${randomBase62(RANDOM_CHARS)}`;
}

const SESSION_ID = new RegExp(`^sess_[0-9A-Za-z]{${TIME_CHARS + RANDOM_CHARS}}$`);

export function isSessionId(value: string): boolean {
  return SESSION_ID.test(value);
}

export function newCompletionId(): string {
  return `chatcmpl-${randomBase62(24)}`;
}

/**
 * Stored responses carry the same time-ordered, 131-bit id as sessions, so guessing one is as
 * hopeless and their ids sort by age.
 */
export function newResponseId(nowMs = Date.now()): string {
  return `resp_${base62Fixed(nowMs, TIME_CHARS)}${randomBase62(RANDOM_CHARS)}`;
}

const RESPONSE_ID = new RegExp(`^resp_[0-9A-Za-z]{${TIME_CHARS + RANDOM_CHARS}}$`);

export function isResponseId(value: string): boolean {
  return RESPONSE_ID.test(value);
}

/** Ids of conversation and response items (messages); unique within their conversation. */
export function newItemId(): string {
  return `msg_${randomBase62(24)}`;
}

/**
 * A conversation is a session seen through the Conversations API: `conv_<x>` is the session
 * `sess_<x>`, one record with two names. Undefined for anything that is not such an id.
 */
export function sessionIdOfConversation(conversationId: string): string | undefined {
  if (!conversationId.startsWith('conv_')) return undefined;
  const sessionId = `sess_${conversationId.slice(5)}`;
  return isSessionId(sessionId) ? sessionId : undefined;
}

export function conversationIdOf(sessionId: string): string {
  return `conv_${sessionId.slice(5)}`;
}
