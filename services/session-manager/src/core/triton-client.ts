/**
 * Client for Triton's HTTP API: health, repository index, and the generate extension
 * (https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_generate.md).
 * One keep-alive undici Pool per Triton URL. Failures become the API's own errors: unreachable,
 * reset or 5xx -> InferenceUnavailableError (503); past the timeout -> InferenceTimeoutError
 * (504); `{"error"}` inside a started stream -> InferenceStreamError. Upstream messages are
 * attached for logs, never shown to callers.
 *
 * Retries: health and the repository index are reads and are retried on connection failures;
 * generate is not (a retried generation costs a second GPU run and may differ), so a failed
 * generate fails the request.
 */

import {
  AxonError,
  InferenceStreamError,
  InferenceTimeoutError,
  InferenceUnavailableError,
  InvalidRequestError,
} from '@axon/runtime/errors';
import { Pool } from 'undici';
import { ModelNotFoundError } from './model-access.ts';
import { readSseData, SseProtocolError } from './sse.ts';

export interface RepositoryModel {
  name: string;
  version?: string;
  state: string;
  reason?: string;
}

export interface GenerateRequest {
  textInput: string;
  maxTokens: number;
  temperature?: number;
  topP?: number;
}

export interface TritonClientOptions {
  /** Base URL, e.g. `http://triton:8000` (a path prefix is kept). */
  url: string;
  /** Generate: whole request; generate_stream: until the first byte and between events. */
  timeoutMs: number;
  /** Timeout of health and index calls. @default 2000 */
  controlTimeoutMs?: number;
  /** Keep-alive connections to Triton. @default 128 */
  connections?: number;
  /** Extra attempts for health and index on connection failures. @default 2 */
  retries?: number;
}

/** The caller hung up; nothing is left to answer. */
export class ClientGoneError extends Error {}

/** Upstream detail for logs: attached to the error we throw, never put in a response body. */
export function upstreamDetail(error: unknown): string | undefined {
  const value = (error as { upstream?: unknown })?.upstream;
  return typeof value === 'string' ? value : undefined;
}

function withUpstream<E extends Error>(error: E, upstream: string): E {
  Object.assign(error, { upstream });
  return error;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export class TritonClient {
  private readonly pool: Pool;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly controlTimeoutMs: number;
  private readonly retries: number;

  constructor(options: TritonClientOptions) {
    const url = new URL(options.url);
    this.base = url.pathname.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs;
    this.controlTimeoutMs = options.controlTimeoutMs ?? 2_000;
    this.retries = options.retries ?? 2;
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? 128,
      keepAliveTimeout: 30_000,
      connect: { timeout: Math.min(this.timeoutMs, 5_000) },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      // A runaway upstream cannot make us buffer without bound (streams included).
      maxResponseSize: 64 * 1024 * 1024,
    });
  }

  /** `GET /v2/health/ready`: true when Triton and its models can serve. */
  async ready(timeoutMs = this.controlTimeoutMs): Promise<boolean> {
    // One attempt: a readiness probe should answer within its own timeout, not retry inside it.
    try {
      const res = await this.call('GET', '/v2/health/ready', undefined, timeoutMs);
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  /** `POST /v2/repository/index`: every model Triton knows, with its state. */
  async repositoryIndex(): Promise<RepositoryModel[]> {
    return this.withRetries(async () => {
      const res = await this.call('POST', '/v2/repository/index', '{}', this.controlTimeoutMs);
      const body = await this.readJson(res);
      if (res.statusCode !== 200 || !Array.isArray(body)) {
        throw withUpstream(new InferenceUnavailableError(), `index answered ${res.statusCode}`);
      }
      return body
        .filter((m): m is RepositoryModel => typeof m?.name === 'string')
        .map((m) => ({ ...m, state: typeof m.state === 'string' ? m.state : 'UNKNOWN' }));
    });
  }

  /** `POST /v2/models/{model}/generate`: the whole text once it is done. */
  async generate(model: string, request: GenerateRequest, signal?: AbortSignal): Promise<string> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([deadline, signal]) : deadline;
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: this.modelPath(model, 'generate'),
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(this.body(request, false)),
        signal: combined,
      });
      const body = (await this.readJson(res)) as
        | { text_output?: unknown; error?: unknown }
        | undefined;
      if (res.statusCode !== 200) throw this.statusError(res.statusCode, body?.error, model);
      if (typeof body?.text_output !== 'string') {
        throw withUpstream(
          new InferenceUnavailableError(),
          'generate answered without text_output',
        );
      }
      return body.text_output;
    } catch (error) {
      throw this.classify(error, deadline, signal);
    }
  }

  /**
   * `POST /v2/models/{model}/generate_stream`: yields each event's `text_output`. Every event is
   * checked for `error`, because Triton reports failures after the 200 as events. Resolves the
   * HTTP exchange before returning, so a refused or failed request throws here, before the
   * caller has started its own stream.
   */
  async generateStream(
    model: string,
    request: GenerateRequest,
    signal?: AbortSignal,
  ): Promise<AsyncGenerator<string>> {
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.pool.request({
        method: 'POST',
        path: this.modelPath(model, 'generate_stream'),
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(this.body(request, true)),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw this.classify(error, undefined, signal);
    }
    if (res.statusCode !== 200) {
      const body = (await this.readJson(res).catch(() => undefined)) as
        | { error?: unknown }
        | undefined;
      throw this.statusError(res.statusCode, body?.error, model);
    }
    return this.streamEvents(res.body, signal);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async *streamEvents(
    body: AsyncIterable<Uint8Array>,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<string> {
    try {
      for await (const data of readSseData(body)) {
        if (data === '[DONE]') return;
        let event: { text_output?: unknown; error?: unknown };
        try {
          event = JSON.parse(data);
        } catch {
          throw withUpstream(new InferenceStreamError('non-JSON event'), data.slice(0, 200));
        }
        if (event !== null && typeof event === 'object' && 'error' in event) {
          throw withUpstream(new InferenceStreamError(String(event.error)), String(event.error));
        }
        if (typeof event?.text_output === 'string') yield event.text_output;
      }
    } catch (error) {
      if (error instanceof AxonError) throw error;
      if (error instanceof SseProtocolError) {
        throw withUpstream(new InferenceStreamError(error.message), error.message);
      }
      throw this.classify(error, undefined, signal);
    } finally {
      // Stops the upstream generation when our caller stops early (client gone, error).
      (body as { destroy?: () => void }).destroy?.();
    }
  }

  private body(request: GenerateRequest, stream: boolean) {
    const parameters: Record<string, number | boolean> = { max_tokens: request.maxTokens, stream };
    if (request.temperature !== undefined) parameters.temperature = request.temperature;
    if (request.topP !== undefined) parameters.top_p = request.topP;
    return { text_input: request.textInput, parameters };
  }

  private modelPath(model: string, route: 'generate' | 'generate_stream'): string {
    return `${this.base}/v2/models/${encodeURIComponent(model)}/${route}`;
  }

  private call(method: 'GET' | 'POST', path: string, body: string | undefined, timeoutMs: number) {
    return this.pool.request({
      method,
      path: this.base + path,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  private async readJson(res: { body: { text(): Promise<string> } }): Promise<unknown> {
    const text = await res.body.text();
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /** Triton's HTTP status for a refused request, as our error. */
  private statusError(status: number, upstream: unknown, model: string): AxonError {
    const detail = `${status}: ${typeof upstream === 'string' ? upstream : 'no error message'}`;
    if (status === 404) {
      // Gone from Triton since the index was read: the same answer as a model never served.
      return withUpstream(new ModelNotFoundError(model), detail);
    }
    if (status === 400) {
      return withUpstream(
        new InvalidRequestError(
          'inference_rejected',
          'The inference service rejected the request parameters; check max_tokens, temperature and top_p.',
        ),
        detail,
      );
    }
    return withUpstream(new InferenceUnavailableError(), detail);
  }

  private classify(error: unknown, deadline?: AbortSignal, client?: AbortSignal): Error {
    if (error instanceof AxonError) return error;
    if (deadline?.aborted) return new InferenceTimeoutError(error);
    if (client?.aborted) return new ClientGoneError('client went away', { cause: error });
    if ((error as { name?: unknown })?.name === 'TimeoutError')
      return new InferenceTimeoutError(error);
    const code = (error as { code?: unknown })?.code;
    if (typeof code === 'string' && TIMEOUT_CODES.has(code))
      return new InferenceTimeoutError(error);
    return new InferenceUnavailableError(error);
  }

  private async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const classified = this.classify(error);
        const retryable =
          classified instanceof InferenceUnavailableError && !upstreamDetail(classified);
        if (!retryable || attempt >= this.retries) throw classified;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
  }
}
