/**
 * Forwarding to the session manager with Node's built-in `fetch`: undici as Node ships it, with
 * its keep-alive connection pool. Bundling the undici package instead would add ~530 KB to the
 * Lambda (three times the rest of the gateway) for the same client.
 * Header hygiene of SPEC.md section 4: the client's credential, its `x-axon-*` headers and
 * hop-by-hop headers never cross; the principal, the request id and the shared secret that
 * tells the session manager the request came through the gateway are added.
 */
import type { Principal } from '#authorizer/authorizer';
import { ResponseTooLargeError, UpstreamTimeoutError, UpstreamUnavailableError } from './errors.ts';
import type { GatewayRequest, GatewayResponse } from './http.ts';

/** RFC 9110 section 7.6.1, plus the de facto `keep-alive` and `proxy-connection`. */
const HOP_BY_HOP = new Set([
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
 * Request headers the gateway owns or that fetch computes itself. `accept-encoding` is replaced
 * by `identity`: fetch would transparently decompress, and the ALB answer is not compressed.
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

export interface UpstreamOptions {
  /** Base URL of the session manager, e.g. `http://internal-alb.example:80`. */
  readonly url: string;
  /** Whole-exchange deadline: headers and body. */
  readonly timeoutMs: number;
  /** Value of `x-axon-gateway-secret`. */
  readonly secret: string;
  /** Largest response body the gateway returns (an ALB Lambda target caps it at 1 MB). */
  readonly maxResponseBytes: number;
}

/** Hop-by-hop headers plus every header the `Connection` header names. */
function hopByHop(connection: readonly string[] | string | null | undefined): Set<string> {
  const named = new Set(HOP_BY_HOP);
  for (const value of [connection ?? []].flat()) {
    for (const token of value.split(',')) named.add(token.trim().toLowerCase());
  }
  return named;
}

export function forwardedHeaders(
  request: GatewayRequest,
  principal: Principal,
  requestId: string,
  secret: string,
): [string, string][] {
  const drop = hopByHop(request.headers.get('connection'));
  const headers: [string, string][] = [];
  for (const [name, values] of request.headers) {
    if (drop.has(name) || NOT_FORWARDED.has(name) || name.startsWith('x-axon-')) continue;
    for (const value of values) headers.push([name, value]);
  }
  headers.push(
    ['accept-encoding', 'identity'],
    ['x-axon-key-id', principal.keyId],
    ['x-axon-plan', principal.plan],
    ['x-request-id', requestId],
    [GATEWAY_SECRET_HEADER, secret],
  );
  return headers;
}

function isTimeout(err: unknown): boolean {
  const { name, cause } = err as { name?: string; cause?: { code?: string } };
  return name === 'TimeoutError' || cause?.code === 'UND_ERR_CONNECT_TIMEOUT';
}

export class Upstream {
  private readonly base: string;

  constructor(private readonly options: UpstreamOptions) {
    this.base = new URL(options.url).href.replace(/\/$/, '');
  }

  async forward(
    request: GatewayRequest,
    principal: Principal,
    requestId: string,
  ): Promise<GatewayResponse> {
    const { timeoutMs, maxResponseBytes } = this.options;
    const url = `${this.base}${request.path}${request.query ? `?${request.query}` : ''}`;
    const hasBody = request.body.length > 0 && !['GET', 'HEAD'].includes(request.method);
    // One deadline for the whole exchange: connect, headers and the last byte of the body.
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetch(url, {
        method: request.method,
        headers: forwardedHeaders(request, principal, requestId, this.options.secret),
        ...(hasBody && { body: request.body }),
        redirect: 'manual',
        signal,
      });
      const body = await readLimited(response, maxResponseBytes);
      const drop = hopByHop(response.headers.get('connection'));
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of response.headers) {
        if (drop.has(name) || RESPONSE_NOT_PASSED.has(name) || name.startsWith('x-axon-')) continue;
        headers[name] = name === 'set-cookie' ? response.headers.getSetCookie() : value;
      }
      return { status: response.status, headers, body };
    } catch (err) {
      if (err instanceof ResponseTooLargeError) throw err;
      throw isTimeout(err) || signal.aborted
        ? new UpstreamTimeoutError(timeoutMs)
        : new UpstreamUnavailableError(err);
    }
  }
}

/** Response headers the gateway recomputes or sets itself. */
const RESPONSE_NOT_PASSED = new Set(['content-length', 'content-encoding', 'x-request-id']);

/** The body, or `ResponseTooLargeError` as soon as it grows past `limit` bytes. */
async function readLimited(response: Response, limit: number): Promise<Buffer> {
  if (!response.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > limit) {
      await response.body.cancel().catch(() => {});
      throw new ResponseTooLargeError(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
