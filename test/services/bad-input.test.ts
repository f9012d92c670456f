/**
 * Bad input table: each malformed request is a 4xx in docs/api.md's envelope, naming the field,
 * never a 500. Real HTTP, so Fastify's own parsing errors (bad JSON, 413, 415) are covered too.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, envelope, freshKeyId, principal, type Stack, startStack } from './support.ts';

const MODEL = 'stub-echo-chatml';
const user = [{ role: 'user', content: 'hi' }];

interface Case {
  name: string;
  method?: string;
  path: string | ((session: string) => string);
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  type?: string;
  code: string;
  /** Text the message must contain (usually the field name). */
  mentions?: string;
}

const cases: Case[] = [
  {
    name: 'body is not JSON',
    path: '/chat/completions',
    body: '{"model": ',
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'JSON with a __proto__ key',
    path: '/chat/completions',
    body: '{"__proto__": {"x": 1}}',
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'empty JSON body',
    path: '/chat/completions',
    body: '',
    headers: { 'content-type': 'application/json' },
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'body is a JSON array',
    path: '/chat/completions',
    body: [],
    status: 400,
    code: 'invalid_type',
    mentions: 'body',
  },
  {
    name: 'body is text/plain',
    path: '/chat/completions',
    body: 'hello',
    headers: { 'content-type': 'text/plain' },
    status: 400,
    code: 'invalid_type',
    mentions: 'body',
  },
  {
    name: 'unsupported content type',
    path: '/chat/completions',
    body: '<x/>',
    headers: { 'content-type': 'application/xml' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'missing model',
    path: '/chat/completions',
    body: { messages: user },
    status: 400,
    code: 'missing_required_parameter',
    mentions: 'model',
  },
  {
    name: 'missing messages',
    path: '/chat/completions',
    body: { model: MODEL },
    status: 400,
    code: 'missing_required_parameter',
    mentions: 'messages',
  },
  {
    name: 'model of the wrong type',
    path: '/chat/completions',
    body: { model: 42, messages: user },
    status: 400,
    code: 'invalid_type',
    mentions: 'model',
  },
  {
    name: 'messages not an array',
    path: '/chat/completions',
    body: { model: MODEL, messages: 'hi' },
    status: 400,
    code: 'invalid_type',
    mentions: 'messages',
  },
  {
    name: 'empty messages',
    path: '/chat/completions',
    body: { model: MODEL, messages: [] },
    status: 400,
    code: 'invalid_value',
    mentions: 'messages',
  },
  {
    name: 'unknown role',
    path: '/chat/completions',
    body: { model: MODEL, messages: [{ role: 'wizard', content: 'x' }] },
    status: 400,
    code: 'invalid_value',
    mentions: 'messages[0].role',
  },
  {
    name: 'message without content',
    path: '/chat/completions',
    body: { model: MODEL, messages: [{ role: 'user' }] },
    status: 400,
    code: 'missing_required_parameter',
    mentions: 'messages[0].content',
  },
  {
    name: 'content part of an unknown type',
    path: '/chat/completions',
    body: {
      model: MODEL,
      messages: [{ role: 'user', content: [{ type: 'image_url', text: 'x' }] }],
    },
    status: 400,
    code: 'invalid_value',
    mentions: 'messages[0].content[0].type',
  },
  {
    name: 'temperature as a string',
    path: '/chat/completions',
    body: { model: MODEL, messages: user, temperature: 'hot' },
    status: 400,
    code: 'invalid_type',
    mentions: 'temperature',
  },
  {
    name: 'temperature out of range',
    path: '/chat/completions',
    body: { model: MODEL, messages: user, temperature: 7 },
    status: 400,
    code: 'invalid_value',
    mentions: 'temperature',
  },
  {
    name: 'max_tokens zero',
    path: '/chat/completions',
    body: { model: MODEL, messages: user, max_tokens: 0 },
    status: 400,
    code: 'invalid_value',
    mentions: 'max_tokens',
  },
  {
    name: 'max_tokens as a numeric string',
    path: '/chat/completions',
    body: { model: MODEL, messages: user, max_tokens: '5' },
    status: 400,
    code: 'invalid_type',
    mentions: 'max_tokens',
  },
  {
    name: 'max_tokens beyond the context window',
    path: '/chat/completions',
    body: { model: MODEL, messages: user, max_tokens: 10_000_000 },
    status: 400,
    code: 'invalid_value',
    mentions: 'max_tokens',
  },
  {
    name: 'stream not a boolean',
    path: '/chat/completions',
    body: { model: MODEL, messages: user, stream: 'yes' },
    status: 400,
    code: 'invalid_type',
    mentions: 'stream',
  },
  {
    name: 'more than one choice',
    path: '/chat/completions',
    body: { model: MODEL, messages: user, n: 3 },
    status: 400,
    code: 'invalid_value',
    mentions: 'n',
  },
  {
    name: 'unknown model',
    path: '/chat/completions',
    body: { model: 'no-such-model', messages: user },
    status: 404,
    code: 'model_not_found',
    mentions: 'The model `no-such-model` does not exist or you do not have access to it.',
  },
  {
    name: 'prompt longer than the context window',
    path: '/chat/completions',
    body: { model: MODEL, messages: [{ role: 'user', content: 'word '.repeat(20_000) }] },
    status: 400,
    code: 'context_length_exceeded',
    mentions: 'messages',
  },
  {
    name: 'body over 1 MB',
    path: '/chat/completions',
    body: { model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] },
    status: 413,
    code: 'request_too_large',
  },
  {
    name: 'unknown route',
    path: '/completions',
    body: { model: MODEL, prompt: 'x' },
    status: 404,
    type: 'not_found_error',
    code: 'not_found',
  },
  {
    name: 'wrong method',
    method: 'GET',
    path: '/chat/completions',
    status: 404,
    type: 'not_found_error',
    code: 'not_found',
  },
  {
    name: 'unknown model by id',
    method: 'GET',
    path: '/models/nope',
    status: 404,
    code: 'model_not_found',
    mentions: 'The model `nope` does not exist or you do not have access to it.',
  },
  {
    name: 'session with an unknown field',
    path: '/sessions',
    body: { modle: MODEL },
    status: 400,
    code: 'unknown_parameter',
    mentions: 'modle',
  },
  {
    name: 'session with an unknown model',
    path: '/sessions',
    body: { model: 'nope' },
    status: 404,
    code: 'model_not_found',
    mentions: 'The model `nope` does not exist or you do not have access to it.',
  },
  {
    name: 'session metadata value not a string',
    path: '/sessions',
    body: { metadata: { a: 1 } },
    status: 400,
    code: 'invalid_type',
    mentions: 'metadata.a',
  },
  {
    name: 'session metadata with too many keys',
    path: '/sessions',
    body: { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) },
    status: 400,
    code: 'invalid_value',
    mentions: 'metadata',
  },
  {
    name: 'list limit out of range',
    method: 'GET',
    path: '/sessions?limit=1000',
    status: 400,
    code: 'invalid_value',
    mentions: 'limit',
  },
  {
    name: 'list limit not a number',
    method: 'GET',
    path: '/sessions?limit=ten',
    status: 400,
    code: 'invalid_type',
    mentions: 'limit',
  },
  {
    name: 'list cursor that is not a session id',
    method: 'GET',
    path: '/sessions?after=page2',
    status: 400,
    code: 'invalid_value',
    mentions: 'after',
  },
  {
    name: 'unknown session',
    method: 'GET',
    path: '/sessions/sess_000000000000000000000000000000',
    status: 404,
    type: 'not_found_error',
    code: 'session_not_found',
  },
  {
    name: 'malformed session id',
    method: 'GET',
    path: '/sessions/..%2F..%2Fetc',
    status: 404,
    type: 'not_found_error',
    code: 'session_not_found',
  },
  {
    name: 'message to an unknown session',
    path: '/sessions/sess_000000000000000000000000000000/messages',
    body: { content: 'hi' },
    status: 404,
    type: 'not_found_error',
    code: 'session_not_found',
  },
  {
    name: 'delete an unknown session',
    method: 'DELETE',
    path: '/sessions/sess_000000000000000000000000000000',
    status: 404,
    type: 'not_found_error',
    code: 'session_not_found',
  },
  {
    name: 'message without content',
    path: (s) => `/sessions/${s}/messages`,
    body: {},
    status: 400,
    code: 'missing_required_parameter',
    mentions: 'content',
  },
  {
    name: 'message with empty content',
    path: (s) => `/sessions/${s}/messages`,
    body: { content: '' },
    status: 400,
    code: 'invalid_value',
    mentions: 'content',
  },
  {
    name: 'message content of the wrong type',
    path: (s) => `/sessions/${s}/messages`,
    body: { content: ['hi'] },
    status: 400,
    code: 'invalid_type',
    mentions: 'content',
  },
  {
    name: 'message with an unknown field',
    path: (s) => `/sessions/${s}/messages`,
    body: { content: 'hi', role: 'system' },
    status: 400,
    code: 'unknown_parameter',
    mentions: 'role',
  },
];

describe('bad input', () => {
  let stack: Stack;
  let session: string;
  const keyId = freshKeyId();

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl') });
    const created = await call(`${stack.url}/v1/sessions`, { headers: principal(keyId), body: {} });
    session = (created.body as { id: string }).id;
  });
  afterAll(() => stack.close());

  it.each(cases)('$name: $status $code', async (c) => {
    const path = typeof c.path === 'function' ? c.path(session) : c.path;
    const res = await call(`${stack.url}/v1${path}`, {
      ...(c.method ? { method: c.method } : {}),
      headers: { ...principal(keyId), ...c.headers },
      ...(c.body !== undefined ? { body: c.body } : {}),
    });
    expect(res.status).toBe(c.status);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const error = envelope(res.body);
    expect(error.type).toBe(c.type ?? 'invalid_request_error');
    expect(error.code).toBe(c.code);
    if (c.mentions) expect(error.message).toContain(c.mentions);
  });

  it('still serves good requests after all of that', async () => {
    const res = await call(`${stack.url}/v1/chat/completions`, {
      headers: principal(keyId),
      body: { model: MODEL, messages: user },
    });
    expect(res.status).toBe(200);
  });
});
