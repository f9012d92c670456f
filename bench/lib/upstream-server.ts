/**
 * Child process [S] of `bench:gateway`: the session manager, as the local stack builds it, with
 * the Triton stand-in (a labelled stand-in: it echoes, it runs no model) in the same process.
 * All three benchmarked paths end here, so its cost is the common baseline they share.
 * Env: BENCH_REDIS_URL, BENCH_GATEWAY_SECRET, BENCH_TOKEN_DELAY_MS (default 0). Prints `{"url": ...}` once listening.
 */
import { startInferenceStub } from '../../services/inference-stub/src/index.ts';
import { buildApp } from '../../services/session-manager/src/app.ts';
import { exitWithParent } from './children.ts';

const redisUrl = process.env.BENCH_REDIS_URL;
const gatewaySecret = process.env.BENCH_GATEWAY_SECRET;
if (!redisUrl || !gatewaySecret)
  throw new Error('BENCH_REDIS_URL and BENCH_GATEWAY_SECRET are required');

// BENCH_TOKEN_DELAY_MS: the stand-in's delay between generated tokens, for time-to-first-token.
const tokenDelayMs = Number(process.env.BENCH_TOKEN_DELAY_MS ?? '0');
const stub = await startInferenceStub({
  log: (line) => process.stderr.write(`${line}\n`),
  tokenDelayMs,
});
const app = await buildApp({ redisUrl, tritonUrl: stub.url, gatewaySecret, logger: false });
const url = await app.listen({ host: '127.0.0.1', port: 0 });

exitWithParent(async () => {
  await app.close();
  await stub.close();
});
process.stdout.write(`${JSON.stringify({ url })}\n`);
