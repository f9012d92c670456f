/**
 * One request through the gateway: route → authenticate → refuse what needs no model → admit
 * (reserve the worst case, in tokens and, under a budget, in money; take a concurrency lease) →
 * forward → settle (book the real usage and its cost, in the buckets, the budgets and the usage
 * ledger, release the lease). Every answer carries `x-request-id`; every answer to an
 * authenticated key carries the rate-limit headers, admitted or denied. Errors leave in the
 * OpenAI envelope (docs/api.md#errors), never as a stack trace.
 */

import { randomBytes } from 'node:crypto';
import { AxonError, InternalError } from '@axon/runtime/errors';
import type { AuthenticateInput, Principal } from '#authorizer/authorizer';
import { InsufficientPermissionsError } from '#authorizer/errors';
import type { AxonConfig } from '#shared/config';
import type { Log } from '#shared/logger';
import { hasBudget } from '#token-bucket/decision';
import { deniedError, rateLimitHeaders } from '#token-bucket/http';
import type { Decision, Lease, LeaseStore, SettleInput } from '#token-bucket/types';
import { type AdminApi, isAdminPath } from './admin-api.ts';
import { type Admission, admissionOf } from './admission.ts';
import type { CancelSignal } from './cancel.ts';
import { type ChunkSink, type ChunkStream, drained } from './chunks.ts';
import { NotFoundError, UpstreamUnavailableError } from './errors.ts';
import {
  errorResponse,
  type GatewayRequest,
  type GatewayResponse,
  jsonResponse,
  requestIdOf,
} from './http.ts';
import type { GatewayMetrics } from './metrics.ts';
import { costOf, type Price, Pricing } from './pricing.ts';
import { StreamUsage } from './stream-usage.ts';
import type { Upstream, UpstreamStream } from './upstream.ts';
import { type ReportedUsage, reportedUsage } from './usage.ts';

/** An ALB Lambda target takes at most 1 MB of request body. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface GatewayDeps {
  readonly authorizer: { authenticate(input: AuthenticateInput): Promise<Principal> };
  readonly limiter: LeaseStore;
  /** `forward` answers the buffered edge; `stream` the streaming one (only it needs it). */
  readonly upstream: Pick<Upstream, 'forward' | 'rereadSecret' | 'secretGeneration'> &
    Partial<Pick<Upstream, 'stream'>>;
  readonly metrics: GatewayMetrics;
  readonly log: Log;
  /** @default MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
  /**
   * Lifetime of a concurrency lease; renewed every half of it while the request runs.
   * @default DEFAULT_LEASE_TTL_MS
   */
  readonly leaseTtlMs?: number;
  /**
   * The config's price table: what a model route costs against a budget and in the usage ledger.
   * @default - no prices: every request costs 0 and is booked under `other`
   */
  readonly pricing?: Pricing;
  /**
   * The admin routes (`/v1/organization/...`), for admin keys only.
   * @default - none: an admin key's request to them is 404
   */
  readonly admin?: AdminApi;
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

/**
 * An answer whose body may still be arriving. The streaming edge writes a `Buffer` body at once
 * and pipes a `ChunkStream` to the client; it must call `pipeTo`, because settlement runs when
 * the stream ends.
 */
export interface StreamedResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer | ChunkStream;
}

interface Outcome {
  response: StreamedResponse;
  principal?: Principal;
  decision?: Decision;
}

/** What an admitted request carries to delivery and settlement. */
interface Admitted {
  readonly principal: Principal;
  readonly admission: Admission;
  readonly decision: Decision;
  readonly lease: Lease | undefined;
  readonly renewal: NodeJS.Timeout | undefined;
  /** On a model route: its price, and the nano-dollars reserved against budgets (0 without). */
  readonly price: Price | undefined;
  readonly reservedNanoUsd: number;
}

/**
 * What a settled request books: the tokens for the token bucket and, on a model route, its
 * parts for the usage ledger and its cost. `usage` is what the answer reported, or, when the
 * use is unknown (`bookable`), the worst case: the reservation stays charged.
 */
interface Booking {
  readonly tokens: number;
  /** The model the answer says it ran on, when it says (a session turn): it sets the price. */
  readonly model?: string;
  /** What the model used; absent when it did not run (a refusal): nothing goes in the ledger. */
  readonly usage?: Omit<ReportedUsage, 'total'>;
}

/** How the answer leaves: whole (ALB Lambda target) or as it arrives (HTTP server). */
type Delivery = { readonly mode: 'buffered' } | { readonly mode: 'stream'; signal?: CancelSignal };

/** Headers that keep every proxy and client library on the path from buffering a stream. */
const STREAM_HEADERS = { 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } as const;

export class Gateway {
  /** The request body cap; an HTTP edge reads no more than one byte past it. */
  readonly maxBodyBytes: number;
  private readonly leaseTtlMs: number;
  private readonly pricing: Pricing;

  constructor(private readonly deps: GatewayDeps) {
    this.maxBodyBytes = deps.maxBodyBytes ?? MAX_BODY_BYTES;
    this.leaseTtlMs = deps.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.pricing = deps.pricing ?? new Pricing();
  }

  /** The buffered path: the whole answer, settled, in one response (the Lambda edge). */
  async handle(request: GatewayRequest): Promise<GatewayResponse> {
    return (await this.serve(request, { mode: 'buffered' })) as GatewayResponse;
  }

  /**
   * The streaming path (the container edge): resolves once the upstream headers arrive. A
   * Server-Sent Events answer comes back as an iterable that yields the session manager's
   * chunks as they come and settles the key's tokens when it ends; every other answer comes
   * back whole and settled, as `handle` gives it. Aborting `signal` (the client left) cancels
   * the upstream request.
   */
  stream(request: GatewayRequest, signal?: CancelSignal): Promise<StreamedResponse> {
    return this.serve(request, { mode: 'stream', ...(signal && { signal }) });
  }

  private async serve(request: GatewayRequest, delivery: Delivery): Promise<StreamedResponse> {
    const started = performance.now();
    const requestId = requestIdOf(request.headers);
    const outcome = await this.route(request, requestId, delivery).catch(
      (err: unknown): Outcome => ({
        response: this.failure(err, request, requestId),
      }),
    );
    // Every answer's headers are a fresh object made for this request (errorResponse, the
    // upstream's copy), so they are completed in place rather than copied once per step.
    const response = outcome.response;
    response.headers['x-request-id'] = requestId;
    const log = () =>
      this.deps.log.info('request', {
        requestId,
        method: request.method,
        path: request.path.slice(0, 200),
        status: response.status,
        ms: Math.round(performance.now() - started),
        ...(outcome.principal && { keyId: outcome.principal.keyId, plan: outcome.principal.plan }),
        ...(outcome.decision?.degraded && { degraded: true }),
      });
    if (Buffer.isBuffer(response.body)) {
      log();
      return response;
    }
    const body = response.body;
    return { ...response, body: { pipeTo: (sink) => body.pipeTo(sink).finally(log) } };
  }

  private async route(
    request: GatewayRequest,
    requestId: string,
    delivery: Delivery,
  ): Promise<Outcome> {
    const { method, path } = request;
    if (path === '/healthz' && (method === 'GET' || method === 'HEAD')) {
      return { response: jsonResponse(200, { status: 'ok' }) };
    }
    if (!path.startsWith('/v1/')) throw new NotFoundError(method, path);

    const adminRoute = isAdminPath(path);
    const principal = await this.authenticate(request, adminRoute);
    if (adminRoute || principal.kind === 'admin') {
      return this.administer(request, requestId, principal, adminRoute);
    }
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
    const { worstCase } = admission;
    const price = worstCase && this.pricing.of(worstCase.model);
    // Reserved only against a budget; without one the limiter is not told a cost at all.
    const reservedNanoUsd =
      price && worstCase && hasBudget(limits)
        ? costOf(price, worstCase.input, worstCase.output)
        : 0;
    const decision = await this.admit(principal, admission, lease, reservedNanoUsd);
    if (!decision.allowed) {
      return withLimits(
        this.failure(deniedError(decision, limits), request, requestId),
        principal,
        decision,
      );
    }

    const admitted: Admitted = {
      principal,
      admission,
      decision,
      lease,
      renewal: lease && this.keepLeased(principal, lease),
      price,
      reservedNanoUsd,
    };
    if (delivery.mode === 'stream') {
      return this.deliverStream(request, requestId, admitted, delivery.signal);
    }
    let response: GatewayResponse;
    try {
      response = await this.forward(request, principal, requestId);
    } catch (err) {
      response = this.failure(err, request, requestId);
    }
    return this.settled(admitted, response);
  }

  /** Books what a whole answer used, releases the lease, and answers with the settled buckets. */
  private async settled(admitted: Admitted, response: GatewayResponse): Promise<Outcome> {
    const contentType = [response.headers['content-type'] ?? []].flat()[0];
    const reported = reportedUsage(contentType, response.body);
    const decision = await this.settle(
      admitted,
      bookingOf(reported, response.status, admitted.admission, response.servedModel),
    );
    return withLimits(response, admitted.principal, decision);
  }

  /**
   * One settlement: the token reservation back and the tokens debited; on a model route also
   * the cost reservation back and the cost spent, and the request booked in the key's usage
   * ledger under its price's model, all in the limiter's one script call.
   */
  private async settle(admitted: Admitted, booking: Booking): Promise<Decision> {
    const { principal, admission, lease, decision, renewal } = admitted;
    // Reserved at the price of what the request named (a session turn: the dearest); spent at
    // the price of what ran, when the answer says. The reservation is given back either way.
    const price =
      admitted.price && booking.model !== undefined
        ? this.pricing.of(booking.model)
        : admitted.price;
    if (renewal) clearInterval(renewal);
    const input: SettleInput = {
      id: principal.keyId,
      limits: principal.limits,
      tokens: booking.tokens,
      reserved: admission.tokenCost,
      ...(lease && { lease }),
      ...(price && {
        costNanoUsd: booking.usage ? costOf(price, booking.usage.input, booking.usage.output) : 0,
        reservedNanoUsd: admitted.reservedNanoUsd,
        ...(booking.usage && {
          usage: {
            model: price.model,
            inputTokens: booking.usage.input,
            outputTokens: booking.usage.output,
            cachedTokens: booking.usage.cached,
          },
        }),
      }),
    };
    const settled = await this.deps.limiter.settle(input);
    return settled ? { ...settled, degraded: decision.degraded || settled.degraded } : decision;
  }

  /**
   * Streams a Server-Sent Events answer through. Its rate-limit headers leave before anything is
   * settled, so they show the admission decision (the reservation already taken). When the
   * stream ends, its reported usage is booked; when it is cut (client gone, upstream failed or
   * silent too long) the usage reported so far is booked if any, else the whole reservation
   * stays: the GPU may have done the work. Anything else (JSON, errors) is read whole and
   * settled exactly as the buffered path does.
   */
  private async deliverStream(
    request: GatewayRequest,
    requestId: string,
    admitted: Admitted,
    signal: CancelSignal | undefined,
  ): Promise<Outcome> {
    const { principal, decision } = admitted;
    let upstream: UpstreamStream;
    try {
      upstream = await this.openStream(request, principal, requestId, signal);
    } catch (err) {
      return this.settled(admitted, this.failure(err, request, requestId));
    }
    const source = upstream.body;
    if (Buffer.isBuffer(source)) {
      return this.settled(admitted, { ...upstream, body: source });
    }
    // A cut stream books what it reported so far, else its worst case (the GPU may have worked),
    // whatever its status said.
    const usage = new StreamUsage();
    const settle = (complete: boolean) =>
      this.settle(
        admitted,
        bookingOf(
          usage.usage,
          complete ? upstream.status : 500,
          admitted.admission,
          upstream.servedModel,
        ),
      ).catch(() => undefined);
    const pipeTo = (sink: ChunkSink) =>
      new Promise<void>((resolve) => {
        source.start({
          chunk: (chunk) => {
            usage.push(chunk);
            if (sink.destroyed || sink.write(chunk)) return;
            source.pause();
            void drained(sink).then(() => source.resume());
          },
          end: () => {
            usage.end();
            void settle(true).then(() => resolve());
          },
          fail: (err) => {
            // The status line is gone; a client that is still there learns of the failure from
            // an error event in the same envelope, as OpenAI's SDKs read one.
            if (!signal?.aborted) {
              const cut = upstreamCut(err);
              this.deps.metrics.count('UpstreamErrors', { code: cut.code });
              const failure = this.failure(cut, request, requestId);
              if (!sink.destroyed)
                sink.write(Buffer.from(`data: ${failure.body.toString('utf8')}\n\n`));
            }
            void settle(false).then(() => resolve());
          },
        });
      });
    return {
      principal,
      decision,
      response: {
        status: upstream.status,
        headers: {
          ...upstream.headers,
          ...STREAM_HEADERS,
          ...rateLimitHeaders(decision, principal.limits),
        },
        body: { pipeTo },
      },
    };
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
    Object.assign(response.headers, rateLimitHeaders(peek, limits));
    return { principal, decision: peek, response };
  }

  /**
   * Renews the lease every half of its lifetime while the request is still open (on the
   * streaming edge: until the stream ends), so a long answer keeps its slot and a gateway that
   * dies stops renewing and frees it within one lifetime.
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

  /**
   * An admin route, or an admin key anywhere: only an admin key on an admin route goes on, and
   * then to the admin API, never to the session manager. Its requests are charged to a bucket of
   * their own (`admin:<keyId>`, the principal's fixed limits), never to a model key's.
   */
  private async administer(
    request: GatewayRequest,
    requestId: string,
    principal: Principal,
    adminRoute: boolean,
  ): Promise<Outcome> {
    if (principal.kind !== 'admin' || !adminRoute) {
      const needs = principal.kind === 'admin' ? 'model' : 'admin';
      this.deps.metrics.count('AuthFailures', { code: 'insufficient_permissions' });
      // No limiter call: nothing is admitted, and the key is valid (not a guess).
      const refused = new InsufficientPermissionsError(needs);
      return { principal, response: this.failure(refused, request, requestId) };
    }
    const { limits } = principal;
    const decision = await this.deps.limiter.decide({ id: `admin:${principal.keyId}`, limits });
    if (!decision.allowed) {
      return withLimits(
        this.failure(deniedError(decision, limits), request, requestId),
        principal,
        decision,
      );
    }
    const { admin } = this.deps;
    let response: GatewayResponse;
    try {
      if (!admin) throw new NotFoundError(request.method, request.path);
      response = await admin.handle(request, principal);
    } catch (err) {
      response = this.failure(err, request, requestId);
    }
    return withLimits(response, principal, decision);
  }

  private async authenticate(request: GatewayRequest, adminRoute: boolean): Promise<Principal> {
    try {
      return await this.deps.authorizer.authenticate({
        authorization: request.headers.get('authorization'),
        forwardedFor: request.headers.get('x-forwarded-for'),
        adminRoute,
      });
    } catch (err) {
      if (err instanceof AxonError) this.deps.metrics.count('AuthFailures', { code: err.code });
      throw err;
    }
  }

  private async admit(
    principal: Principal,
    admission: Admission,
    lease: Lease | undefined,
    costNanoUsd: number,
  ): Promise<Decision> {
    const started = performance.now();
    const decision = await this.deps.limiter.decide({
      id: principal.keyId,
      limits: principal.limits,
      tokenCost: admission.tokenCost,
      ...(lease && { lease }),
      ...(costNanoUsd > 0 && { costNanoUsd }),
    });
    this.deps.metrics.decisionLatency(performance.now() - started);
    if (decision.degraded) this.deps.metrics.count('Degraded');
    if (decision.allowed) this.deps.metrics.count('Admitted');
    else this.deps.metrics.count('Denied', { code: decision.limitedBy ?? 'requests' });
    return decision;
  }

  private async openStream(
    request: GatewayRequest,
    principal: Principal,
    requestId: string,
    signal: CancelSignal | undefined,
  ): Promise<UpstreamStream> {
    const { upstream } = this.deps;
    if (!upstream.stream) throw new Error('this gateway was built without a streaming upstream');
    try {
      // As in forward(): a 401 means the session manager refused a rotated secret; the request
      // is sent once more.
      const sentAt = upstream.secretGeneration;
      // A 401 is never an event stream, so it arrives read whole: nothing is left to drain.
      const opened = await upstream.stream(request, principal, requestId, signal);
      if (opened.status !== 401 || !(await upstream.rereadSecret(sentAt))) return opened;
      this.deps.metrics.count('UpstreamSecretRetries');
      return await upstream.stream(request, principal, requestId, signal);
    } catch (err) {
      if (err instanceof AxonError) this.deps.metrics.count('UpstreamErrors', { code: err.code });
      throw err;
    }
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
  const contentType = [response.headers['content-type'] ?? []].flat()[0];
  return bookingOf(reportedUsage(contentType, response.body), response.status, admission).tokens;
}

/**
 * `bookable`'s rule with the parts: the reported usage; nothing for a refusal or a route that
 * does not reach the model; the worst case when the use is unknown (the cost reservation stays
 * spent, and the ledger says so: its estimate as input, its completion cap as output).
 */
function bookingOf(
  reported: ReportedUsage | undefined,
  status: number,
  admission: Admission,
  servedModel?: string,
): Booking {
  const model = servedModel === undefined ? {} : { model: servedModel };
  if (reported !== undefined) return { tokens: reported.total, usage: reported, ...model };
  const tokens = bookable(undefined, status, admission);
  const worst = admission.worstCase;
  if (!worst || !admission.modelRoute || (status >= 400 && status < 500)) {
    return { tokens, ...model };
  }
  return { tokens, usage: { input: worst.input, output: worst.output, cached: 0 }, ...model };
}

/** `usageOf`'s rule once the reported usage (if any) is known: shared by both edges. */
export function bookable(
  reported: number | undefined,
  status: number,
  admission: Admission,
): number {
  if (reported !== undefined) return reported;
  if (!admission.modelRoute) return 0;
  if (status >= 400 && status < 500) return 0;
  return admission.tokenCost;
}

/** Adds the key's rate-limit headers, from `decision`, to an answer's own (fresh) headers. */
function withLimits(response: StreamedResponse, principal: Principal, decision: Decision): Outcome {
  Object.assign(response.headers, rateLimitHeaders(decision, principal.limits));
  return { principal, decision, response };
}

/** A stream cut after its headers: the domain error it already is, else the upstream failed. */
function upstreamCut(err: unknown): AxonError {
  return err instanceof AxonError ? err : new UpstreamUnavailableError(err);
}
