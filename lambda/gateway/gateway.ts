/**
 * One request through the gateway: route → authenticate → refuse what needs no model → admit
 * (reserve the worst case, take a concurrency lease) → forward → settle (book the real usage,
 * release the lease). Every answer carries `x-request-id`; every answer to an authenticated key
 * carries the rate-limit headers, admitted or denied. Errors leave in the OpenAI envelope (docs/api.md#errors), never as
 * a stack trace.
 */

import { randomBytes } from 'node:crypto';
import { AxonError, InternalError } from '@axon/runtime/errors';
import type { AuthenticateInput, Principal } from '#authorizer/authorizer';
import type { AxonConfig } from '#shared/config';
import type { Log } from '#shared/logger';
import { RateLimitExceededError, rateLimitHeaders } from '#token-bucket/http';
import type { Decision, Lease, LeaseStore } from '#token-bucket/types';
import { type Admission, admissionOf } from './admission.ts';
import { NotFoundError } from './errors.ts';
import {
  errorResponse,
  type GatewayRequest,
  type GatewayResponse,
  jsonResponse,
  requestIdOf,
} from './http.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { Upstream } from './upstream.ts';
import { usedTokens } from './usage.ts';

/** An ALB Lambda target takes at most 1 MB of request body. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface GatewayDeps {
  readonly authorizer: { authenticate(input: AuthenticateInput): Promise<Principal> };
  readonly limiter: LeaseStore;
  readonly upstream: Pick<Upstream, 'forward' | 'rereadSecret' | 'secretGeneration'>;
  readonly metrics: GatewayMetrics;
  readonly log: Log;
  /** @default MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
  /**
   * Lifetime of a concurrency lease; renewed every half of it while the request runs.
   * @default DEFAULT_LEASE_TTL_MS
   */
  readonly leaseTtlMs?: number;
}

/** The lease lifetime when the config sets none: long enough that renewals are rare. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/**
 * The config's `rateLimiter.leaseTtlMs`, or the default; never under 4 Redis timeouts, so that
 * a renewal every half lease lands before the lease runs out.
 */
export function leaseTtlMs(config: AxonConfig): number {
  const { leaseTtlMs: configured, redisTimeoutMs } = config.rateLimiter;
  return configured ?? Math.max(DEFAULT_LEASE_TTL_MS, redisTimeoutMs * 4);
}

interface Outcome {
  response: GatewayResponse;
  principal?: Principal;
  decision?: Decision;
}

export class Gateway {
  private readonly maxBodyBytes: number;
  private readonly leaseTtlMs: number;

  constructor(private readonly deps: GatewayDeps) {
    this.maxBodyBytes = deps.maxBodyBytes ?? MAX_BODY_BYTES;
    this.leaseTtlMs = deps.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  }

  async handle(request: GatewayRequest): Promise<GatewayResponse> {
    const started = performance.now();
    const requestId = requestIdOf(request.headers);
    const outcome = await this.route(request, requestId).catch(
      (err: unknown): Outcome => ({
        response: this.failure(err, request, requestId),
      }),
    );
    const response = {
      ...outcome.response,
      headers: { ...outcome.response.headers, 'x-request-id': requestId },
    };
    this.deps.log.info('request', {
      requestId,
      method: request.method,
      path: request.path.slice(0, 200),
      status: response.status,
      ms: Math.round(performance.now() - started),
      ...(outcome.principal && { keyId: outcome.principal.keyId, plan: outcome.principal.plan }),
      ...(outcome.decision?.degraded && { degraded: true }),
    });
    return response;
  }

  private async route(request: GatewayRequest, requestId: string): Promise<Outcome> {
    const { method, path } = request;
    if (path === '/healthz' && (method === 'GET' || method === 'HEAD')) {
      return { response: jsonResponse(200, { status: 'ok' }) };
    }
    if (!path.startsWith('/v1/')) throw new NotFoundError(method, path);

    const principal = await this.authenticate(request);
    const { limits } = principal;
    let admission: Admission;
    try {
      admission = admissionOf(request, limits, this.maxBodyBytes);
    } catch (err) {
      return this.refuse(err, principal, request, requestId);
    }

    const lease: Lease | undefined = limits.maxConcurrentRequests
      ? { id: randomBytes(12).toString('base64url'), ttlMs: this.leaseTtlMs }
      : undefined;
    const decision = await this.admit(principal, admission, lease);
    const answer = (response: GatewayResponse, state: Decision): Outcome => ({
      principal,
      decision: state,
      response: {
        ...response,
        headers: { ...response.headers, ...rateLimitHeaders(state, limits) },
      },
    });
    if (!decision.allowed) {
      return answer(
        this.failure(new RateLimitExceededError(decision, limits), request, requestId),
        decision,
      );
    }

    const renewal = lease && this.keepLeased(principal, lease);
    let response: GatewayResponse;
    try {
      response = await this.forward(request, principal, requestId);
    } catch (err) {
      response = this.failure(err, request, requestId);
    } finally {
      if (renewal) clearInterval(renewal);
    }
    const used = usageOf(response, admission);
    const settled = await this.deps.limiter.settle({
      id: principal.keyId,
      limits,
      tokens: used,
      reserved: admission.tokenCost,
      ...(lease && { lease }),
    });
    return answer(
      response,
      settled ? { ...settled, degraded: decision.degraded || settled.degraded } : decision,
    );
  }

  /**
   * A refusal before admission: nothing is charged. A peek still reports the key's buckets; if
   * the limiter cannot answer even that (Redis down, failing closed), the refusal goes out
   * without them rather than turning into a 503.
   */
  private async refuse(
    err: unknown,
    principal: Principal,
    request: GatewayRequest,
    requestId: string,
  ): Promise<Outcome> {
    const response = this.failure(err, request, requestId);
    const { keyId: id, limits } = principal;
    const peek = await this.deps.limiter.decide({ id, limits, peek: true }).catch(() => undefined);
    if (!peek) return { principal, response };
    return {
      principal,
      decision: peek,
      response: {
        ...response,
        headers: { ...response.headers, ...rateLimitHeaders(peek, limits) },
      },
    };
  }

  /**
   * Renews the lease every half of its lifetime while the request is still open, so a long
   * answer keeps its slot and a gateway that dies stops renewing and frees it within one
   * lifetime. The streaming edge will call `renew` as chunks flow; until then, a timer.
   */
  private keepLeased(principal: Principal, lease: Lease): NodeJS.Timeout {
    const timer = setInterval(() => {
      // The Limiter never throws here; a bare store might, and a renewal is best effort.
      this.deps.limiter
        .renew({ id: principal.keyId, limits: principal.limits, lease })
        .catch(() => undefined);
    }, lease.ttlMs / 2);
    timer.unref();
    return timer;
  }

  private async authenticate(request: GatewayRequest): Promise<Principal> {
    try {
      return await this.deps.authorizer.authenticate({
        authorization: request.headers.get('authorization'),
        forwardedFor: request.headers.get('x-forwarded-for'),
      });
    } catch (err) {
      if (err instanceof AxonError) this.deps.metrics.count('AuthFailures', { code: err.code });
      throw err;
    }
  }

  private async admit(
    principal: Principal,
    admission: Admission,
    lease?: Lease,
  ): Promise<Decision> {
    const started = performance.now();
    const decision = await this.deps.limiter.decide({
      id: principal.keyId,
      limits: principal.limits,
      tokenCost: admission.tokenCost,
      ...(lease && { lease }),
    });
    this.deps.metrics.decisionLatency(performance.now() - started);
    if (decision.degraded) this.deps.metrics.count('Degraded');
    if (decision.allowed) this.deps.metrics.count('Admitted');
    else this.deps.metrics.count('Denied', { code: decision.limitedBy ?? 'requests' });
    return decision;
  }

  /**
   * The key was checked here, so a 401 from the session manager means it refused the gateway
   * secret: it was rotated since this instance read it. The secret is read again and, when it
   * changed, the request (whose body the gateway holds) is sent once more. Any edge built on
   * `Gateway` (Lambda or container) gets this, so a rotation never reaches a client as a 401.
   */
  private async forward(request: GatewayRequest, principal: Principal, requestId: string) {
    try {
      const sentAt = this.deps.upstream.secretGeneration;
      const response = await this.deps.upstream.forward(request, principal, requestId);
      if (response.status !== 401 || !(await this.deps.upstream.rereadSecret(sentAt))) {
        return response;
      }
      this.deps.metrics.count('UpstreamSecretRetries');
      return await this.deps.upstream.forward(request, principal, requestId);
    } catch (err) {
      if (err instanceof AxonError) this.deps.metrics.count('UpstreamErrors', { code: err.code });
      throw err;
    }
  }

  private failure(err: unknown, request: GatewayRequest, requestId: string): GatewayResponse {
    if (err instanceof AxonError) return errorResponse(err);
    this.deps.log.error('unexpected gateway error', {
      requestId,
      path: request.path.slice(0, 200),
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    return errorResponse(new InternalError(err));
  }
}

/**
 * The LLM tokens to book for an admitted request: the usage the answer reports; nothing for a
 * refusal that reports none (4xx: the model did not run) or a route that does not reach the
 * model; and the whole reservation when the use is unknown (a model route's 5xx, timeout, cut
 * stream or answer without usage): the GPU may have done the work.
 */
export function usageOf(response: GatewayResponse, admission: Admission): number {
  const contentType = response.headers['content-type'];
  const reported = usedTokens([contentType ?? []].flat()[0], response.body);
  if (reported !== undefined) return reported;
  if (!admission.modelRoute) return 0;
  if (response.status >= 400 && response.status < 500) return 0;
  return admission.tokenCost;
}
