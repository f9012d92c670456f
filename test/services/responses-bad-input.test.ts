/**
 * Bad input to the Responses and Conversations APIs: each case gets its status and code in the
 * OpenAI error envelope (unsupported features with `param` naming the field), never a 500 or a
 * silent ignore; values that ask for nothing unsupported are accepted.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, envelope, freshKeyId, principal, type Stack, startStack } from './support.ts';

const MODEL = 'stub-echo-chatml';
const longText = 'word '.repeat(40_000);

type Case = [name: string, body: unknown, status: number, code: string, param?: string];

const RESPONSE_CASES: Case[] = [
  ['no model', { input: 'x' }, 400, 'missing_required_parameter'],
  ['no input', { model: MODEL }, 400, 'missing_required_parameter'],
  ['input of the wrong type', { model: MODEL, input: 42 }, 400, 'invalid_type'],
  ['an empty input list', { model: MODEL, input: [] }, 400, 'invalid_type'],
  [
    'an unknown role',
    { model: MODEL, input: [{ role: 'robot', content: 'x' }] },
    400,
    'invalid_value',
  ],
  [
    'an image part',
    {
      model: MODEL,
      input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }],
    },
    400,
    'unsupported_parameter',
    'input[0].content[0].type',
  ],
  [
    'a file part',
    {
      model: MODEL,
      input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file_1' }] }],
    },
    400,
    'unsupported_parameter',
    'input[0].content[0].type',
  ],
  [
    'a tool output item',
    { model: MODEL, input: [{ type: 'function_call_output', call_id: 'c', output: 'x' }] },
    400,
    'unsupported_parameter',
    'input[0].type',
  ],
  [
    'an output_text part in a user message',
    { model: MODEL, input: [{ role: 'user', content: [{ type: 'output_text', text: 'x' }] }] },
    400,
    'invalid_value',
  ],
  [
    'a part without text',
    { model: MODEL, input: [{ role: 'user', content: [{ type: 'input_text' }] }] },
    400,
    'invalid_type',
  ],
  [
    'tools',
    { model: MODEL, input: 'x', tools: [{ type: 'function', name: 'f', parameters: {} }] },
    400,
    'unsupported_parameter',
    'tools',
  ],
  [
    'tool_choice required',
    { model: MODEL, input: 'x', tool_choice: 'required' },
    400,
    'unsupported_parameter',
    'tool_choice',
  ],
  [
    'background',
    { model: MODEL, input: 'x', background: true },
    400,
    'unsupported_parameter',
    'background',
  ],
  [
    'reasoning options',
    { model: MODEL, input: 'x', reasoning: { effort: 'high' } },
    400,
    'unsupported_parameter',
    'reasoning',
  ],
  [
    'include',
    { model: MODEL, input: 'x', include: ['reasoning.encrypted_content'] },
    400,
    'unsupported_parameter',
    'include',
  ],
  [
    'a JSON schema output format',
    { model: MODEL, input: 'x', text: { format: { type: 'json_schema', name: 'n', schema: {} } } },
    400,
    'unsupported_parameter',
    'text.format',
  ],
  [
    'a prompt template',
    { model: MODEL, input: 'x', prompt: { id: 'pmpt_1' } },
    400,
    'unsupported_parameter',
    'prompt',
  ],
  [
    'both previous_response_id and conversation',
    { model: MODEL, input: 'x', previous_response_id: 'resp_x', conversation: 'conv_x' },
    400,
    'conflicting_parameters',
  ],
  [
    'an unknown previous_response_id',
    { model: MODEL, input: 'x', previous_response_id: 'resp_nope' },
    404,
    'response_not_found',
  ],
  [
    'an unknown conversation',
    { model: MODEL, input: 'x', conversation: { id: 'conv_nope' } },
    404,
    'conversation_not_found',
  ],
  [
    'a session id as conversation',
    { model: MODEL, input: 'x', conversation: 'sess_nope' },
    404,
    'conversation_not_found',
  ],
  [
    'max_output_tokens of 0',
    { model: MODEL, input: 'x', max_output_tokens: 0 },
    400,
    'invalid_value',
  ],
  [
    'max_output_tokens past the window',
    { model: MODEL, input: 'x', max_output_tokens: 10_000_000 },
    400,
    'invalid_value',
  ],
  ['temperature above 2', { model: MODEL, input: 'x', temperature: 3 }, 400, 'invalid_value'],
  [
    'stream that is not a boolean',
    { model: MODEL, input: 'x', stream: 'yes' },
    400,
    'invalid_type',
  ],
  ['store that is not a boolean', { model: MODEL, input: 'x', store: 'no' }, 400, 'invalid_type'],
  [
    'an unknown truncation',
    { model: MODEL, input: 'x', truncation: 'middle' },
    400,
    'invalid_value',
  ],
  [
    'too much metadata',
    {
      model: MODEL,
      input: 'x',
      metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])),
    },
    400,
    'invalid_value',
  ],
  ['an unknown model', { model: 'no-such-model', input: 'x' }, 400, 'model_not_found'],
  [
    'an input longer than the window',
    { model: MODEL, input: longText },
    400,
    'context_length_exceeded',
  ],
  ['a body that is not JSON', '{"model":', 400, 'invalid_json'],
];

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
