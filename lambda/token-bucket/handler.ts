/**
 * Lambda entry: `{keyId, plan, cost?, tokenCost?}` in, the decision and its headers out, so
 * internal services ask the same limiter as the gateway. Config and the Redis connection are
 * made once per instance, during init.
 */

import { AxonError, type ErrorBody } from '@axon/runtime/errors';
import { configFromEnv } from '#shared/config';
import { createLogger } from '#shared/logger';
import { type CheckResult, checkLimit } from './check.ts';
import { limiterFromEnv } from './setup.ts';

const log = createLogger('token-bucket');
const config = configFromEnv();
const { limiter } = await limiterFromEnv(config, log);

export async function handler(event: unknown): Promise<CheckResult | ErrorBody> {
  try {
    return await checkLimit(limiter, config, event);
  } catch (err) {
    if (err instanceof AxonError) return err.toBody();
    log.error('rate limit check failed', {
      error: err instanceof Error ? err.message : String(err),
    });
    throw err;
  }
}
