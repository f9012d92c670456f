import { describe, expect, it } from 'vitest';
import { usedTokens } from '#gateway/usage';

describe('used tokens of an answer', () => {
  it.each([
    ['application/json', '{"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}', 7],
    ['application/json; charset=utf-8', '{"message":{},"usage":{"total_tokens":12}}', 12],
    ['application/json', '{"data":[]}', undefined],
    ['application/json', 'not json', undefined],
    ['application/json', '{"usage":{"total_tokens":-5}}', undefined],
    ['application/json', '{"usage":{"total_tokens":"9"}}', undefined],
    [
      'text/event-stream',
      'data: {"choices":[]}\n\ndata: {"choices":[],"usage":{"total_tokens":40}}\n\ndata: [DONE]\n\n',
      40,
    ],
    [
      'text/event-stream',
      'data: {"choices":[]}\n\n: usage {"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}\n\ndata: [DONE]\n\n',
      3,
    ],
    ['text/event-stream', 'data: {"choices":[]}\n\ndata: [DONE]\n\n', undefined],
    ['text/plain', '{"usage":{"total_tokens":7}}', undefined],
    ['application/json', '{"object":"response","usage":{"input_tokens":5,"output_tokens":6}}', 11],
    ['application/json', '{"usage":{"input_tokens":5}}', undefined],
    [
      'text/event-stream',
      'event: response.created\ndata: {"type":"response.created","response":{"usage":null}}\n\n' +
        'event: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":8,"output_tokens":9,"total_tokens":17}}}\n\n',
      17,
    ],
    [
      'text/event-stream',
      'event: response.incomplete\ndata: {"type":"response.incomplete","response":{"usage":{"input_tokens":8,"output_tokens":2}}}\n\n',
      10,
    ],
    [
      'text/event-stream',
      'data: {"type":"response.output_text.delta","delta":"x","usage":{"input_tokens":"8"}}\n\n',
      undefined,
    ],
  ])('reads %s %j as %s', (contentType, body, expected) => {
    expect(usedTokens(contentType, Buffer.from(body))).toBe(expected);
  });
});
