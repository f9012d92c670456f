/**
 * npm run bench:session [-- --json] [--seconds 5] [--concurrency 16,64] [--log-level info]
 *                         [--stub-latency-ms 0]
 *
 * Chat completions per second and latency through the session manager (which templates the
 * messages, counts tokens and calls Triton's generate) against the Triton stand-in called
 * directly with the same prompt: the baseline. Same run, same machine, same load client
 * (undici, keep-alive, fixed concurrency for a fixed time). The stand-in and the session
 * manager each run in their own Node process, as in production; the session manager uses the
 * given LOG_LEVEL (default info, one JSON line per request, sent to /dev/null).
 * The difference is the session manager's own cost per request. `--stub-latency-ms` makes the
 * stand-in wait before answering, like a (very fast) model, to show that cost in proportion.
 * On this 2-core machine the
 * load client, the stand-in and the service share the CPUs, so ratios matter, not absolutes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { freePort, RedisServer } from '../local/redis-server.ts';
import { flag, percentile, progress, round, table, wantsJson } from './lib/report.ts';

const SECONDS = Number(flag('seconds', '5'));
const WARMUP_SECONDS = 1;
const CONCURRENCY = flag('concurrency', '16,64').split(',').map(Number);
const LOG_LEVEL = flag('log-level', 'info');
const STUB_LATENCY_MS = Number(flag('stub-latency-ms', '0'));
const SECRET = 'bench-gateway-secret-0123456789';
const MODEL = 'stub-echo-chatml';
const MAX_TOKENS = 16;
const CONTENT = 'Summarise the plot of a short story about a lighthouse keeper.';

if (
  !(SECONDS > 0) ||
  CONCURRENCY.some((c) => !Number.isInteger(c) || c < 1) ||
  !(Number.isInteger(STUB_LATENCY_MS) && STUB_LATENCY_MS >= 0)
) {
  throw new Error(
    '--seconds must be > 0, --concurrency whole numbers >= 1 (e.g. 16,64), --stub-latency-ms >= 0',
  );
}

interface Target {
  name: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  pool: Pool;
}

interface Result {
  target: string;
  concurrency: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

const children: ChildProcess[] = [];

function startChild(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(child);
  return child;
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not become healthy`);
}

/** Drives `target` at `concurrency` for `seconds`; latency per request in ms. */
async function drive(target: Target, concurrency: number, seconds: number): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      try {
        const res = await target.pool.request({
          method: 'POST',
          path: target.path,
          headers: { 'content-type': 'application/json', ...target.headers },
          body: target.body,
        });
        await res.body.dump();
        if (res.statusCode === 200) latencies.push(performance.now() - started);
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - began) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    target: target.name,
    concurrency,
    requests: latencies.length,
    errors,
    requestsPerSecond: round(latencies.length / elapsed, 0),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  };
}

async function main() {
  const redis = process.env.REDIS_URL ? undefined : await RedisServer.start();
  const redisUrl = process.env.REDIS_URL ?? (redis as RedisServer).url;

  const stubChild = startChild(
    ['services/inference-stub/src/main.ts', '--port', '0', '--latency-ms', String(STUB_LATENCY_MS)],
    {},
  );
  const firstLine = createInterface({ input: stubChild.stdout as NodeJS.ReadableStream });
  const [line] = (await once(firstLine, 'line')) as [string];
  firstLine.close();
  stubChild.stdout?.resume();
  const stubUrl = (JSON.parse(line) as { url: string }).url;

  const smPort = await freePort();
  const smChild = startChild(['services/session-manager/src/server.ts'], {
    PORT: String(smPort),
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    TRITON_URL: stubUrl,
    GATEWAY_SECRET: SECRET,
    LOG_LEVEL,
  });
  smChild.stdout?.resume();
  const smUrl = `http://127.0.0.1:${smPort}`;
  await waitHealthy(`${smUrl}/readyz`);

  const maxConcurrency = Math.max(...CONCURRENCY);
  const prompt = `<|im_start|>user\n${CONTENT}<|im_end|>\n<|im_start|>assistant\n`;
  const targets: Target[] = [
    {
      name: 'stand-in generate (direct)',
      path: `/v2/models/${MODEL}/generate`,
      headers: {},
      body: JSON.stringify({
        text_input: prompt,
        parameters: { max_tokens: MAX_TOKENS, stream: false },
      }),
      pool: new Pool(stubUrl, { connections: maxConcurrency }),
    },
    {
      name: 'session manager chat/completions',
      path: '/v1/chat/completions',
      headers: { 'x-axon-gateway-secret': SECRET, 'x-axon-key-id': 'bench', 'x-axon-plan': 'pro' },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: CONTENT }],
        max_tokens: MAX_TOKENS,
      }),
      pool: new Pool(smUrl, { connections: maxConcurrency }),
    },
  ];

  const results: Result[] = [];
  for (const concurrency of CONCURRENCY) {
    for (const target of targets) {
      progress(`${target.name} at concurrency ${concurrency}: warm-up, then ${SECONDS} s`);
      await drive(target, concurrency, WARMUP_SECONDS);
      results.push(await drive(target, concurrency, SECONDS));
    }
  }

  const ratios = CONCURRENCY.map((concurrency) => {
    const [direct, service] = targets.map((t) =>
      results.find((r) => r.target === t.name && r.concurrency === concurrency),
    ) as [Result, Result];
    return {
      concurrency,
      throughputRatio: round(service.requestsPerSecond / direct.requestsPerSecond),
      p50AddedMs: round(service.p50Ms - direct.p50Ms),
      p99AddedMs: round(service.p99Ms - direct.p99Ms),
    };
  });

  for (const target of targets) await target.pool.close();
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(
    children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)),
  );
  await redis?.stop();

  const meta = {
    seconds: SECONDS,
    logLevel: LOG_LEVEL,
    stubLatencyMs: STUB_LATENCY_MS,
    maxTokens: MAX_TOKENS,
    node: process.version,
  };
  if (wantsJson) {
    console.log(JSON.stringify({ benchmark: 'session', ...meta, results, ratios }));
    return;
  }
  console.log(
    table(
      ['target', 'concurrency', 'requests', 'errors', 'req/s', 'p50 ms', 'p99 ms'],
      results.map((r) => [
        r.target,
        r.concurrency,
        r.requests,
        r.errors,
        r.requestsPerSecond,
        r.p50Ms,
        r.p99Ms,
      ]),
    ),
  );
  console.log();
  console.log(
    table(
      ['concurrency', 'service/direct req/s', 'p50 added ms', 'p99 added ms'],
      ratios.map((r) => [r.concurrency, r.throughputRatio, r.p50AddedMs, r.p99AddedMs]),
    ),
  );
  console.log(
    `\n${SECONDS} s per cell after ${WARMUP_SECONDS} s warm-up; LOG_LEVEL=${LOG_LEVEL}; ` +
      `stand-in latency ${STUB_LATENCY_MS} ms; ${process.version}`,
  );
}

main().catch((error) => {
  for (const child of children) child.kill('SIGKILL');
  console.error(error);
  process.exit(1);
});
