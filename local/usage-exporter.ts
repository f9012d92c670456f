/**
 * The usage exporter on the local stack: the same code as the scheduled Lambda
 * (lambda/usage-export), run in this process on the same cadence, from the limiter's Redis to the
 * local Usage table on dynalite. Closed hours move to the table; the admin API and
 * `keys usage --local` read the open ones from Redis meanwhile (lambda/gateway/live-usage.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { exportUsage } from '../lambda/usage-export/export.ts';
import { keyIdsOf, UsageTable } from '../lambda/usage-export/usage-table.ts';

/** The Lambda's schedule (lib/constructs/usage-exporter.ts). */
export const LOCAL_EXPORT_EVERY_MS = 10 * 60_000;

export interface LocalUsageExporter {
  /** One run now; resolves when it is done (tests, and the first run at start). */
  runOnce(): Promise<void>;
  close(): Promise<void>;
}

export function startLocalUsageExporter(options: {
  readonly redisUrl: string;
  readonly dynamo: DynamoDBClient;
  readonly usageTable: string;
  readonly keysTable: string;
  readonly everyMs?: number;
  readonly say: (line: string) => void;
}): LocalUsageExporter {
  const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const sink = new UsageTable(options.dynamo, options.usageTable);
  let running: Promise<void> = Promise.resolve();
  const runOnce = () => {
    running = running.then(async () => {
      try {
        await exportUsage({
          redis,
          sink,
          keyIds: () => keyIdsOf(options.dynamo, options.keysTable),
        });
      } catch (err) {
        options.say(`usage exporter failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    return running;
  };
  const timer = setInterval(runOnce, options.everyMs ?? LOCAL_EXPORT_EVERY_MS);
  timer.unref();
  return {
    runOnce,
    async close() {
      clearInterval(timer);
      await running;
      redis.disconnect();
    },
  };
}
