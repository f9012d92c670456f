/**
 * What the gateway knows about a request before it asks the limiter: whether it can be refused
 * without the model (refused before anything is charged), and, for a route that reaches the
 * model, the LLM tokens to reserve. A route table decides, so a new model route (for example
 * `/v1/responses`) is one line here and can never reach the model unreserved.
 *
 * The estimate is deliberately crude and cheap: body bytes / 4 (about one token per four bytes
 * of English text and JSON; a body is at most 1 MB, so the estimate is bounded) plus the
 * completion cap the request names, or the plan's `defaultCompletionTokens`. It does not
 * tokenize: the gateway only has to bound what a request may take, and settlement books the
 * real usage afterwards, debiting anything beyond the reservation. A session route's stored
 * history is not in the body, so its reservation is low by that much; settlement debits it.
 */

import { AxonError } from '@axon/runtime/errors';
import { DEFAULT_COMPLETION_TOKENS, type PlanLimits } from '#shared/config';
import { RequestTooLargeError } from './errors.ts';
import type { GatewayRequest } from './http.ts';

interface ModelRoute {
  readonly method: string;
  readonly path: RegExp;
  /** Request fields that cap the completion, first present wins (as the session manager reads them). */
  readonly completionFields: readonly string[];
}

/** Every route that reaches the model, and where its completion cap is named. */
export const MODEL_ROUTES: readonly ModelRoute[] = [
  {
    method: 'POST',
    path: /^\/v1\/chat\/completions\/?$/,
    completionFields: ['max_completion_tokens', 'max_tokens'],
  },
  {
    method: 'POST',
    path: /^\/v1\/sessions\/[^/]+\/messages\/?$/,
    completionFields: ['max_tokens'],
  },
  { method: 'POST', path: /^\/v1\/responses\/?$/, completionFields: ['max_output_tokens'] },
];

/** One token per this many body bytes: the usual rule of thumb for English text and JSON. */
export const BYTES_PER_TOKEN = 4;

/** 400 `invalid_json`, in the session manager's words, so a client sees one error either way. */
export class InvalidJsonError extends AxonError {
  constructor(detail: string) {
    super(400, 'invalid_request_error', 'invalid_json', `body: ${detail}; send a JSON object.`);
  }
}

export interface Admission {
  /** LLM tokens to reserve: 0 for a route that does not reach the model. */
  readonly tokenCost: number;
  /** True when the route reaches the model: an answer without usage is then unknown use. */
  readonly modelRoute: boolean;
  /**
   * On a model route, the request's worst case, uncapped: its prompt estimate and completion
   * cap, which its cost reservation is priced from, and the model its body names (none on a
   * session turn: the session keeps it).
   */
  readonly worstCase?: { readonly input: number; readonly output: number; readonly model?: string };
}

function modelRouteOf(request: GatewayRequest): ModelRoute | undefined {
  for (const route of MODEL_ROUTES) {
    if (route.method === request.method && route.path.test(request.path)) return route;
  }
  return undefined;
}

function isJson(request: GatewayRequest): boolean {
  const type = request.headers.get('content-type')?.[0]?.toLowerCase() ?? '';
  return type.startsWith('application/json') || /^application\/[\w.+-]+\+json/.test(type);
}

function parseBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidJsonError('not valid JSON');
  }
}

function completionCap(
  body: Record<string, unknown>,
  route: ModelRoute,
  limits: PlanLimits,
): number {
  for (const field of route.completionFields) {
    const value = body[field];
    // An invalid value is the session manager's to refuse (400, nothing generated); the
    // reservation then uses the plan's default and settlement gives it all back.
    if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  }
  return limits.defaultCompletionTokens ?? DEFAULT_COMPLETION_TOKENS;
}

/**
 * Refuses what can be refused without the model, or says what to reserve. Throws
 * `RequestTooLargeError` (413) or `InvalidJsonError` (400); the caller answers those before
 * admission, so they charge nothing.
 */
export function admissionOf(
  request: GatewayRequest,
  limits: PlanLimits,
  maxBodyBytes: number,
): Admission {
  if (request.body.length > maxBodyBytes) throw new RequestTooLargeError(maxBodyBytes);
  const route = modelRouteOf(request);
  if (!route) {
    if (request.body.length > 0 && isJson(request)) parseBody(request.body);
    return { tokenCost: 0, modelRoute: false };
  }
  if (request.body.length === 0) throw new InvalidJsonError('empty');
  const body = parseBody(request.body);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidJsonError('not a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const prompt = Math.ceil(request.body.length / BYTES_PER_TOKEN);
  const completion = completionCap(fields, route, limits);
  const model = typeof fields.model === 'string' ? fields.model : undefined;
  const worstCase = { input: prompt, output: completion, ...(model !== undefined && { model }) };
  const capacity = limits.tokenBurst ?? limits.tokensPerMinute;
  if (capacity === undefined) return { tokenCost: 0, modelRoute: true, worstCase };
  // Capped at the bucket's capacity: a full bucket admits any single request, so every plan can
  // always serve one, however large its worst case. (A budget is not: money is money.)
  return { tokenCost: Math.min(capacity, prompt + completion), modelRoute: true, worstCase };
}
