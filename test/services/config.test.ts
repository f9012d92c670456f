/**
 * server.ts's environment contract: defaults, every variable, and a message naming the variable
 * for each bad value. Secrets come back as providers; the Secrets Manager one is exercised with
 * aws-sdk-client-mock, labelled, since no Secrets Manager can run here.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { loadServerConfig } from '../../services/session-manager/src/config.ts';

const base = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  TRITON_URL: 'http://triton:8000',
  GATEWAY_SECRET: 'a-long-enough-gateway-secret',
};

describe('server environment', () => {
  it('applies the documented defaults', async () => {
    const config = loadServerConfig(base);
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      logLevel: 'info',
      shutdownGraceMs: 25_000,
      app: {
        redisUrl: 'redis://127.0.0.1:6379',
        redisTls: false,
        tritonUrl: 'http://triton:8000',
        sessionTtlSeconds: 86_400,
        inferenceTimeoutMs: 60_000,
        models: {},
      },
    });
    expect(config.app.redisPassword).toBeUndefined();
    expect(config.app.redisUsername).toBeUndefined();
    expect(await (config.app.gatewaySecret as () => Promise<string>)()).toBe(base.GATEWAY_SECRET);
  });

  it('reads every variable of the contract', async () => {
    const config = loadServerConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      REDIS_CLUSTER_NODES: 'a.example:6379, b.example:6380',
      REDIS_TLS: '1',
      REDIS_PASSWORD: 'token',
      REDIS_USERNAME: 'axon-session-manager',
      TRITON_URL: 'https://triton.internal:8000/prefix',
      GATEWAY_SECRET: base.GATEWAY_SECRET,
      SESSION_TTL_SECONDS: '60',
      INFERENCE_TIMEOUT_MS: '1500',
      MODELS_CONFIG: '{"models":{"llama":{"template":"llama3","contextWindow":8192}}}',
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_MS: '5000',
    });
    expect(config).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      logLevel: 'warn',
      shutdownGraceMs: 5000,
      app: {
        redisClusterNodes: [
          { host: 'a.example', port: 6379 },
          { host: 'b.example', port: 6380 },
        ],
        redisTls: true,
        redisUsername: 'axon-session-manager',
        tritonUrl: 'https://triton.internal:8000/prefix',
        sessionTtlSeconds: 60,
        inferenceTimeoutMs: 1500,
        models: { models: { llama: { template: 'llama3', contextWindow: 8192 } } },
      },
    });
    expect(await (config.app.redisPassword as () => Promise<string>)()).toBe('token');
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['no Redis at all', { ...base, REDIS_URL: '' }, /REDIS_URL .* or REDIS_CLUSTER_NODES/],
    ['both Redis forms', { ...base, REDIS_CLUSTER_NODES: 'a:1' }, /exactly one of REDIS_URL/],
    ['a non-redis URL', { ...base, REDIS_URL: 'http://x' }, /REDIS_URL must start with redis:\/\//],
    [
      'a bad cluster node',
      { ...base, REDIS_URL: '', REDIS_CLUSTER_NODES: 'a:1,b' },
      /REDIS_CLUSTER_NODES must be host:port/,
    ],
    ['a bad REDIS_TLS', { ...base, REDIS_TLS: 'yes' }, /REDIS_TLS must be 1 or 0/],
    [
      'two Redis password sources',
      { ...base, REDIS_PASSWORD: 'x', REDIS_AUTH_SECRET_ARN: 'arn:x' },
      /REDIS_PASSWORD or REDIS_AUTH_SECRET_ARN, not both/,
    ],
    ['no Triton URL', { ...base, TRITON_URL: '' }, /TRITON_URL is required/],
    [
      'a Triton URL without scheme',
      { ...base, TRITON_URL: 'triton:8000' },
      /TRITON_URL must be an http/,
    ],
    [
      'no gateway secret',
      { ...base, GATEWAY_SECRET: '' },
      /GATEWAY_SECRET or GATEWAY_SECRET_ARN is required/,
    ],
    [
      'a port out of range',
      { ...base, PORT: '70000' },
      /PORT must be a whole number from 0 to 65535/,
    ],
    [
      'a TTL of zero',
      { ...base, SESSION_TTL_SECONDS: '0' },
      /SESSION_TTL_SECONDS must be a whole number/,
    ],
    [
      'a fractional timeout',
      { ...base, INFERENCE_TIMEOUT_MS: '1.5' },
      /INFERENCE_TIMEOUT_MS must be a whole number/,
    ],
    ['an unknown log level', { ...base, LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [
      'a bad MODELS_CONFIG',
      { ...base, MODELS_CONFIG: '{"models":{"m":{"contextWindow":"big"}}}' },
      /MODELS_CONFIG\/models\/m\/contextWindow/,
    ],
  ];

  it.each(bad)('stops with a message naming the variable for %s', (_name, env, message) => {
    expect(() => loadServerConfig(env)).toThrow(message);
  });
});

describe('waking a Triton scaled to zero', () => {
  const models = '{"models":{"m":{"template":"chatml"}}}';

  it('does not wait for Triton unless TRITON_WAKE_WAIT_MS is set', () => {
    expect(loadServerConfig(base).app.wake).toBeUndefined();
  });

  it('reads the wait and the Retry-After, 30 s by default', () => {
    const env = { ...base, MODELS_CONFIG: models, TRITON_WAKE_WAIT_MS: '20000' };
    expect(loadServerConfig(env).app.wake).toEqual({ waitMs: 20_000, retryAfterSeconds: 30 });
    expect(loadServerConfig({ ...env, TRITON_WAKE_RETRY_AFTER_SECONDS: '90' }).app.wake).toEqual({
      waitMs: 20_000,
      retryAfterSeconds: 90,
    });
  });

  it('needs the served models named, since Triton cannot list them while asleep', () => {
    expect(() => loadServerConfig({ ...base, TRITON_WAKE_WAIT_MS: '20000' })).toThrow(
      /TRITON_WAKE_WAIT_MS needs MODELS_CONFIG to name the served models/,
    );
  });

  it('stops on a wait out of range', () => {
    expect(() =>
      loadServerConfig({ ...base, MODELS_CONFIG: models, TRITON_WAKE_WAIT_MS: '-1' }),
    ).toThrow(/TRITON_WAKE_WAIT_MS must be a whole number from 0 to 600000, got '-1'/);
  });
});

describe('session quotas from the environment', () => {
  it('reads AXON_SESSION_QUOTAS, and none set means every plan gets the defaults', () => {
    expect(loadServerConfig(base).app.sessionQuotas).toEqual({});
    const config = loadServerConfig({
      ...base,
      AXON_SESSION_QUOTAS: '{"free":{"maxSessions":5,"maxStoredBytes":100000}}',
    });
    expect(config.app.sessionQuotas).toEqual({ free: { maxSessions: 5, maxStoredBytes: 100000 } });
  });

  it('stops with a message naming the variable and the field', () => {
    expect(() =>
      loadServerConfig({ ...base, AXON_SESSION_QUOTAS: '{"free":{"maxSessions":0}}' }),
    ).toThrow('AXON_SESSION_QUOTAS/free/maxSessions');
  });
});

describe('secrets from AWS Secrets Manager (aws-sdk-client-mock: no Secrets Manager runs here)', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());

  it('reads the raw secret string on every call, so a rotated token is picked up', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:redis' })
      .resolvesOnce({ SecretString: 'token-one' })
      .resolvesOnce({ SecretString: 'token-two' });
    const config = loadServerConfig({
      ...base,
      REDIS_AUTH_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:redis',
    });
    const read = config.app.redisPassword as () => Promise<string>;
    expect(await read()).toBe('token-one');
    expect(await read()).toBe('token-two');
  });

  it('refuses a secret without a string value, without printing anything secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    const config = loadServerConfig({
      ...base,
      GATEWAY_SECRET: '',
      GATEWAY_SECRET_ARN: 'gw-secret',
    });
    await expect((config.app.gatewaySecret as () => Promise<string>)()).rejects.toThrow(
      /secret gw-secret has no SecretString/,
    );
  });

  it('reads the gateway secret current and previous by version stage from GATEWAY_SECRET_ARN', async () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:1:secret:gateway';
    sm.on(GetSecretValueCommand, { SecretId: arn, VersionStage: 'AWSCURRENT' }).resolves({
      SecretString: 'gateway-current-0123456789',
    });
    sm.on(GetSecretValueCommand, { SecretId: arn, VersionStage: 'AWSPREVIOUS' }).resolves({
      SecretString: 'gateway-previous-0123456789',
    });
    const config = loadServerConfig({ ...base, GATEWAY_SECRET: '', GATEWAY_SECRET_ARN: arn });
    expect(await (config.app.gatewaySecret as () => Promise<string>)()).toBe(
      'gateway-current-0123456789',
    );
    expect(await config.app.gatewaySecretPrevious?.()).toBe('gateway-previous-0123456789');
  });

  it('has no previous gateway secret when the value is given plainly', () => {
    expect(loadServerConfig(base).app.gatewaySecretPrevious).toBeUndefined();
  });
});
