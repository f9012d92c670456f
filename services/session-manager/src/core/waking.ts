/**
 * Triton scaled to zero, woken by demand. On a stage whose Triton may have no replica while
 * nobody calls a model (KEDA `minReplicaCount: 0`), the Service has no endpoint and a
 * connection to it is refused at once. The session manager then:
 *
 * - counts the request as demand (`axon_sm_model_demand_total`, see plugins/metrics.ts): KEDA's
 *   activation query reads that counter from Prometheus and scales Triton from 0 to 1;
 * - waits, within a bound, for Triton to become ready, and sends the request then; past the
 *   bound it answers 503 `model_starting` with `Retry-After`, never a hang;
 * - lists and resolves models from MODELS_CONFIG meanwhile (see ModelCatalog), so
 *   `GET /v1/models` still answers and a request can reach the point where it waits.
 *
 * Only a request that never reached Triton (connection refused or not established) waits and is
 * sent again: a request Triton may have started is never repeated (a second GPU run).
 */

import { AxonError, InferenceUnavailableError } from '@axon/runtime/errors';
import { ClientGoneError, type TritonClient } from './triton-client.ts';

/** 503 while Triton starts after an idle period; the SDKs retry it after `Retry-After`. */
export class ModelStartingError extends AxonError {
  constructor(retryAfterSeconds: number) {
    super(
      503,
      'api_error',
      'model_starting',
      `The model is starting after an idle period; retry in about ${retryAfterSeconds} seconds.`,
      { 'retry-after': String(retryAfterSeconds) },
    );
  }
}

/** `Retry-After` when nothing else is set: the openai SDKs retry after it by themselves (up to 60 s). */
export const DEFAULT_WAKE_RETRY_AFTER_SECONDS = 30;

export interface WakeOptions {
  /** Longest a request waits for Triton to become ready; 0 answers 503 at once. */
  readonly waitMs: number;
  /** `Retry-After` of the 503 a request gets past waitMs. */
  readonly retryAfterSeconds: number;
  /** Time between two readiness probes of the shared wait. @default 1000 */
  readonly pollMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Error codes of a connection that was never established: nothing reached Triton. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Whether `error` is Triton being unreachable before anything was sent to it. */
export function neverReachedTriton(error: unknown): boolean {
  if (!(error instanceof InferenceUnavailableError)) return false;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NOT_CONNECTED.has(code);
}

export type InferenceClient = Pick<
  TritonClient,
  'ready' | 'repositoryIndex' | 'generate' | 'generateStream' | 'close'
>;

/**
 * A Triton client that waits for a sleeping Triton. Every waiting request shares one probe loop,
 * so a burst of requests against a cold Triton costs one readiness probe per `pollMs`, not one
 * per request.
 */
export class WakingTriton implements InferenceClient {
  private waiting?: Promise<boolean>;
  private readonly pollMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly triton: InferenceClient,
    private readonly options: WakeOptions,
  ) {
    this.pollMs = options.pollMs ?? 1_000;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  ready(timeoutMs?: number): Promise<boolean> {
    return this.triton.ready(timeoutMs);
  }

  /** No wait here: the catalog falls back to the configured models while Triton sleeps. */
  async repositoryIndex(): Promise<Awaited<ReturnType<InferenceClient['repositoryIndex']>>> {
    try {
      return await this.triton.repositoryIndex();
    } catch (error) {
      if (neverReachedTriton(error)) throw this.starting(error);
      throw error;
    }
  }

  generate(
    ...args: Parameters<InferenceClient['generate']>
  ): ReturnType<InferenceClient['generate']> {
    return this.onceAwake(() => this.triton.generate(...args), args[2]);
  }

  generateStream(
    ...args: Parameters<InferenceClient['generateStream']>
  ): ReturnType<InferenceClient['generateStream']> {
    return this.onceAwake(() => this.triton.generateStream(...args), args[2]);
  }

  close(): Promise<void> {
    return this.triton.close();
  }

  private async onceAwake<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!neverReachedTriton(error)) throw error;
      await this.untilReady(error, signal);
      return call();
    }
  }

  /** Resolves once Triton is ready; throws ModelStartingError past the bound. */
  private async untilReady(cause: unknown, signal?: AbortSignal): Promise<void> {
    this.waiting ??= this.probe().finally(() => {
      this.waiting = undefined;
    });
    const ready = await (signal ? raceAbort(this.waiting, signal) : this.waiting);
    if (!ready) throw this.starting(cause);
  }

  private async probe(): Promise<boolean> {
    const deadline = this.now() + this.options.waitMs;
    for (;;) {
      const left = deadline - this.now();
      if (left <= 0) return false;
      if (await this.triton.ready(Math.min(this.pollMs, left))) return true;
      const pause = Math.min(this.pollMs, deadline - this.now());
      if (pause <= 0) return false;
      await this.sleep(pause);
    }
  }

  private starting(cause: unknown): ModelStartingError {
    const error = new ModelStartingError(this.options.retryAfterSeconds);
    error.cause = cause;
    return error;
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new ClientGoneError('client went away'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ClientGoneError('client went away'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
