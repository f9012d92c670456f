/**
 * A decision as HTTP: the rate-limit headers of docs/api.md#rate-limiting (IETF RateLimit and
 * RateLimit-Policy structured fields, OpenAI's x-ratelimit-*), and the 429 error a denial becomes.
 */

import { AxonError } from '@axon/runtime/errors';
import type { PlanLimits } from '#shared/config';
import type { BucketName, Decision } from './types.ts';

const seconds = (ms: number) => Math.ceil(ms / 1000);

/** Whole seconds, at least 1: an HTTP client that retries after 0 s would be denied again. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, seconds(ms));
}

/** A duration as OpenAI writes it in x-ratelimit-reset-*: `0s`, `20ms`, `1s`, `6m0s`, `1h2m3s`. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const total = seconds(ms);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Headers for every response to an authenticated key, admitted or denied. */
export function rateLimitHeaders(decision: Decision, limits: PlanLimits): Record<string, string> {
  const { requests, tokens } = decision;
  const left = Math.max(0, requests.remaining);
  const headers: Record<string, string> = {
    'ratelimit-policy': `"requests";q=${limits.requestsPerMinute};w=60`,
    ratelimit: `"requests";r=${left};t=${seconds(requests.resetMs)}`,
    'x-ratelimit-limit-requests': String(limits.requestsPerMinute),
    'x-ratelimit-remaining-requests': String(left),
    'x-ratelimit-reset-requests': formatDuration(requests.resetMs),
  };
  if (tokens && limits.tokensPerMinute) {
    headers['x-ratelimit-limit-tokens'] = String(limits.tokensPerMinute);
    headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, tokens.remaining));
    headers['x-ratelimit-reset-tokens'] = formatDuration(tokens.resetMs);
  }
  if (!decision.allowed) headers['retry-after'] = String(retryAfterSeconds(decision.retryAfterMs));
  if (decision.degraded) headers['x-axon-ratelimit-degraded'] = '1';
  return headers;
}

type RateBucket = Exclude<BucketName, 'dayBudget' | 'monthBudget'>;

const CODES: Record<RateBucket, string> = {
  requests: 'rate_limit_exceeded',
  tokens: 'token_rate_limit_exceeded',
  day: 'quota_exceeded',
  concurrency: 'concurrency_limit_exceeded',
};

function denialMessage(bucket: RateBucket, limits: PlanLimits, wait: number): string {
  switch (bucket) {
    case 'requests':
      return `Rate limit reached for requests: ${limits.requestsPerMinute} per minute with bursts of up to ${limits.burst}. Retry after ${wait} s.`;
    case 'tokens':
      return `Rate limit reached for tokens: ${limits.tokensPerMinute} per minute. Retry after ${wait} s.`;
    case 'day':
      return `Daily quota of ${limits.requestsPerDay} requests reached; it resets at 00:00 UTC, in ${wait} s.`;
    case 'concurrency':
      return `Too many requests in flight for this key: at most ${limits.maxConcurrentRequests} at once. Retry after ${wait} s, or when one of them has finished.`;
  }
}

/** The 429 of a denied decision; its headers include the rate-limit headers and Retry-After. */
export class RateLimitExceededError extends AxonError {
  constructor(decision: Decision, limits: PlanLimits) {
    const limitedBy = decision.limitedBy ?? 'requests';
    const bucket =
      limitedBy === 'dayBudget' || limitedBy === 'monthBudget' ? 'requests' : limitedBy;
    super(
      429,
      'rate_limit_error',
      CODES[bucket],
      denialMessage(bucket, limits, retryAfterSeconds(decision.retryAfterMs)),
      rateLimitHeaders(decision, limits),
    );
  }
}

/**
 * The 429 of a decision a budget refused: OpenAI's `insufficient_quota`, apart from the rate
 * limits, since waiting a few seconds does not help. `x-should-retry: false` tells the official
 * SDKs not to retry it on their own (they retry every other 429); `Retry-After` says when the
 * budget resets, though it may admit sooner once requests in flight give back their reservations.
 */
export class InsufficientQuotaError extends AxonError {
  constructor(decision: Decision, limits: PlanLimits) {
    const monthly = decision.limitedBy === 'monthBudget';
    const usd = monthly ? limits.monthlyBudgetUsd : limits.dailyBudgetUsd;
    const resets = monthly ? 'on the first of next month (UTC)' : 'at 00:00 UTC';
    super(
      429,
      'insufficient_quota',
      'insufficient_quota',
      `This key's ${monthly ? 'monthly' : 'daily'} budget of ${usd} USD does not cover this request's worst-case cost; it resets ${resets}, in ${retryAfterSeconds(decision.retryAfterMs)} s. Lower max_tokens, or raise the budget.`,
      { ...rateLimitHeaders(decision, limits), 'x-should-retry': 'false' },
    );
  }
}

/** The error a denied decision becomes: a budget's `insufficient_quota`, or a rate limit's. */
export function deniedError(decision: Decision, limits: PlanLimits): AxonError {
  const by = decision.limitedBy;
  return by === 'dayBudget' || by === 'monthBudget'
    ? new InsufficientQuotaError(decision, limits)
    : new RateLimitExceededError(decision, limits);
}
