/**
 * The config's price table and the plans' budgets (issue 20): what is accepted, what each
 * refusal says, and the nano-dollars the gateway and the limiter count in.
 */
import { describe, expect, it } from 'vitest';
import { Pricing } from '#gateway/pricing';
import { ConfigError, nanoUsd, parseConfig } from '#shared/config';

const plans = { free: { requestsPerMinute: 60, burst: 10 } };
const prices = {
  'stub-echo-chatml': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  'meta/llama-3.1-8b:fp8': { inputPerMillion: 0, outputPerMillion: 1.125 },
};

describe('prices and budgets in the config', () => {
  it('keeps the price table and the budgets of a plan, and a key may carry its own', () => {
    const config = parseConfig({
      plans: { ...plans, pro: { ...plans.free, dailyBudgetUsd: 5, monthlyBudgetUsd: 99.000001 } },
      prices,
    });
    expect(config.prices).toEqual(prices);
    expect(config.plans.pro).toMatchObject({ dailyBudgetUsd: 5, monthlyBudgetUsd: 99.000001 });
    expect(config.plans.free?.dailyBudgetUsd).toBeUndefined();
    expect(parseConfig({ plans }).prices).toBeUndefined();
  });

  it('counts money in whole nano-dollars, and a token of a price at its nano-dollars', () => {
    expect(nanoUsd(99.000001)).toBe(99_000_001_000);
    expect(nanoUsd(0.1)).toBe(100_000_000);
    const pricing = new Pricing(prices);
    expect(pricing.of('stub-echo-chatml')).toEqual({
      model: 'stub-echo-chatml',
      input: 150,
      output: 600,
    });
    // Anything unpriced is "other", at the dearest input and output of the table.
    expect(pricing.of('gpt-9')).toEqual({ model: 'other', input: 150, output: 1125 });
    expect(pricing.of(undefined)).toEqual({ model: 'other', input: 150, output: 1125 });
    expect(new Pricing().of('x')).toEqual({ model: 'other', input: 0, output: 0 });
  });

  it.each([
    [
      { plans: { free: { ...plans.free, dailyBudgetUsd: 1 } } },
      /has a budget but the config has no prices/,
    ],
    [
      { plans: { free: { ...plans.free, dailyBudgetUsd: 0 } }, prices },
      /dailyBudgetUsd must be a number of US dollars from 0.000001/,
    ],
    [
      { plans: { free: { ...plans.free, monthlyBudgetUsd: 0.0000001 } }, prices },
      /at most 6 decimals/,
    ],
    [{ plans: { free: { ...plans.free, monthlyBudgetUsd: 2e6 } }, prices }, /to 1000000/],
    [
      { plans, prices: { m: { inputPerMillion: 0.0001, outputPerMillion: 1 } } },
      /m.inputPerMillion .*at most 3 decimals/,
    ],
    [{ plans, prices: { m: { inputPerMillion: -1, outputPerMillion: 1 } } }, /from 0 to 10000/],
    [{ plans, prices: { m: { inputPerMillion: 1 } } }, /m.outputPerMillion must be a number/],
    [
      { plans, prices: { m: { inputPerMillion: 1, outputPerMillion: 1, cached: 1 } } },
      /m.cached is not a known field/,
    ],
    [
      { plans, prices: { 'a b': { inputPerMillion: 1, outputPerMillion: 1 } } },
      /"a b" is not a model name/,
    ],
    [
      { plans, prices: { other: { inputPerMillion: 1, outputPerMillion: 1 } } },
      /usage ledger's name for unpriced models/,
    ],
    [{ plans, prices: [] }, /prices must be an object like/],
  ])('refuses %j', (doc, message) => {
    expect(() => parseConfig(doc)).toThrow(ConfigError);
    expect(() => parseConfig(doc)).toThrow(message);
  });

  it('prices at most 64 models, since the table bounds every key ledger', () => {
    const many = Object.fromEntries(
      Array.from({ length: 65 }, (_, i) => [`m${i}`, { inputPerMillion: 1, outputPerMillion: 1 }]),
    );
    expect(() => parseConfig({ plans, prices: many })).toThrow(/prices 65 models, more than 64/);
  });
});
