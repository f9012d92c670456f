/**
 * What one API key may store in sessions: the plan fields the gateway's config validates and the
 * limits the session manager enforces. One definition for both, so the defaults cannot drift.
 */

/** Limits on what a key stores in sessions; every plan has all of them (defaults fill gaps). */
export interface SessionQuotas {
  /** Live sessions per key. */
  readonly maxSessions: number;
  /** Stored messages per session (each turn stores two: the user's and the answer). */
  readonly maxSessionMessages: number;
  /** UTF-8 bytes one session stores: model, metadata, system prompt, messages as JSON. */
  readonly maxSessionBytes: number;
  /** UTF-8 bytes of a session's system prompt. */
  readonly maxSystemPromptBytes: number;
  /** UTF-8 bytes a key stores across all of its sessions. */
  readonly maxStoredBytes: number;
}

/**
 * What a plan gets for a quota it leaves out: no plan is unbounded by omission. 4 MB per key
 * lets a cache of a few GB hold hundreds of keys at their ceiling; 256 KB per session keeps
 * `GET /v1/sessions/{id}` well inside the ALB's 1 MB Lambda response limit.
 */
export const DEFAULT_SESSION_QUOTAS: SessionQuotas = {
  maxSessions: 100,
  maxSessionMessages: 1000,
  maxSessionBytes: 256 * 1024,
  maxSystemPromptBytes: 64 * 1024,
  maxStoredBytes: 4 * 1024 * 1024,
};
