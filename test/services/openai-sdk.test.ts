/**
 * The official `openai` SDK, pointed at the session manager over real HTTP, must work as it
 * does against OpenAI: model lists, completions, streamed completions, errors as APIError.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freshKeyId, principal, type Stack, startStack } from './support.ts';

describe('session manager through the official openai SDK', () => {
  let stack: Stack;
  let client: OpenAI;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl') });
    client = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: 'unused',
      maxRetries: 0,
      defaultHeaders: principal(freshKeyId(), 'pro'),
    });
  });
  afterAll(() => stack.close());

  it('lists the models of the repository index', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids.sort()).toEqual(['stub-echo-chatml', 'stub-echo-llama3']);
    const one = await client.models.retrieve('stub-echo-llama3');
    expect(one).toMatchObject({ id: 'stub-echo-llama3', object: 'model' });
  });

  it('returns a chat completion with usage', async () => {
    const completion = await client.chat.completions.create({
      model: 'stub-echo-chatml',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'ping from the sdk' },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message).toMatchObject({
      role: 'assistant',
      content: '[stub] You said: ping from the sdk',
    });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    const usage = completion.usage;
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0));
  });

  it('streams a chat completion that reassembles to the non-streamed text', async () => {
    const stream = await client.chat.completions.create({
      model: 'stub-echo-llama3',
      messages: [{ role: 'user', content: 'stream me please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('[stub] You said: stream me please');
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('applies stop sequences and max_tokens', async () => {
    const stopped = await client.chat.completions.create({
      model: 'stub-echo-chatml',
      messages: [{ role: 'user', content: 'alpha beta gamma' }],
      stop: [' beta'],
    });
    expect(stopped.choices[0]?.message.content).toBe('[stub] You said: alpha');
    expect(stopped.choices[0]?.finish_reason).toBe('stop');

    const cut = await client.chat.completions.create({
      model: 'stub-echo-chatml',
      messages: [{ role: 'user', content: 'one two three four five six seven' }],
      max_tokens: 3,
    });
    expect(cut.choices[0]?.message.content).toBe('[stub] You said:');
    expect(cut.choices[0]?.finish_reason).toBe('length');
  });

  it('raises the envelope as APIError for an unknown model', async () => {
    const error = await client.chat.completions
      .create({ model: 'gpt-nonexistent', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_found');
    expect((error as InstanceType<typeof OpenAI.APIError>).type).toBe('invalid_request_error');
  });
});
