/**
 * Bad request bodies for POST /v1/responses with the status and code each must get, shared by
 * the service tests and the end-to-end tests through the gateway.
 */
const MODEL = 'stub-echo-chatml';
const longText = 'word '.repeat(40_000);

export type Case = [name: string, body: unknown, status: number, code: string, param?: string];

export const RESPONSE_CASES: Case[] = [
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
  ['an unknown model', { model: 'no-such-model', input: 'x' }, 404, 'model_not_found'],
  [
    'an input longer than the window',
    { model: MODEL, input: longText },
    400,
    'context_length_exceeded',
  ],
  ['a body that is not JSON', '{"model":', 400, 'invalid_json'],
];
