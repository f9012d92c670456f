/**
 * The operator's walkthrough of README "Govern keys" and docs/api.md#walkthrough, in that order,
 * on `npm start` with the repository's own config/axon.json: create a key with a model list and a
 * budget, call with the official `openai` SDK, read the key's usage and cost through the admin
 * API and `npm run keys -- usage --local`. The numbers read back must be the ones the client was
 * told, to the token, with no export in between (the ledger is read live). Everything is real
 * except Triton (the labelled stand-in).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.ts';
import { type RunningStack, startStack } from './local-stack.ts';

const config = JSON.parse(readFileSync(join(REPO_ROOT, 'config', 'axon.json'), 'utf8')) as {
  prices: Record<string, { inputPerMillion: number; outputPerMillion: number }>;
};
const MODEL = 'stub-echo-chatml';

describe('operator walkthrough on npm start', () => {
  let stack: RunningStack;
  beforeAll(async () => {
    stack = await startStack(config);
  }, 90_000);
  afterAll(async () => {
    await stack?.dispose();
  });

  const admin = async (adminKey: string, path: string) => {
    const reply = await fetch(`${stack.url}/v1/organization${path}`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
  };

  it('creates a key with a model list and a budget, calls, and reads its usage and cost', async () => {
    const created = await stack.keys(
      'create',
      '--plan',
      'free',
      '--owner',
      'alice',
      '--models',
      MODEL,
      '--daily-budget-usd',
      '5',
    );
    const { key, keyId } = created as { key: string; keyId: string };
    const { key: adminKey } = (await stack.keys('create-admin', '--owner', 'ops')) as {
      key: string;
    };
    const openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: key, maxRetries: 0 });

    const told = { requests: 0, input: 0, output: 0 };
    for (const content of ['hello', 'how much did that cost?']) {
      const reply = await openai.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content }],
      });
      told.requests++;
      told.input += reply.usage?.prompt_tokens ?? Number.NaN;
      told.output += reply.usage?.completion_tokens ?? Number.NaN;
    }
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'stream it' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      if (chunk.usage) {
        told.requests++;
        told.input += chunk.usage.prompt_tokens;
        told.output += chunk.usage.completion_tokens;
      }
    }
    expect(told.requests).toBe(3);
    await expect(
      openai.chat.completions.create({
        model: 'stub-echo-llama3',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });

    const today = Math.floor(Date.now() / 86_400_000) * 86_400;
    const usage = await admin(
      adminKey,
      `/usage/completions?start_time=${today}&api_key_ids=${keyId}&group_by=model`,
    );
    expect(usage.status).toBe(200);
    const results = (usage.body.data as { results: Record<string, unknown>[] }[]).flatMap(
      (bucket) => bucket.results,
    );
    expect(results).toEqual([
      expect.objectContaining({
        model: MODEL,
        num_model_requests: told.requests,
        input_tokens: told.input,
        output_tokens: told.output,
      }),
    ]);

    const price = config.prices[MODEL] as { inputPerMillion: number; outputPerMillion: number };
    const expectedUsd =
      (told.input * price.inputPerMillion + told.output * price.outputPerMillion) / 1e6;
    const costs = await admin(adminKey, `/costs?start_time=${today}&api_key_ids=${keyId}`);
    const amount = (costs.body.data as { results: { amount: { value: number } }[] }[])[0]
      ?.results[0]?.amount.value;
    expect(amount).toBeCloseTo(expectedUsd, 9);

    const cli = (await stack.keys('usage', '--key', keyId, '--since', '1d')) as {
      live: boolean;
      total: { requests: number; inputTokens: number; outputTokens: number; costUsd: number };
    };
    expect(cli.live).toBe(true);
    expect(cli.total).toMatchObject({
      requests: told.requests,
      inputTokens: told.input,
      outputTokens: told.output,
    });
    expect(cli.total.costUsd).toBeCloseTo(expectedUsd, 9);

    // The model key cannot read usage; the admin key cannot call a model.
    expect((await admin(key, '/usage/completions?start_time=0')).status).toBe(403);
    await expect(
      new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: adminKey, maxRetries: 0 }).models.list(),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('refuses a request whose worst case is over the budget with 429 insufficient_quota', async () => {
    // 1 024 completion tokens (the default worst case) at $10 per million is $0.01024: more than
    // the whole budget. Asking for at most 16 fits it.
    const { key } = (await stack.keys(
      'create',
      '--plan',
      'free',
      '--daily-budget-usd',
      '0.001',
    )) as { key: string };
    const openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: key, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'hello' }];
    await expect(openai.chat.completions.create({ model: MODEL, messages })).rejects.toMatchObject({
      status: 429,
      code: 'insufficient_quota',
    });
    const small = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 16 });
    expect(small.usage?.completion_tokens).toBeGreaterThan(0);
  });
});
