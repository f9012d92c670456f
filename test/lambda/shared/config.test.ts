import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  configFromEnv,
  loadConfigFile,
  parseConfig,
  planLimits,
} from '#shared/config';

const valid = {
  plans: {
    free: { requestsPerMinute: 60, burst: 10, tokensPerMinute: 20000, requestsPerDay: 1000 },
    pro: { requestsPerMinute: 600, burst: 100, tokensPerMinute: 200000 },
  },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: 50 },
  auth: { cacheTtlSeconds: 30, failuresPerMinutePerAddress: 30 },
};

describe('config document', () => {
  it('reads the documented example config, defaulting tokenBurst to tokensPerMinute', () => {
    const config = parseConfig(valid);
    expect(config.plans.free).toEqual({
      requestsPerMinute: 60,
      burst: 10,
      tokensPerMinute: 20000,
      tokenBurst: 20000,
      requestsPerDay: 1000,
    });
    expect(config.rateLimiter).toEqual({ failureMode: 'open', redisTimeoutMs: 50 });
  });

  it('defaults the limiter to fail open with a 50 ms timeout and the auth cache to 30 s', () => {
    const config = parseConfig({ plans: { free: { requestsPerMinute: 1, burst: 1 } } });
    expect(config.rateLimiter).toEqual({ failureMode: 'open', redisTimeoutMs: 50 });
    expect(config.auth).toEqual({
      cacheTtlSeconds: 30,
      failuresPerMinutePerAddress: 30,
      adminFailuresPerMinutePerAddress: 10,
    });
  });

  it('takes the admin failed-auth budget apart from the model keys’ one', () => {
    const plans = { free: { requestsPerMinute: 1, burst: 1 } };
    expect(parseConfig({ plans, auth: { adminFailuresPerMinutePerAddress: 3 } }).auth).toEqual({
      cacheTtlSeconds: 30,
      failuresPerMinutePerAddress: 30,
      adminFailuresPerMinutePerAddress: 3,
    });
    for (const bad of [0, 1.5, '3', 1e7]) {
      expect(() => parseConfig({ plans, auth: { adminFailuresPerMinutePerAddress: bad } })).toThrow(
        /auth\.adminFailuresPerMinutePerAddress must be a whole number from 1 to 1000000/,
      );
    }
  });

  it('accepts the repository default config file', () => {
    expect(Object.keys(loadConfigFile('config/axon.json').plans)).toEqual(['free', 'pro']);
  });

  it.each([
    [[], /config must be a JSON object/],
    [{ plans: {} }, /config\.plans must name at least one plan/],
    [{ plans: { Free: { requestsPerMinute: 1, burst: 1 } } }, /plan name "Free" must be lowercase/],
    [
      { plans: { free: { burst: 1 } } },
      /config\.plans\.free\.requestsPerMinute must be a whole number from 1/,
    ],
    [
      { plans: { free: { requestsPerMinute: 60, burst: 0 } } },
      /config\.plans\.free\.burst must be a whole number from 1.*got 0/,
    ],
    [{ plans: { free: { requestsPerMinute: 1.5, burst: 1 } } }, /requestsPerMinute .*got 1\.5/],
    [{ plans: { free: { requestsPerMinute: '60', burst: 1 } } }, /requestsPerMinute .*got "60"/],
    [
      { plans: { free: { requestsPerMinute: 60, burst: 1, requestPerDay: 5 } } },
      /free\.requestPerDay is not a known field; use one of: .*requestsPerDay/,
    ],
    [
      { plans: { free: { requestsPerMinute: 60, burst: 1, tokenBurst: 5 } } },
      /tokenBurst needs .*tokensPerMinute/,
    ],
    [
      {
        plans: { free: { requestsPerMinute: 60, burst: 1 } },
        rateLimiter: { failureMode: 'half' },
      },
      /failureMode must be "open" or "closed", got "half"/,
    ],
    [
      { plans: { free: { requestsPerMinute: 60, burst: 1 } }, rateLimiter: { redisTimeoutMs: 0 } },
      /redisTimeoutMs must be a whole number from 1 to 10000/,
    ],
    [
      { plans: { free: { requestsPerMinute: 60, burst: 1 } }, auth: { cacheTtlSeconds: 7200 } },
      /auth\.cacheTtlSeconds must be a whole number from 1 to 3600/,
    ],
    [
      { plans: { free: { requestsPerMinute: 60, burst: 1 } }, limits: {} },
      /config\.limits is not a known field/,
    ],
  ])('rejects %j naming the field and the fix', (doc, message) => {
    expect(() => parseConfig(doc)).toThrow(ConfigError);
    expect(() => parseConfig(doc)).toThrow(message);
  });

  it('names the valid plans when asked for an unknown one', () => {
    expect(() => planLimits(parseConfig(valid), 'gold')).toThrow(
      'unknown plan "gold"; valid plans: free, pro',
    );
    expect(() => planLimits(parseConfig(valid), 'toString')).toThrow(/unknown plan/);
  });

  it('takes AXON_CONFIG as the JSON itself or as the path of a file', () => {
    expect(configFromEnv({ AXON_CONFIG: JSON.stringify(valid) }).plans.pro?.burst).toBe(100);
    const dir = mkdtempSync(join(tmpdir(), 'axon-config-'));
    const file = join(dir, 'axon.json');
    writeFileSync(file, JSON.stringify(valid));
    expect(configFromEnv({ AXON_CONFIG: file }).plans.free?.burst).toBe(10);
    writeFileSync(file, '{"plans": ');
    expect(() => configFromEnv({ AXON_CONFIG: file })).toThrow(/is not valid JSON/);
    expect(() => configFromEnv({})).toThrow(/AXON_CONFIG is not set/);
    expect(() => configFromEnv({ AXON_CONFIG: join(dir, 'missing.json') })).toThrow(
      /cannot read config file .*ENOENT/,
    );
  });
});

describe('a plan’s models', () => {
  const plan = (models: unknown) => ({
    plans: { free: { requestsPerMinute: 60, burst: 10, models } },
  });

  it('keeps the list a plan names, and none means every model', () => {
    expect(parseConfig(plan(['stub-echo-chatml', 'org/m:v1.2_x'])).plans.free?.models).toEqual([
      'stub-echo-chatml',
      'org/m:v1.2_x',
    ]);
    expect(parseConfig(valid).plans.free).not.toHaveProperty('models');
  });

  it.each([
    [
      '"m"',
      /config\.plans\.free\.models must be a list of model names .*leave it out to allow every model/,
    ],
    ['[]', /config\.plans\.free\.models must name at least one model, or leave it out/],
    [
      JSON.stringify(Array.from({ length: 65 }, (_, i) => `m${i}`)),
      /config\.plans\.free\.models names 65 models, more than 64; list at most 64/,
    ],
    ['[""]', /config\.plans\.free\.models\[0\] must be a model name of 1 to 128 .*got ""/],
    ['["a", 1]', /config\.plans\.free\.models\[1\] must be a model name .*got 1/],
    [JSON.stringify(['a', 'x'.repeat(129)]), /models\[1\] must be a model name of 1 to 128/],
    ['["a,b"]', /models\[0\] must be a model name .*got "a,b"/],
    ['["a b"]', /models\[0\] must be a model name/],
    ['["-a"]', /models\[0\] must be a model name .*starting with a letter or digit/],
    ['["a", "a"]', /config\.plans\.free\.models names "a" twice; list each model once/],
  ])('rejects models: %s naming the field and the fix', (models, message) => {
    expect(() => parseConfig(plan(JSON.parse(models)))).toThrow(ConfigError);
    expect(() => parseConfig(plan(JSON.parse(models)))).toThrow(message);
  });

  it('accepts 64 models of 128 characters', () => {
    const models = Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(128, 'x'));
    expect(parseConfig(plan(models)).plans.free?.models).toHaveLength(64);
  });
});
