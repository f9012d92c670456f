/**
 * Forwarding to the session manager over `node:http` with a keep-alive agent (one pool per Lambda
 * instance). Why not undici: the undici package adds 270-530 KB to the bundle (past the 500 KB
 * cold-start budget), and Node's built-in `fetch` (undici inside Node) cost ~1 ms of CPU per
 * request and GC pauses that put the gateway's p99 15-30 ms above a direct call at 500
 * requests/s (bench:gateway); `node:http` costs half the CPU and a quarter of the GC.
 * Header hygiene of docs/api.md#forwarding: the client's credential, its `x-axon-*` headers and
 * hop-by-hop headers never cross; the principal, the request id and the shared secret that
 * tells the session manager the request came through the gateway are added.
 */
import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { SecretProvider } from '@axon/runtime/secrets';
import type { Principal } from '#authorizer/authorizer';
import type { CancelSignal } from './cancel.ts';
import type { ChunkHandlers, ChunkSource } from './chunks.ts';
import { ResponseTooLargeError, UpstreamTimeoutError, UpstreamUnavailableError } from './errors.ts';
import type { GatewayRequest, GatewayResponse } from './http.ts';

/** RFC 9110 section 7.6.1, plus the de facto `keep-alive` and `proxy-connection`. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers the gateway owns or that the client library computes. `accept-encoding` is
 * replaced by `identity`: the answer goes back through the ALB uncompressed.
 */
const NOT_FORWARDED = new Set([
  'authorization',
  'host',
  'content-length',
  'expect',
  'x-request-id',
  'accept-encoding',
]);

export const GATEWAY_SECRET_HEADER = 'x-axon-gateway-secret';
/** The principal's models (docs/api.md#model-access), believed only next to the secret. */
export const MODELS_HEADER = 'x-axon-models';
/** The session manager's answer: the model a session turn ran on (it names none itself). */
export const SERVED_MODEL_HEADER = 'x-axon-model';

export interface UpstreamOptions {
  /** Base URL of the session manager, e.g. `http://internal-alb.example:80`. */
  readonly url: string;
  /** Whole-exchange deadline: headers and body. */
  readonly timeoutMs: number;
  /** Value of `x-axon-gateway-secret`, as read at start. */
  readonly secret: string;
  /**
   * Where to read the secret again when the session manager refuses it (it was rotated).
   * @default - the secret is never re-read
   */
  readonly readSecret?: SecretProvider;
  /** Least time between two re-reads, so a misconfigured peer cannot cause a read per request. @default 1000 */
  readonly secretRefreshMs?: number;
  /** Largest response body the gateway returns (an ALB Lambda target caps it at 1 MB). */
  readonly maxResponseBytes: number;
}

/**
 * Hop-by-hop headers plus every header the `Connection` header names. Runs twice per request, and
 * nearly every `Connection` header says only `keep-alive` (already hop-by-hop), so the shared set
 * is returned unless the header names something else (copying it per call cost ~25 µs a request).
 */
function hopByHop(connection: readonly string[] | string | null | undefined): ReadonlySet<string> {
  if (!connection) return HOP_BY_HOP;
  let named: Set<string> | undefined;
  for (const value of typeof connection === 'string' ? [connection] : connection) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (HOP_BY_HOP.has(name)) continue;
      named ??= new Set(HOP_BY_HOP);
      named.add(name);
    }
  }
  return named ?? HOP_BY_HOP;
}

export function forwardedHeaders(
  request: GatewayRequest,
  principal: Principal,
  requestId: string,
  secret: string,
): Record<string, string | string[]> {
  const drop = hopByHop(request.headers.get('connection'));
  const headers: Record<string, string | string[]> = {};
  for (const [name, values] of request.headers) {
    if (drop.has(name) || NOT_FORWARDED.has(name) || name.startsWith('x-axon-')) continue;
    headers[name] = values.length === 1 ? (values[0] as string) : values;
  }
  headers['accept-encoding'] = 'identity';
  headers['x-axon-key-id'] = principal.keyId;
  headers['x-axon-plan'] = principal.plan;
  // The models the key may call, comma-separated (names never hold a comma: parseModelList);
  // absent means every model. The client's own x-axon-models was dropped above with the rest.
  if (principal.models) headers[MODELS_HEADER] = principal.models.join(',');
  headers['x-request-id'] = requestId;
  headers[GATEWAY_SECRET_HEADER] = secret;
  if (request.body.length > 0) headers['content-length'] = String(request.body.length);
  return headers;
}

/** Response headers the gateway recomputes or sets itself. */
const RESPONSE_NOT_PASSED = new Set(['content-length', 'content-encoding', 'x-request-id']);

class DeadlineError extends Error {}

const EMPTY = Buffer.alloc(0);

/** An upstream answer on the container edge's path: a stream is passed on as it arrives. */
export interface UpstreamStream {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  /** As `GatewayResponse.servedModel`. */
  readonly servedModel?: string;
  /**
   * A Server-Sent Events answer (`isEventStream`) as the session manager sends it, failing with
   * `UpstreamTimeoutError` when idle; any other answer (JSON, errors) read whole.
   */
  readonly body: Buffer | ChunkSource;
}

/** A 2xx `text/event-stream` answer: the only kind the streaming edge passes on chunk by chunk. */
export function isEventStream(status: number, headers: Record<string, string | string[]>): boolean {
  if (status < 200 || status >= 300) return false;
  const type = headers['content-type'];
  return (typeof type === 'string' ? type : type?.[0])?.startsWith('text/event-stream') ?? false;
}

export class Upstream {
  private readonly url: URL;
  private readonly basePath: string;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private secret: string;
  private secretReadAt = Number.NEGATIVE_INFINITY;
  private secretReading?: Promise<void>;
  private generation = 0;

  constructor(private readonly options: UpstreamOptions) {
    this.secret = options.secret;
    this.url = new URL(options.url);
    this.basePath = this.url.pathname.replace(/\/$/, '');
    const https = this.url.protocol === 'https:';
    const agentOptions = {
      keepAlive: true,
      keepAliveMsecs: 30_000,
      maxSockets: 64,
      maxFreeSockets: 64,
    };
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = https ? httpsRequest : httpRequest;
  }

  /** Goes up by one each time a re-read changes the secret; `rereadSecret` takes it back. */
  get secretGeneration(): number {
    return this.generation;
  }

  /**
   * Reads the gateway secret again after the session manager refused it, for a request sent at
   * `sentAt` (the `secretGeneration` it saw). True when the value is now different from the one
   * that request carried, so a retry can succeed: a request refused after another one already
   * caused a re-read gets true without a second read. Concurrent callers share one read, and
   * reads are at least `secretRefreshMs` apart, so a session manager that refuses every value
   * cannot turn each request into a Secrets Manager call. A failed read keeps the value in use.
   */
  async rereadSecret(sentAt: number): Promise<boolean> {
    if (this.generation !== sentAt) return true;
    const read = this.options.readSecret;
    if (!read) return false;
    if (!this.secretReading) {
      const now = performance.now();
      if (now - this.secretReadAt < (this.options.secretRefreshMs ?? 1000)) return false;
      this.secretReadAt = now;
      this.secretReading = read()
        .then((value) => {
          if (value !== '' && value !== this.secret) {
            this.secret = value;
            this.generation++;
          }
        })
        .catch(() => undefined)
        .finally(() => {
          this.secretReading = undefined;
        });
    }
    await this.secretReading;
    return this.generation !== sentAt;
  }

  private open(
    request: GatewayRequest,
    principal: Principal,
    requestId: string,
    onResponse: (incoming: IncomingMessage) => void,
  ): ClientRequest {
    return this.send(
      {
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: this.url.port,
        method: request.method,
        path: `${this.basePath}${request.path}${request.query ? `?${request.query}` : ''}`,
        headers: forwardedHeaders(request, principal, requestId, this.secret),
        agent: this.agent,
      },
      onResponse,
    );
  }

  /** One deadline for the whole exchange: connect, headers and the last byte of the body. */
  forward(
    request: GatewayRequest,
    principal: Principal,
    requestId: string,
  ): Promise<GatewayResponse> {
    const { timeoutMs, maxResponseBytes } = this.options;
    return new Promise<GatewayResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: unknown, response?: GatewayResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (response) resolve(response);
        else if (err instanceof ResponseTooLargeError) reject(err);
        else if (err instanceof DeadlineError) reject(new UpstreamTimeoutError(timeoutMs));
        else reject(new UpstreamUnavailableError(err));
      };
      const outgoing = this.open(request, principal, requestId, (incoming) => {
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) {
            outgoing.destroy();
            finish(new ResponseTooLargeError(maxResponseBytes));
            return;
          }
          chunks.push(chunk);
        });
        incoming.on('end', () => finish(undefined, toResponse(incoming, Buffer.concat(chunks))));
        incoming.on('error', (err) => finish(err));
        incoming.on('aborted', () => finish(new Error('upstream aborted the response')));
      });
      const timer = setTimeout(() => {
        finish(new DeadlineError());
        outgoing.destroy();
      }, timeoutMs);
      outgoing.on('error', (err) => finish(err));
      outgoing.end(request.body.length > 0 ? request.body : undefined);
    });
  }

  /**
   * For an event stream, resolves when the headers arrive, its body a `ChunkSource` not yet read
   * from; any other answer is read whole first (most answers are small JSON). The timeout bounds
   * the wait for the headers and every silence between two chunks, not the whole answer, so a
   * long generation that keeps producing tokens is never cut. Aborting `signal` (the client left)
   * destroys the upstream request, which the session manager sees as a closed connection and
   * stops generating.
   */
  stream(
    request: GatewayRequest,
    principal: Principal,
    requestId: string,
    signal?: CancelSignal,
  ): Promise<UpstreamStream> {
    const { timeoutMs } = this.options;
    return new Promise<UpstreamStream>((resolve, reject) => {
      let answered = false;
      const fail = (err: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', cancel);
        if (answered) return;
        answered = true;
        reject(
          err instanceof DeadlineError
            ? new UpstreamTimeoutError(timeoutMs)
            : new UpstreamUnavailableError(err),
        );
      };
      const cancel = () => outgoing.destroy(new Error('the client went away'));
      let idled = false;
      const outgoing = this.open(request, principal, requestId, (incoming) => {
        timer.refresh();
        const { status, headers, servedModel } = toResponse(incoming, EMPTY);
        const served = servedModel === undefined ? {} : { servedModel };
        if (!isEventStream(status, headers)) {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => {
            timer.refresh();
            chunks.push(chunk);
          });
          incoming.on('end', () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', cancel);
            answered = true;
            resolve({ status, headers, ...served, body: Buffer.concat(chunks) });
          });
          incoming.on('error', fail);
          incoming.on('aborted', () => fail(new Error('upstream aborted the response')));
          return;
        }
        answered = true;
        incoming.once('close', () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', cancel);
        });
        const body = new UpstreamEvents(
          incoming,
          () => timer.refresh(),
          (err) => (idled ? new UpstreamTimeoutError(timeoutMs) : err),
          (err) => outgoing.destroy(err instanceof Error ? err : new Error(String(err))),
        );
        resolve({ status, headers, ...served, body });
      });
      const timer = setTimeout(() => {
        if (answered) {
          idled = true;
        } else {
          fail(new DeadlineError());
        }
        outgoing.destroy();
      }, timeoutMs);
      if (signal?.aborted) cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
      outgoing.on('error', (err) => fail(err));
      outgoing.end(request.body.length > 0 ? request.body : undefined);
    });
  }
}

/**
 * An event stream's body as it arrives: listens for its end or failure at once (a reset before
 * `start` must not be an unhandled `error`), passes each chunk on from `start`, refreshing the
 * idle deadline at every one. A handler that throws cancels the upstream request, which ends the
 * stream as failed instead of throwing out of a socket event.
 */
class UpstreamEvents implements ChunkSource {
  private handlers: ChunkHandlers | undefined;
  private outcome: { err?: unknown } | undefined;

  constructor(
    private readonly incoming: IncomingMessage,
    private readonly onChunk: () => void,
    private readonly failure: (err: unknown) => unknown,
    private readonly cancel: (err: unknown) => void,
  ) {
    incoming.once('end', () => this.finish({}));
    incoming.once('error', (err) => this.finish({ err }));
    // Destroyed without an error (the request was cut here): still not a complete stream.
    incoming.once('close', () =>
      this.finish({ err: new Error('the stream closed before its end') }),
    );
  }

  start(handlers: ChunkHandlers): void {
    this.handlers = handlers;
    if (this.outcome) {
      this.report(this.outcome);
      return;
    }
    this.incoming.on('data', (chunk: Buffer) => {
      this.onChunk();
      try {
        handlers.chunk(chunk);
      } catch (err) {
        this.cancel(err);
      }
    });
  }

  pause(): void {
    this.incoming.pause();
  }

  resume(): void {
    this.incoming.resume();
  }

  private finish(outcome: { err?: unknown }): void {
    if (this.outcome) return;
    this.outcome = outcome;
    if (this.handlers) this.report(outcome);
  }

  private report(outcome: { err?: unknown }): void {
    const handlers = this.handlers as ChunkHandlers;
    if ('err' in outcome) handlers.fail(this.failure(outcome.err));
    else handlers.end();
  }
}

function toResponse(incoming: IncomingMessage, body: Buffer): GatewayResponse {
  const drop = hopByHop(incoming.headers.connection);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (
      value === undefined ||
      drop.has(name) ||
      RESPONSE_NOT_PASSED.has(name) ||
      name.startsWith('x-axon-')
    )
      continue;
    headers[name] = value;
  }
  const served = incoming.headers[SERVED_MODEL_HEADER];
  return {
    status: incoming.statusCode ?? 502,
    headers,
    body,
    ...(typeof served === 'string' && { servedModel: served }),
  };
}
