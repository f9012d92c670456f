/**
 * npm start: the whole stack on loopback. Env: PORT (gateway, default 8080), AXON_CONFIG (config
 * file, default config/axon.json), REDIS_URL (the limiter's Redis instead of spawning one; also
 * the sessions' unless SESSION_REDIS_URL is set), SESSION_REDIS_URL (the sessions' Redis),
 * AXON_STATE_DIR (default .axon), AXON_SESSION_MANAGER_PORT, AXON_INFERENCE_PORT,
 * AXON_DYNAMODB_PORT (default: free ports), AXON_EDGE (`lambda` or `container`, default the dev
 * stage's `gateway.edge`, else `lambda`), AXON_STUB_TOKEN_DELAY_MS (the Triton stand-in's delay
 * between streamed tokens, default 0), AXON_STUB_IDLE_MS, AXON_STUB_COLD_START_MS and
 * AXON_WAKE_WAIT_MS (dev at idle: the stand-in runs only while models are asked for; see
 * local/edge-choice.ts).
 *
 * npm start runs this file with `node --import tsx`, one process, rather than the `tsx` command:
 * `tsx` runs the script in a child and relays Ctrl-C to it, and when the child has not confirmed
 * the signal over IPC within about 30 ms (twice) it SIGKILLs the child and exits 130, so on a
 * busy machine the stack died without stopping and left local.json and its build dir behind.
 */

import type { LocalStack } from '#local/stack';
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

/*
 * Signal handlers go in before anything starts, so there is no moment in which Ctrl-C takes the
 * default action (exit 130) and leaves local.json or the gateway build dir behind. A signal
 * during startup is held until the stack is up and then stops it at once; the stack cannot be
 * stopped halfway, as its stop steps are only known once each part has started. If the start
 * fails meanwhile (the signal reached its helpers too), its parts are stopped all the same and
 * the exit is 0, as for a stop.
 */
let stack: LocalStack | undefined;
let stopping: string | undefined;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = signal;
  console.error(`${signal}: stopping the local stack${stack ? '' : ' once it has started'}`);
  if (!stack) return;
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

try {
  // Loaded only now, after the handlers: reading the stack's modules takes a second or more.
  const { startLocalStack } = await import('#local/stack');
  const { edgeFromEnv, idleFromEnv, stubTokenDelayFromEnv } = await import('#local/edge-choice');
  const idle = idleFromEnv(process.env);
  stack = await startLocalStack({
    ...(idle && { idle }),
    edge: edgeFromEnv(process.env, process.cwd()),
    stubTokenDelayMs: stubTokenDelayFromEnv(process.env),
    port: port('PORT', 8080),
    configPath: process.env.AXON_CONFIG || 'config/axon.json',
    stateDir: stateDir(),
    ...(process.env.REDIS_URL && { redisUrl: process.env.REDIS_URL }),
    ...(process.env.SESSION_REDIS_URL && { sessionRedisUrl: process.env.SESSION_REDIS_URL }),
    sessionManagerPort: port('AXON_SESSION_MANAGER_PORT'),
    inferencePort: port('AXON_INFERENCE_PORT'),
    dynamodbPort: port('AXON_DYNAMODB_PORT'),
  });
} catch (err) {
  if (stopping) {
    // Ctrl-C signals the whole process group: the helpers startup was waiting on (esbuild's
    // service, a spawned redis-server) got the signal too, and the start failed because of it.
    // What was asked for happened: startLocalStack stopped every part it had started.
    console.error(
      `${stopping}: stopped before the stack was up (${err instanceof Error ? err.message : String(err)})`,
    );
    process.exit(0);
  }
  console.error(
    err instanceof ConfigError
      ? `config error: ${err.message}`
      : `npm start failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
}
if (stopping) {
  await stack.stop();
  process.exit(0);
}
console.log(`Axon gateway (${stack.edge} edge) listening on ${stack.url}`);
console.log(`Demo API key (plan ${stack.demoPlan}, shown once): ${stack.demoKey}`);
console.log(`Try: curl -s ${stack.url}/v1/models -H "Authorization: Bearer ${stack.demoKey}"`);
