/**
 * Secrets Manager rotation function for the ElastiCache AUTH token. Thin: clients and logger are
 * created once per container; the steps live in rotation.ts.
 */
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { createLogger } from '#shared/logger';
import { ENV } from '#shared/names';
import { type RotationEvent, rotate } from './rotation.ts';

const replicationGroupId = process.env[ENV.replicationGroupId];
if (!replicationGroupId) throw new Error(`${ENV.replicationGroupId} must be set`);
const groupId: string = replicationGroupId;

const log = createLogger('redis-rotation');
const secrets = new SecretsManagerClient({});
const elasticache = new ElastiCacheClient({});

/** Seconds kept back from the Lambda timeout so a slow wait fails with a clear error. */
const MARGIN_MS = 20_000;

export async function handler(event: RotationEvent, context: Context): Promise<void> {
  await rotate(event, {
    secrets,
    elasticache,
    replicationGroupId: groupId,
    log,
    tokenLength: Number(process.env[ENV.tokenLength] ?? 64),
    waitTimeoutMs: Math.max(0, context.getRemainingTimeInMillis() - MARGIN_MS),
  });
}
