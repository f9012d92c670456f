/**
 * One request through the gateway: route → authenticate → admit → forward → settle. Every
 * answer carries `x-request-id`; every answer to an authenticated key carries the rate-limit
 * headers, admitted or denied. Errors leave as SPEC's envelope, never as a stack trace.
 */

import { AxonError, InternalError } from '@axon/runtime/errors';
import type { AuthenticateInput, Principal } from '#authorizer/authorizer';
import type { Log } from '#shared/logger';
import { RateLimitExceededError, rateLimitHeaders } from '#token-bucket/http';
import type { BucketStore, Decision } from '#token-bucket/types';
import { NotFoundError, RequestTooLargeError } from './errors.ts';
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
  readonly limiter: BucketStore;
  readonly upstream: Pick<Upstream, 'forward' | 'rereadSecret' | 'secretGeneration'>;
  readonly metrics: GatewayMetrics;
  readonly log: Log;
  /** @default MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
}

interface Outcome {
  response: GatewayResponse;
  principal?: Principal;
  decision?: Decision;
}

export class Gateway {
  private readonly maxBodyBytes: number;

  constructor(private readonly deps: GatewayDeps) {
    this.maxBodyBytes = deps.maxBodyBytes ?? MAX_BODY_BYTES;
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
    const decision = await this.admit(principal);
    const limitHeaders = rateLimitHeaders(decision, principal.limits);
    const answer = (response: GatewayResponse): Outcome => ({
      principal,
      decision,
      response: { ...response, headers: { ...response.headers, ...limitHeaders } },
    });
    try {
      if (!decision.allowed) throw new RateLimitExceededError(decision, principal.limits);
      if (request.body.length > this.maxBodyBytes)
        throw new RequestTooLargeError(this.maxBodyBytes);
      const response = await this.forward(request, principal, requestId);
      await this.settle(principal, response);
      return answer(response);
    } catch (err) {
      return answer(this.failure(err, request, requestId));
    }
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

  private async admit(principal: Principal): Promise<Decision> {
    const started = performance.now();
    const decision = await this.deps.limiter.decide({
      id: principal.keyId,
      limits: principal.limits,
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

  /** Debits the LLM tokens the answer used; the limiter never throws here. */
  private async settle(principal: Principal, response: GatewayResponse): Promise<void> {
    if (!principal.limits.tokensPerMinute || response.status >= 400) return;
    const contentType = response.headers['content-type'];
    const tokens = usedTokens([contentType ?? []].flat()[0], response.body);
    if (tokens)
      await this.deps.limiter.settle({ id: principal.keyId, limits: principal.limits, tokens });
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
