/**
 * npm start: the whole stack on loopback. Env: PORT (gateway, default 8080), AXON_CONFIG (config
 * file, default config/axon.json), REDIS_URL (the limiter's Redis instead of spawning one; also
 * the sessions' unless SESSION_REDIS_URL is set), SESSION_REDIS_URL (the sessions' Redis),
 * AXON_STATE_DIR (default .axon), AXON_SESSION_MANAGER_PORT, AXON_INFERENCE_PORT,
 * AXON_DYNAMODB_PORT (default: free ports).
 */

import { startLocalStack } from '#local/stack';
import { stateDir } from '#local/state';
import { ConfigError } from '#shared/config';

// Node 20 works for local runs; the AWS SDK's notice that future versions need Node 22 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const port = (name: string, fallback?: number) => {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${name} must be a port number from 0 to 65535, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
};

try {
  const stack = await startLocalStack({
    port: port('PORT', 8080),
    configPath: process.env.AXON_CONFIG || 'config/axon.json',
    stateDir: stateDir(),
    ...(process.env.REDIS_URL && { redisUrl: process.env.REDIS_URL }),
    ...(process.env.SESSION_REDIS_URL && { sessionRedisUrl: process.env.SESSION_REDIS_URL }),
    sessionManagerPort: port('AXON_SESSION_MANAGER_PORT'),
    inferencePort: port('AXON_INFERENCE_PORT'),
    dynamodbPort: port('AXON_DYNAMODB_PORT'),
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: stopping the local stack`);
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  console.log(`Axon gateway listening on ${stack.url}`);
  console.log(`Demo API key (plan ${stack.demoPlan}, shown once): ${stack.demoKey}`);
  console.log(`Try: curl -s ${stack.url}/v1/models -H "Authorization: Bearer ${stack.demoKey}"`);
} catch (err) {
  console.error(
    err instanceof ConfigError
      ? `config error: ${err.message}`
      : `npm start failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
}
