/**
 * Names the infrastructure (lib/) and the runtime (lambda/, the key CLI) must agree on: stack
 * and output names, the environment variables the CDK app sets on the Lambdas, the ApiKeys
 * table's schema, and the gateway's metric names the alarms watch. A name written out twice
 * drifts; here each one is written once and both sides import it.
 *
 * It lives in lambda/shared because the Lambdas are bundled from lambda/ and lib/ already imports
 * `#shared/*`. It imports nothing at all (no AWS SDK, no aws-cdk-lib), so a bundle that needs a
 * name never pulls in the CDK and the CDK app never pulls in the SDK
 * (test/infra/names.test.ts checks this).
 */

/** The four stacks of a stage, in deployment order. */
export const STACK_PARTS = ['Network', 'Data', 'Inference', 'Gateway'] as const;
export type StackPart = (typeof STACK_PARTS)[number];

/** Stack name of one part of a stage, e.g. `Axon-dev-Data`; the key CLI finds the table by it. */
export function stackName(stage: string, part: StackPart): string {
  return `Axon-${stage}-${part}`;
}

/** CloudFormation outputs that tools read back from a deployed stack. */
export const OUTPUTS = {
  /** Data and Gateway stacks: the ApiKeys table name (`npm run keys -- --stage`). */
  apiKeysTableName: 'ApiKeysTableName',
  /** Data stack: the Usage table name (`npm run keys -- usage --stage`). */
  usageTableName: 'UsageTableName',
} as const;

/** Environment variables the CDK app sets on the Lambdas and lambda/ reads. */
export const ENV = {
  /** The runtime config document (JSON, or a file path locally). */
  config: 'AXON_CONFIG',
  /** Name of the ApiKeys table. */
  keysTable: 'AXON_KEYS_TABLE',
  /**
   * Name of the Usage table: where the usage exporter writes the usage ledger, and where the
   * gateway's admin API reads usage and costs.
   */
  usageTable: 'AXON_USAGE_TABLE',
  /** A local DynamoDB endpoint (dynalite); never set in AWS. */
  dynamodbEndpoint: 'AXON_DYNAMODB_ENDPOINT',
  /** `host:port` of the Redis primary or configuration endpoint. */
  redisEndpoint: 'AXON_REDIS_ENDPOINT',
  /** `1` when Redis requires TLS. */
  redisTls: 'AXON_REDIS_TLS',
  /** `1` when Redis runs in cluster mode. */
  redisCluster: 'AXON_REDIS_CLUSTER',
  /** ARN of the Secrets Manager secret holding the Redis AUTH token. */
  redisAuthSecretArn: 'AXON_REDIS_AUTH_SECRET_ARN',
  /** The Redis ACL user the process connects as; absent: the `default` user. */
  redisUsername: 'AXON_REDIS_USERNAME',
  /** Base URL of the session manager's internal ALB. */
  upstreamUrl: 'AXON_UPSTREAM_URL',
  /** ARN of the gateway-to-session-manager header secret. */
  upstreamSecretArn: 'AXON_UPSTREAM_SECRET_ARN',
  /** Milliseconds the gateway waits for the session manager. */
  upstreamTimeoutMs: 'AXON_UPSTREAM_TIMEOUT_MS',
  /** Container edge: the request body cap in bytes (from the config). */
  maxBodyBytes: 'AXON_MAX_BODY_BYTES',
  /** Container edge: milliseconds open requests may run on after SIGTERM. */
  shutdownGraceMs: 'AXON_SHUTDOWN_GRACE_MS',
  /** Rotation Lambda: the replication group whose AUTH token it rotates. */
  replicationGroupId: 'REPLICATION_GROUP_ID',
  /**
   * Rotation Lambda: the ElastiCache RBAC user whose password it rotates; set, it rotates that
   * user's password (ModifyUser) instead of the group's AUTH token.
   */
  redisUserId: 'REDIS_USER_ID',
  /** Rotation Lambda: length of a generated AUTH token. */
  tokenLength: 'TOKEN_LENGTH',
  /** Powertools: the `service` dimension of metrics and the logger's service name. */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** Powertools: the CloudWatch namespace of EMF metrics. */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

/**
 * The ApiKeys table. The partition key is the SHA-256 of the key; the two global secondary
 * indexes serve the key CLI (find by public id, list an owner's keys newest first). Both the
 * CDK table and `createKeyTable` (dynalite, the local stack) are built from this.
 */
export const API_KEYS_TABLE = {
  partitionKey: 'keyHash',
  indexes: {
    byKeyId: { name: 'byKeyId', partitionKey: 'keyId' },
    byOwner: { name: 'byOwner', partitionKey: 'owner', sortKey: 'createdAt' },
  },
} as const;

/**
 * Every attribute a key record may have (lambda/authorizer/key-store.ts `KeyRecord`). The
 * gateway's write grant is restricted to these (lib/constructs/api-keys-table.ts
 * `grantKeyAdmin`), so a record can gain an attribute only by adding it here too.
 */
export const KEY_RECORD_ATTRIBUTES = [
  'keyHash',
  'keyId',
  'prefix',
  'owner',
  'plan',
  'kind',
  'name',
  'status',
  'createdAt',
  'expiresAt',
  'revokedAt',
  'limits',
  'models',
  'rotatedAt',
  'replacedAt',
  'lastUsedAt',
] as const;

/**
 * The Usage table: one item per API key, UTC hour and model, with the hour's absolute totals
 * (lambda/usage-export). The sort key is `<hour>#<model>`, the hour as ISO-8601
 * (`2026-11-30T08`), so a key's usage over a time range is one Query.
 */
export const USAGE_TABLE = {
  partitionKey: 'keyId',
  sortKey: 'hourModel',
} as const;

/** Namespace, `service` dimension and names of the gateway's EMF metrics. */
export const GATEWAY_METRICS = {
  namespace: 'Axon',
  service: 'gateway',
  names: {
    admitted: 'Admitted',
    denied: 'Denied',
    degraded: 'Degraded',
    redisErrors: 'RedisErrors',
    authFailures: 'AuthFailures',
    upstreamErrors: 'UpstreamErrors',
    /** Requests sent again after the session manager refused a rotated gateway secret. */
    upstreamSecretRetries: 'UpstreamSecretRetries',
  },
} as const;

/** A counter the gateway publishes, e.g. `Denied`. */
export type GatewayMetric = (typeof GATEWAY_METRICS.names)[keyof typeof GATEWAY_METRICS.names];
