/**
 * Starts what a session-manager test needs, all real: the Triton stand-in and the service on
 * loopback port 0, against a redis-server the test harness (or the test) started.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import {
  type InferenceStub,
  type InferenceStubOptions,
  startInferenceStub,
} from '../../services/inference-stub/src/index.ts';
import { type AppOptions, buildApp } from '../../services/session-manager/src/app.ts';

export const GATEWAY_SECRET = 'test-gateway-secret-0123456789';

/** Headers the gateway would add for an authenticated key. */
export function principal(keyId: string, plan = 'free'): Record<string, string> {
  return { 'x-axon-gateway-secret': GATEWAY_SECRET, 'x-axon-key-id': keyId, 'x-axon-plan': plan };
}

/** A key id no other test uses, so tests sharing one Redis never see each other's sessions. */
export function freshKeyId(): string {
  return `key_${randomUUID().replaceAll('-', '')}`;
}

export interface Stack {
  app: FastifyInstance;
  /** Base URL of the session manager, e.g. http://127.0.0.1:40123 */
  url: string;
  stub: InferenceStub;
  close(): Promise<void>;
}

export async function startStack(
  app: Partial<AppOptions> & Pick<AppOptions, 'redisUrl' | 'redisClusterNodes' | 'redis'>,
  stubOptions: InferenceStubOptions = {},
): Promise<Stack> {
  const stub = await startInferenceStub({ log: () => {}, ...stubOptions });
  const service = await buildApp({
    tritonUrl: stub.url,
    gatewaySecret: GATEWAY_SECRET,
    modelsCacheMs: 0,
    ...app,
  });
  const url = await service.listen({ port: 0, host: '127.0.0.1' });
  return {
    app: service,
    url,
    stub,
    async close() {
      await service.close();
      await stub.close();
    },
  };
}

export interface JsonReply {
  status: number;
  headers: Headers;
  body: unknown;
}

/** A real HTTP request with a JSON body (a string is sent as is, for malformed bodies). */
export async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<JsonReply> {
  const hasBody = init.body !== undefined;
  const res = await fetch(url, {
    method: init.method ?? (hasBody ? 'POST' : 'GET'),
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(hasBody
      ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }
      : {}),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: res.status, headers: res.headers, body };
}

/** Asserts the error envelope of docs/api.md#errors and returns its error object. */
export function envelope(body: unknown): { message: string; type: string; code: string } {
  const error = (body as { error?: { message?: unknown; type?: unknown; code?: unknown } })?.error;
  if (
    typeof error?.message !== 'string' ||
    typeof error.type !== 'string' ||
    typeof error.code !== 'string'
  ) {
    throw new Error(`not the error envelope: ${JSON.stringify(body)}`);
  }
  return error as { message: string; type: string; code: string };
}

/** The `data:` payloads of an SSE body. */
export function sseEvents(text: string): string[] {
  return text
    .split(/\n\n/)
    .map((block) =>
      block
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n'),
    )
    .filter(Boolean);
}
