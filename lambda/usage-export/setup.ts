/**
 * The exporter a process runs, from its environment (as the CDK app sets it,
 * lib/constructs/usage-exporter.ts): `AXON_USAGE_TABLE`, `AXON_KEYS_TABLE`, the limiter's Redis
 * (`redisSettingsFromEnv`: the gateway's cache and ACL user) and, locally, `AXON_DYNAMODB_ENDPOINT`.
 * Unlike the gateway, it is in no hurry: its Redis commands wait through a reconnect and are
 * resent after a dropped connection (a read or a delete of a closed hour is safe to repeat).
 */
import { RedisConnection, redisSettingsFromEnv } from '@axon/runtime/redis';
import { secretsManagerSecret } from '@axon/runtime/secrets';
import { createDynamoClient } from '#authorizer/key-store';
import type { Log } from '#shared/logger';
import { ENV } from '#shared/names';
import { type ExportOptions, type ExportReport, exportUsage } from './export.ts';
import { keyIdsOf, UsageTable } from './usage-table.ts';

export interface Exporter {
  run(options?: ExportOptions): Promise<ExportReport>;
  close(): Promise<void>;
}

/** Every Redis command may take this long; an exporter run has minutes. */
const COMMAND_TIMEOUT_MS = 5000;

function required(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const value = env[name]?.trim();
  if (!value) throw new Error(`${name} is not set: give it ${what}`);
  return value;
}

export async function exporterFromEnv(env: NodeJS.ProcessEnv, log: Log): Promise<Exporter> {
  const usageTable = required(env, ENV.usageTable, 'the name of the Usage table');
  const keysTable = required(env, ENV.keysTable, 'the name of the ApiKeys table');
  const settings = redisSettingsFromEnv(env, COMMAND_TIMEOUT_MS, secretsManagerSecret, log);
  if (!settings) {
    throw new Error(
      `${ENV.redisEndpoint} (or AXON_REDIS_URL) is not set: give it the limiter's Redis`,
    );
  }
  const endpoint = env[ENV.dynamodbEndpoint]?.trim();
  const dynamo = createDynamoClient(endpoint ? { endpoint } : {});
  const redis = await RedisConnection.open(
    { ...settings, queueWhileDisconnected: true, retriesPerRequest: 3 },
    COMMAND_TIMEOUT_MS,
  );
  const sink = new UsageTable(dynamo, usageTable);
  return {
    run: (options) =>
      exportUsage(
        {
          // Through `run`: a rotated password is re-read and the command sent once more.
          redis: {
            hgetall: (key) => redis.run((c) => c.hgetall(key)),
            del: (key) => redis.run((c) => c.del(key)),
            time: () => redis.run((c) => c.time()),
          },
          sink,
          keyIds: () => keyIdsOf(dynamo, keysTable),
          log,
        },
        options,
      ),
    close: async () => {
      await redis.close();
      dynamo.destroy();
    },
  };
}
