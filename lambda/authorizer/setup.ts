/**
 * Builds an `Authorizer` from the process environment: the key table from `AXON_KEYS_TABLE`
 * (and `AXON_DYNAMODB_ENDPOINT` locally), the cache from the config's `auth` section. The
 * caller hands in the failure buckets, so the gateway can share its one Redis limiter.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AxonConfig } from '#shared/config';
import type { Log } from '#shared/logger';
import type { BucketStore } from '#token-bucket/types';
import { Authorizer } from './authorizer.ts';
import {
  createDocumentClient,
  DYNAMODB_ENDPOINT_ENV,
  KEYS_TABLE_ENV,
  KeyStore,
} from './key-store.ts';
import { PrincipalCache } from './principal-cache.ts';

export interface AuthorizerEnv {
  readonly tableName: string;
  readonly endpoint?: string;
}

/** Reads and checks the authorizer's variables; throws naming the missing one. */
export function authorizerEnv(env: NodeJS.ProcessEnv = process.env): AuthorizerEnv {
  const tableName = env[KEYS_TABLE_ENV]?.trim();
  if (!tableName) {
    throw new Error(`${KEYS_TABLE_ENV} is not set: give it the name of the ApiKeys DynamoDB table`);
  }
  const endpoint = env[DYNAMODB_ENDPOINT_ENV]?.trim();
  return { tableName, ...(endpoint && { endpoint }) };
}

export interface AuthorizerFromEnvOptions {
  readonly config: AxonConfig;
  readonly failures: BucketStore;
  readonly log: Log;
  readonly env?: NodeJS.ProcessEnv;
  /** @default 5 */
  readonly negativeTtlSeconds?: number;
}

/** The key table named by the environment, with the document client the gateway uses for it. */
export function keyTableFromEnv(env: NodeJS.ProcessEnv = process.env): {
  client: DynamoDBDocumentClient;
  tableName: string;
} {
  const { tableName, endpoint } = authorizerEnv(env);
  const client = createDocumentClient({
    ...(endpoint && { endpoint }),
    // Two attempts inside the connection/request timeouts keep a dead table to a few seconds.
    maxAttempts: 2,
  });
  return { client, tableName };
}

export function authorizerFromEnv(options: AuthorizerFromEnvOptions): Authorizer {
  const { client, tableName } = keyTableFromEnv(options.env);
  const cache = new PrincipalCache({
    ttlSeconds: options.config.auth.cacheTtlSeconds,
    ...(options.negativeTtlSeconds !== undefined && {
      negativeTtlSeconds: options.negativeTtlSeconds,
    }),
  });
  return new Authorizer({
    keys: new KeyStore(client, tableName),
    cache,
    failures: options.failures,
    config: options.config,
    log: options.log,
  });
}
