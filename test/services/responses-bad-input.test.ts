/**
 * Bad input to the Responses and Conversations APIs: each case gets its status and code in the
 * OpenAI error envelope (unsupported features with `param` naming the field), never a 500 or a
 * silent ignore; values that ask for nothing unsupported are accepted.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESPONSE_CASES } from './responses-cases.ts';
import { call, envelope, freshKeyId, principal, type Stack, startStack } from './support.ts';

const MODEL = 'stub-echo-chatml';
const longText = 'word '.repeat(40_000);

const CONVERSATION_CASES: [string, string, string, unknown, number, string, string?][] = [
  [
    'a system item',
    'POST',
    '/v1/conversations',
    { items: [{ role: 'system', content: 'x' }] },
    400,
    'unsupported_parameter',
    'items[0].role',
  ],
  [
    'an image item',
    'POST',
    '/v1/conversations',
    { items: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x' }] }] },
    400,
    'unsupported_parameter',
    'items[0].content[0].type',
  ],
  ['an unknown field', 'POST', '/v1/conversations', { title: 'x' }, 400, 'unknown_parameter'],
  ['bad metadata', 'POST', '/v1/conversations', { metadata: { k: 7 } }, 400, 'invalid_type'],
  [
    'a garbled conversation id',
    'GET',
    '/v1/conversations/conv_..%2F..%2Fsess_x',
    undefined,
    404,
    'conversation_not_found',
  ],
  ['a garbled response id', 'GET', '/v1/responses/not-an-id', undefined, 404, 'response_not_found'],
  [
    'items without items',
    'POST',
    '/v1/conversations/conv_x/items',
    {},
    400,
    'missing_required_parameter',
  ],
  [
    'a list limit past 100',
    'GET',
    '/v1/responses/resp_x/input_items?limit=101',
    undefined,
    400,
    'invalid_value',
  ],
  [
    'an unknown list order',
    'GET',
    '/v1/conversations/conv_x/items?order=up',
    undefined,
    400,
    'invalid_value',
  ],
];

describe('bad input to the Responses and Conversations APIs', () => {
  let stack: Stack;
  let headers: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl') });
    headers = principal(freshKeyId());
  });
  afterAll(() => stack.close());

  it.each(
    RESPONSE_CASES.map(([name, body, status, code, param]) => ({
      name,
      body,
      status,
      code,
      param,
    })),
  )(
    'POST /v1/responses with $name answers $status $code',
    async ({ body, status, code, param }) => {
      const reply = await call(`${stack.url}/v1/responses`, { headers, body });
      expect(reply.status).toBe(status);
      const error = envelope(reply.body);
      expect(error.code).toBe(code);
      if (param !== undefined) {
        expect((reply.body as { error: { param?: string } }).error.param).toBe(param);
        expect(error.message).toContain(param);
      }
    },
  );

  it.each(
    CONVERSATION_CASES.map(([name, method, path, body, status, code, param]) => ({
      name,
      method,
      path,
      body,
      status,
      code,
      param,
    })),
  )(
    '$method $path with $name answers $status $code',
    async ({ method, path, body, status, code, param }) => {
      const reply = await call(`${stack.url}${path}`, { method, headers, body });
      expect(reply.status).toBe(status);
      expect(envelope(reply.body).code).toBe(code);
      if (param !== undefined) {
        expect((reply.body as { error: { param?: string } }).error.param).toBe(param);
      }
    },
  );

  it('creates a conversation from a POST without any body', async () => {
    const reply = await call(`${stack.url}/v1/conversations`, { method: 'POST', headers });
    expect(reply.status).toBe(200);
    expect((reply.body as { id: string }).id).toMatch(/^conv_/);
  });

  it('accepts the values of unsupported fields that ask for nothing', async () => {
    const reply = await call(`${stack.url}/v1/responses`, {
      headers,
      body: {
        model: MODEL,
        input: 'harmless',
        truncation: 'disabled',
        text: { format: { type: 'text' } },
        tools: [],
        tool_choice: 'none',
        parallel_tool_calls: false,
        include: [],
        background: false,
        reasoning: null,
        user: 'someone',
        service_tier: 'auto',
      },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      status: 'completed',
      tool_choice: 'none',
      parallel_tool_calls: false,
    });
  });

  it('trims a long history instead of refusing it when truncation is auto', async () => {
    const input = [
      { role: 'user', content: longText.slice(0, 20_000) },
      { role: 'assistant', content: longText.slice(0, 20_000) },
      { role: 'user', content: 'the newest question' },
    ];
    const refused = await call(`${stack.url}/v1/responses`, {
      headers,
      body: { model: MODEL, input },
    });
    expect(envelope(refused.body).code).toBe('context_length_exceeded');
    const trimmed = await call(`${stack.url}/v1/responses`, {
      headers,
      body: { model: MODEL, input, truncation: 'auto' },
    });
    expect(trimmed.status).toBe(200);
    expect(trimmed.body).toMatchObject({
      output: [{ content: [{ text: '[stub] You said: the newest question' }] }],
    });
  });
});
