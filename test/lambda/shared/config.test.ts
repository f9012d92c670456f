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
    expect(config.auth).toEqual({ cacheTtlSeconds: 30, failuresPerMinutePerAddress: 30 });
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
