/**
 * GatewayFunction alone: its defaults, its validation, and that the table and Redis bind
 * themselves to it (grant and variables together) through their own bind methods.
 */
import { Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '#shared/config';
import { ENV, GATEWAY_METRICS } from '#shared/names';
import { ApiKeysTable } from '../../../lib/constructs/api-keys-table.ts';
import {
  GatewayFunction,
  type GatewayFunctionProps,
} from '../../../lib/constructs/gateway-function.ts';
import { RedisReplicationGroup } from '../../../lib/constructs/redis-replication-group.ts';
import { repoPath } from '../../../lib/paths.ts';
import { FIXTURES } from '../support.ts';
import { bareStack, template } from './support.ts';

const FUNCTION = 'AWS::Lambda::Function';

function build(overrides: Partial<GatewayFunctionProps> = {}) {
  const { stack, vpc } = bareStack();
  const gateway = new GatewayFunction(stack, 'Gateway', {
    vpc,
    runtimeConfig: loadConfigFile(repoPath('config', 'axon.json')),
    apiKeys: new ApiKeysTable(stack, 'Keys'),
    redis: new RedisReplicationGroup(stack, 'Redis', {
      vpc,
      engineVersion: '7.1',
      nodeType: 'cache.t4g.small',
      replicasPerShard: 0,
    }),
    upstream: new ec2.SecurityGroup(stack, 'Upstream', { vpc }),
    upstreamUrl: 'http://upstream.internal',
    upstreamSecret: new secretsmanager.Secret(stack, 'UpstreamSecret'),
    entry: FIXTURES.gatewayEntry,
    ...overrides,
  });
  return { stack, gateway };
}

describe('GatewayFunction defaults', () => {
  const { stack, gateway } = build();
  const t = template(stack);

  it('waits 60 seconds for the session manager and runs 5 seconds longer than that', () => {
    t.hasResourceProperties(FUNCTION, {
      Timeout: 65,
      Environment: { Variables: Match.objectLike({ [ENV.upstreamTimeoutMs]: '60000' }) },
    });
    expect(gateway.timeout.toSeconds()).toBe(65);
  });

  it('gets 1024 MiB of memory', () => {
    t.hasResourceProperties(FUNCTION, { MemorySize: 1024 });
  });

  it('reserves no concurrency, so a new account with a low quota can deploy it', () => {
    t.hasResourceProperties(FUNCTION, { ReservedConcurrentExecutions: Match.absent() });
  });
});

describe('GatewayFunction props', () => {
  it('applies the upstream timeout and memory', () => {
    const { stack } = build({ upstreamTimeoutMs: 120_000, memoryMiB: 2048 });
    template(stack).hasResourceProperties(FUNCTION, {
      Timeout: 125,
      MemorySize: 2048,
      Environment: { Variables: Match.objectLike({ [ENV.upstreamTimeoutMs]: '120000' }) },
    });
  });

  it('gets the key table and Redis variables from their bind methods, and the metric names', () => {
    const { stack } = build();
    const t = template(stack);
    const table = Object.keys(t.findResources('AWS::DynamoDB::Table'))[0];
    t.hasResourceProperties(FUNCTION, {
      Environment: {
        Variables: Match.objectLike({
          [ENV.keysTable]: { Ref: table },
          [ENV.redisEndpoint]: Match.anyValue(),
          [ENV.redisAuthSecretArn]: Match.anyValue(),
          [ENV.serviceName]: GATEWAY_METRICS.service,
          [ENV.metricsNamespace]: GATEWAY_METRICS.namespace,
        }),
      },
    });
  });
});

describe('GatewayFunction validation', () => {
  it('reserves, and so caps, the configured concurrency', () => {
    const { stack } = build({ reservedConcurrency: 50 });
    template(stack).hasResourceProperties(FUNCTION, { ReservedConcurrentExecutions: 50 });
  });

  it.each([0, -1, 2.5])('refuses a reserved concurrency of %d', (value) => {
    expect(() => build({ reservedConcurrency: value })).toThrow(
      `gateway reservedConcurrency must be a whole number from 1 up (or unset), got ${value}`,
    );
  });

  it('refuses an upstream timeout under one second', () => {
    expect(() => build({ upstreamTimeoutMs: 500 })).toThrow(
      /upstreamTimeoutMs must be a whole number from 1000 to 840000, got 500/,
    );
  });

  it('refuses an upstream timeout that would push the function past 15 minutes', () => {
    expect(() => build({ upstreamTimeoutMs: 900_000 })).toThrow(/got 900000/);
  });

  it('refuses a runtime config the gateway could not start with, naming the field', () => {
    const runtimeConfig = loadConfigFile(repoPath('config', 'axon.json'));
    expect(() =>
      build({
        runtimeConfig: {
          ...runtimeConfig,
          rateLimiter: { ...runtimeConfig.rateLimiter, redisTimeoutMs: -1 },
        },
      }),
    ).toThrow(/gateway AXON_CONFIG.*redisTimeoutMs/);
  });
});
