/**
 * Secrets Manager rotation function for the ElastiCache AUTH token, or, with REDIS_USER_ID set,
 * for that RBAC user's password. Thin: clients and logger are created once per container; the
 * steps live in rotation.ts and user-rotation.ts.
 */
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { createLogger } from '#shared/logger';
import { ENV } from '#shared/names';
import type { RotationEvent } from '#shared/secret-rotation';
import { rotate } from './rotation.ts';
import { rotateUser } from './user-rotation.ts';

const userId = process.env[ENV.redisUserId];
const replicationGroupId = process.env[ENV.replicationGroupId];
if (!replicationGroupId && !userId) {
  throw new Error(`${ENV.replicationGroupId} or ${ENV.redisUserId} must be set`);
}

const log = createLogger('redis-rotation');
const secrets = new SecretsManagerClient({});
const elasticache = new ElastiCacheClient({});

/** Seconds kept back from the Lambda timeout so a slow wait fails with a clear error. */
const MARGIN_MS = 20_000;

export async function handler(event: RotationEvent, context: Context): Promise<void> {
  const common = {
    secrets,
    elasticache,
    log,
    tokenLength: Number(process.env[ENV.tokenLength] ?? 64),
    waitTimeoutMs: Math.max(0, context.getRemainingTimeInMillis() - MARGIN_MS),
  };
  if (userId) await rotateUser(event, { ...common, userId });
  else await rotate(event, { ...common, replicationGroupId: replicationGroupId as string });
}
