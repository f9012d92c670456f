/**
 * RedisAuthRotation alone: the default schedule, the refusal of schedules Secrets Manager would
 * not run as meant, and the variables its function reads.
 */
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '#shared/names';
import {
  RedisAuthRotation,
  type RedisAuthRotationProps,
} from '../../../lib/constructs/redis-auth-rotation.ts';
import {
  AUTH_TOKEN_LENGTH,
  RedisReplicationGroup,
} from '../../../lib/constructs/redis-replication-group.ts';
import { bareStack, template } from './support.ts';

function build(overrides: Partial<RedisAuthRotationProps> = {}) {
  const { stack, vpc } = bareStack();
  const redis = new RedisReplicationGroup(stack, 'Redis', {
    vpc,
    engineVersion: '7.1',
    nodeType: 'cache.t4g.small',
    replicasPerShard: 0,
  });
  new RedisAuthRotation(stack, 'Rotation', { vpc, redis, ...overrides });
  return { stack, redis };
}

describe('RedisAuthRotation defaults', () => {
  it('rotates every 30 days', () => {
    template(build().stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });
});

describe('RedisAuthRotation props', () => {
  it('rotates on the given schedule', () => {
    template(build({ rotateEvery: Duration.days(7) }).stack).hasResourceProperties(
      'AWS::SecretsManager::RotationSchedule',
      { RotationRules: { ScheduleExpression: 'rate(7 days)' } },
    );
  });

  it('tells its function the group and the token length through the shared names', () => {
    const { stack } = build();
    const t = template(stack);
    const rg = Object.keys(t.findResources('AWS::ElastiCache::ReplicationGroup'))[0];
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.replicationGroupId]: { Ref: rg },
          [ENV.tokenLength]: String(AUTH_TOKEN_LENGTH),
        }),
      },
    });
  });
});

describe('RedisAuthRotation validation', () => {
  it('refuses a schedule that is not whole days', () => {
    expect(() => build({ rotateEvery: Duration.hours(36) })).toThrow(
      /rotateEvery in whole days from 1 to 365, got 1 day 12 hours/,
    );
  });

  it('refuses a schedule longer than a year', () => {
    expect(() => build({ rotateEvery: Duration.days(400) })).toThrow(/got 400 days/);
  });
});
