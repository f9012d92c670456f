/**
 * npm run bench:gateway [-- --json] [--rates 100,500,1000] [--seconds 4] [--rounds 3]
 *                       [--warmup 0.5] [--connections 64] [--ttft-requests 50]
 *                       [--ttft-streams 64] [--ttft-tokens 8] [--profile <dir>]
 *
 * What the gateway adds to a request's latency. The same chat completion, at the same constant
 * offered load (open loop, latency from the scheduled send time), along six paths, in one run:
 *   (a) direct:    client → session manager, with the trusted headers the gateway would add;
 *   (b) lambda:    client → ALB emulator → gateway Lambda bundle (authorizer with its cache,
 *                  one Redis EVALSHA for the token bucket, forward with fetch) → session manager;
 *   (c) container: client → the container edge's HTTP server (services/gateway-edge), the same
 *                  gateway core → session manager;
 *   (d) nginx:     client → Debian's nginx doing the same job (static key map, limit_req,
 *                  proxy_pass over keep-alive) → session manager, as the reference;
 *   (e) node:      client → a bare node:http proxy (bench/lib/node-proxy.ts: no key, no limiter,
 *                  no hygiene) → session manager: the floor of Node's own HTTP stack, so the
 *                  container edge's CPU splits into what Node costs and what the gateway adds;
 *   (f) undici:    client → the same bare proxy forwarding with an undici Pool instead
 *                  (bench/lib/undici-proxy.ts): the second Node floor. The cheaper of (e) and (f)
 *                  is the floor the container edge's CPU is judged against (issue 21: ≤ 1.3 ×).
 * The gateway's plan has all three buckets (requests, tokens, day), so every request is admitted
 * and settled. Overhead = path − (a). Each server, Redis and the load generator run in their own
 * process; on this shared 2-core machine they still compete for the CPUs, so the targets are
 * interleaved per rate and the whole matrix is repeated in rounds; cells report the median round
 * and overheads the median of per-round paired differences.
 * Time to first token: streamed requests to a second session manager whose stand-in waits 20 ms
 * between tokens, directly and through its own container edge: one at a time (idle), and under
 * load, from 64 streaming clients at once (bench/lib/streams.ts), interleaved per round; under
 * load also through a bare node:http proxy that pipes the stream, the floor any Node edge pays.
 * CPU time per request of every process (Linux /proc) says where the time goes; `--profile`
 * writes a V8 CPU profile of the gateway process to <dir> (open it in Chrome DevTools).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../lib/paths.ts';
import { RedisServer } from '../local/redis-server.ts';
import { readyLine, spawnTs, stopAll } from './lib/children.ts';
import { childPids, commandOf, treeCpuMs } from './lib/cpu.ts';
import { type GcStats, readGcStats } from './lib/gc-monitor.ts';
import {
  type CellResult,
  type LoadProcess,
  type LoadTarget,
  startLoadProcess,
} from './lib/load.ts';
import { type Nginx, startNginx } from './lib/nginx.ts';
import { flag, median, percentile, progress, round, table, wantsJson } from './lib/report.ts';
import type { StreamResult } from './lib/streams.ts';

const RATES = flag('rates', '100,500,1000').split(',').map(Number);
const SECONDS = Number(flag('seconds', '4'));
const ROUNDS = Number(flag('rounds', '3'));
const WARMUP_SECONDS = Number(flag('warmup', '0.5'));
const CONNECTIONS = Number(flag('connections', '64'));
const PROFILE_DIR = flag('profile', '');
/**
 * Streamed requests per round and target for time to first token: one at a time, and per client
 * under load. And the stand-in's delay between tokens.
 */
const TTFT_REQUESTS = Number(flag('ttft-requests', '50'));
const TOKEN_DELAY_MS = 20;
/** Streaming clients at once for time to first token under load (issue 21: 64). */
const TTFT_STREAMS = Number(flag('ttft-streams', '64'));
/**
 * Content tokens per stream under load. Eight, as the load's requests ask for (`max_tokens` 8):
 * a stream lasts about 7 × TOKEN_DELAY_MS, so 64 clients start about 450 streams a second, near
 * the 500 requests/s of the latency target. More tokens: longer streams, fewer starts a second.
 */
const TTFT_TOKENS = Number(flag('ttft-tokens', '8'));
/** Streams per client to each target before the measured rounds under load. */
const TTFT_LOAD_WARMUP_STREAMS = 5;
/** Streamed requests to each time-to-first-token target before the measured ones. */
const TTFT_WARMUP_REQUESTS = 200;
/** Before the first round each target gets this long at the middle rate, to open and JIT. */
const FIRST_WARMUP_SECONDS = 2;
const TIMEOUT_MS = 10_000;
/** The issue's target: p99 overhead of the gateway at 500 requests/s. */
const TARGET = { rate: 500, p99OverheadMs: 1 } as const;
/** Issue 21: the container edge's CPU per request against the cheaper Node floor's. */
const CPU_VS_NODE_FLOOR = 1.3;

if (
  RATES.some((r) => !(r > 0)) ||
  !(SECONDS > 0) ||
  !Number.isInteger(ROUNDS) ||
  ROUNDS < 1 ||
  !(WARMUP_SECONDS >= 0) ||
  !Number.isInteger(CONNECTIONS) ||
  CONNECTIONS < 1 ||
  !Number.isInteger(TTFT_REQUESTS) ||
  TTFT_REQUESTS < 1 ||
  !Number.isInteger(TTFT_STREAMS) ||
  TTFT_STREAMS < 1 ||
  !Number.isInteger(TTFT_TOKENS) ||
  TTFT_TOKENS < 1
) {
  console.error(
    'usage: --rates 100,500,1000 (positive numbers) --seconds 4 (> 0) --rounds 3 (whole, >= 1; odd, so the median is a round) --warmup 0.5 (>= 0) --connections 64 (whole, >= 1) --ttft-requests 50 (whole, >= 1) --ttft-streams 64 (whole, >= 1) --ttft-tokens 8 (whole, >= 1) --profile <dir>',
  );
  process.exit(2);
}

const REQUEST_BODY = JSON.stringify({
  model: 'stub-echo-chatml',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 8,
});
const TARGET_NAMES = ['direct', 'lambda', 'container', 'nginx', 'node', 'undici'] as const;
type TargetName = (typeof TARGET_NAMES)[number];

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const secret = randomBytes(24).toString('base64url');
const buildDir = join(REPO_ROOT, '.axon', 'build', `bench-${process.pid}`);
let redis: RedisServer | undefined;
let nginx: Nginx | undefined;
/** The processes whose CPU time is read around every cell. */
const pids: Record<string, number | undefined> = {};
let gatewayChild: ChildProcess | undefined;

let interrupted = false;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopAll();
    await redis?.stop();
    nginx?.cleanup();
    rmSync(buildDir, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping the benchmark's processes`);
    void cleanup().finally(() => process.exit(130));
  });
}

interface GatewayReady {
  url: string;
  key: string;
  keyId: string;
  plan: string;
}

function trustedHeaders(g: GatewayReady): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-axon-key-id': g.keyId,
    'x-axon-plan': g.plan,
    'x-axon-gateway-secret': secret,
  };
}

function startGateway(
  edge: 'lambda' | 'container',
  upstreamUrl: string,
  ipc: boolean,
  label: string = edge,
) {
  return spawnTs(`gateway (${label})`, here('./lib/gateway-server.ts'), {
    env: {
      BENCH_REDIS_URL: redis?.url ?? '',
      BENCH_UPSTREAM_URL: upstreamUrl,
      BENCH_GATEWAY_SECRET: secret,
      BENCH_BUILD_DIR: join(buildDir, label),
      BENCH_EDGE: edge,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    nodeOptions: PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [],
    ipc,
  });
}

async function startTargets(): Promise<LoadTarget[]> {
  redis = await RedisServer.start();
  progress(`redis-server on ${redis.url}; starting the session manager`);
  const upstream = spawnTs('session manager', here('./lib/upstream-server.ts'), {
    env: { BENCH_REDIS_URL: redis.url, BENCH_GATEWAY_SECRET: secret },
  });
  const { url: upstreamUrl } = await readyLine<{ url: string }>(upstream);
  pids['session manager'] = upstream.pid;
  pids.redis = childPids(process.pid).find((pid) => commandOf(pid) === 'redis-server');
  progress(`session manager on ${upstreamUrl}; bundling and starting the gateway`);
  gatewayChild = startGateway('lambda', upstreamUrl, true);
  const gateway = await readyLine<GatewayReady>(gatewayChild);
  pids.lambda = gatewayChild.pid;
  const containerChild = startGateway('container', upstreamUrl, true);
  const container = await readyLine<GatewayReady>(containerChild);
  pids.container = containerChild.pid;
  // Time to first token: a second session manager whose stand-in waits TOKEN_DELAY_MS between
  // tokens, reached directly and through its own container edge (the first session manager
  // answers the load at once; a per-token delay there would change what the load measures).
  const slow = spawnTs('session manager (token delay)', here('./lib/upstream-server.ts'), {
    env: {
      BENCH_REDIS_URL: redis.url,
      BENCH_GATEWAY_SECRET: secret,
      BENCH_TOKEN_DELAY_MS: String(TOKEN_DELAY_MS),
    },
  });
  const { url: slowUrl } = await readyLine<{ url: string }>(slow);
  const slowEdgeChild = startGateway('container', slowUrl, true, 'ttft');
  const slowEdge = await readyLine<GatewayReady>(slowEdgeChild);
  // The floor under the edge for streams: the bare node:http proxy, piping the stream through.
  const slowProxy = spawnTs('node proxy (ttft)', here('./lib/node-proxy.ts'), {
    env: {
      BENCH_UPSTREAM_URL: slowUrl,
      BENCH_GATEWAY_SECRET: secret,
      BENCH_KEY_ID: gateway.keyId,
      BENCH_PLAN: gateway.plan,
    },
  });
  const { url: slowProxyUrl } = await readyLine<{ url: string }>(slowProxy);
  ttftPids = {
    'session manager': slow.pid,
    edge: slowEdgeChild.pid,
    'node proxy': slowProxy.pid,
  };
  ttftTargets = {
    direct: { url: slowUrl, headers: trustedHeaders(gateway) },
    container: {
      url: slowEdge.url,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${slowEdge.key}` },
    },
    node: { url: slowProxyUrl, headers: { 'content-type': 'application/json' } },
  };
  nginx = await startNginx({
    upstreamUrl,
    key: gateway.key,
    keyId: gateway.keyId,
    plan: gateway.plan,
    secret,
    limit: 1_000_000,
  });
  pids.nginx = nginx.process.pid;
  const nodeProxy = spawnTs('node proxy', here('./lib/node-proxy.ts'), {
    env: {
      BENCH_UPSTREAM_URL: upstreamUrl,
      BENCH_GATEWAY_SECRET: secret,
      BENCH_KEY_ID: gateway.keyId,
      BENCH_PLAN: gateway.plan,
    },
  });
  const { url: nodeUrl } = await readyLine<{ url: string }>(nodeProxy);
  pids.node = nodeProxy.pid;
  const undiciProxy = spawnTs('undici proxy', here('./lib/undici-proxy.ts'), {
    env: {
      BENCH_UPSTREAM_URL: upstreamUrl,
      BENCH_GATEWAY_SECRET: secret,
      BENCH_KEY_ID: gateway.keyId,
      BENCH_PLAN: gateway.plan,
    },
  });
  const { url: undiciUrl } = await readyLine<{ url: string }>(undiciProxy);
  pids.undici = undiciProxy.pid;
  progress(`gateway on ${gateway.url}; nginx ${nginx.version} on ${nginx.url}`);

  const json = { 'content-type': 'application/json' };
  const withKey = { ...json, authorization: `Bearer ${gateway.key}` };
  const trusted = {
    ...json,
    'x-axon-key-id': gateway.keyId,
    'x-axon-plan': gateway.plan,
    'x-axon-gateway-secret': secret,
  };
  const path = '/v1/chat/completions';
  const body = REQUEST_BODY;
  return [
    { name: 'direct', origin: upstreamUrl, path, headers: trusted, body },
    { name: 'lambda', origin: gateway.url, path, headers: withKey, body },
    {
      name: 'container',
      origin: container.url,
      path,
      headers: { ...json, authorization: `Bearer ${container.key}` },
      body,
    },
    { name: 'nginx', origin: nginx.url, path, headers: withKey, body },
    { name: 'node', origin: nodeUrl, path, headers: json, body },
    { name: 'undici', origin: undiciUrl, path, headers: json, body },
  ];
}

/** Each path answers the request with a completion, and the proxies refuse it without a key. */
async function preflight(targets: readonly LoadTarget[]): Promise<void> {
  for (const t of targets) {
    const url = `${t.origin}${t.path}`;
    const res = await fetch(url, { method: 'POST', headers: t.headers, body: t.body });
    const answer = (await res.json().catch(() => undefined)) as { object?: string } | undefined;
    if (res.status !== 200 || answer?.object !== 'chat.completion') {
      throw new Error(`${t.name}: expected a chat completion, got ${res.status}`);
    }
    // The direct path and the bare Node proxies check no key by design.
    if (t.name === 'direct' || t.name === 'node' || t.name === 'undici') continue;
    const { authorization: _, ...anonymous } = t.headers;
    const refused = await fetch(url, { method: 'POST', headers: anonymous, body: t.body });
    await refused.arrayBuffer();
    if (refused.status !== 401) throw new Error(`${t.name}: no key answered ${refused.status}`);
  }
}

interface TtftTarget {
  url: string;
  headers: Record<string, string>;
}
let ttftTargets: Record<TtftSide, TtftTarget> | undefined;
/** The time-to-first-token session manager, edge and proxy, whose CPU is read around each run. */
let ttftPids: Record<'session manager' | 'edge' | 'node proxy', number | undefined> | undefined;

const STREAM_BODY = JSON.stringify({
  model: 'stub-echo-chatml',
  messages: [{ role: 'user', content: 'one two three four' }],
  max_tokens: 4,
  stream: true,
});

/** Milliseconds from sending a streamed request to its first SSE `data:` chunk; reads it to the end. */
async function firstChunkMs(target: TtftTarget): Promise<number> {
  const start = performance.now();
  const res = await fetch(`${target.url}/v1/chat/completions`, {
    method: 'POST',
    headers: target.headers,
    body: STREAM_BODY,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (res.status !== 200 || !res.body) throw new Error(`streamed request answered ${res.status}`);
  const decoder = new TextDecoder();
  let seen = '';
  let first: number | undefined;
  for await (const chunk of res.body) {
    if (first === undefined) {
      seen += decoder.decode(chunk, { stream: true });
      if (seen.includes('data:')) first = performance.now() - start;
    }
  }
  if (first === undefined) throw new Error('the stream carried no data chunk');
  return first;
}

/**
 * Time to first token, container edge minus direct, p50 and p99: per round TTFT_REQUESTS
 * streamed requests to each, one at a time and alternating (no offered load: the figure is the
 * edge's own delay on the first chunk), then the median over rounds of the paired differences.
 */
async function measureTtft(): Promise<{ ttftOverheadP50Ms: number; ttftOverheadP99Ms: number }> {
  if (!ttftTargets) throw new Error('the time-to-first-token targets were not started');
  const { direct, container } = ttftTargets;
  // Warm-up as the load cells get one: enough streamed requests that both processes run the
  // streaming path optimised (JIT) before anything is measured, ten at a time to keep it short.
  for (let i = 0; i < TTFT_WARMUP_REQUESTS; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, () =>
        Promise.all([firstChunkMs(direct), firstChunkMs(container)]),
      ),
    );
  }
  const p50: number[] = [];
  const p99: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const d: number[] = [];
    const c: number[] = [];
    for (let i = 0; i < TTFT_REQUESTS; i++) {
      d.push(await firstChunkMs(direct));
      c.push(await firstChunkMs(container));
    }
    d.sort((a, b) => a - b);
    c.sort((a, b) => a - b);
    p50.push(percentile(c, 50) - percentile(d, 50));
    p99.push(percentile(c, 99) - percentile(d, 99));
    progress(
      `round ${r + 1}/${ROUNDS} time to first token: direct p50 ${round(percentile(d, 50))} ms p99 ${round(percentile(d, 99))} ms, container p50 ${round(percentile(c, 50))} ms p99 ${round(percentile(c, 99))} ms`,
    );
  }
  return { ttftOverheadP50Ms: round(median(p50), 3), ttftOverheadP99Ms: round(median(p99), 3) };
}

/**
 * The streamed request under load: TTFT_TOKENS content tokens. The stand-in echoes
 * `[stub] You said: <prompt>`, a word a token, so the prompt has the words to fill them.
 */
const LOAD_STREAM_BODY = JSON.stringify({
  model: 'stub-echo-chatml',
  messages: [
    {
      role: 'user',
      content: Array.from({ length: Math.max(1, TTFT_TOKENS - 3) }, (_, i) => `w${i + 1}`).join(
        ' ',
      ),
    },
  ],
  max_tokens: TTFT_TOKENS,
  stream: true,
});
/** Under load: the session manager itself, through the container edge, through the bare proxy. */
const TTFT_SIDES = ['direct', 'container', 'node'] as const;
type TtftSide = (typeof TTFT_SIDES)[number];

interface TtftLoadRun {
  result: StreamResult;
  /** CPU microseconds per completed stream of the session manager, the edge, the clients. */
  cpuMicrosPerStream: Record<string, number>;
}

/**
 * Time to first token under load, container edge minus direct: per round, TTFT_STREAMS clients
 * at once each send TTFT_REQUESTS streamed requests (closed loop, bench/lib/streams.ts) to one
 * target, then to the other (order alternating by round); p50 and p99 of each, and the overhead
 * as the median over rounds of the paired differences. The clients run in the load generator's
 * process with a connection each.
 */
async function measureTtftUnderLoad(load: LoadProcess) {
  if (!ttftTargets || !ttftPids)
    throw new Error('the time-to-first-token targets were not started');
  const path = '/v1/chat/completions';
  const name = (side: TtftSide) => `ttft ${side}`;
  await load.addTargets(
    TTFT_SIDES.map((side) => {
      const t = (ttftTargets as Record<TtftSide, TtftTarget>)[side];
      return { name: name(side), origin: t.url, path, headers: t.headers, body: LOAD_STREAM_BODY };
    }),
    TTFT_STREAMS,
  );
  const streamMs = (TTFT_TOKENS - 1) * TOKEN_DELAY_MS;
  const processes: Record<string, number | undefined> = {
    ...ttftPids,
    'load generator': load.process.pid,
  };
  const run = async (side: TtftSide, streamsPerClient: number): Promise<TtftLoadRun> => {
    const before = Object.fromEntries(
      Object.entries(processes).map(([n, pid]) => [n, treeCpuMs(pid)]),
    );
    const result = await load.streams({
      target: name(side),
      clients: TTFT_STREAMS,
      streamsPerClient,
      staggerMs: streamMs,
      timeoutMs: TIMEOUT_MS,
    });
    if (result.ok === 0) {
      throw new Error(
        `time to first token under load, ${side}: no stream succeeded (${JSON.stringify(result.errorKinds)})`,
      );
    }
    const cpuMicrosPerStream: Record<string, number> = {};
    for (const [n, pid] of Object.entries(processes)) {
      const start = before[n];
      const end = treeCpuMs(pid);
      if (start !== undefined && end !== undefined)
        cpuMicrosPerStream[n] = round(((end - start) * 1000) / result.ok, 0);
    }
    return { result, cpuMicrosPerStream };
  };
  for (const side of TTFT_SIDES) {
    progress(
      `warming time to first token under load up: ${TTFT_STREAMS} clients × ${TTFT_LOAD_WARMUP_STREAMS} streams, ${side}`,
    );
    await run(side, TTFT_LOAD_WARMUP_STREAMS);
  }
  const rounds: Record<TtftSide, TtftLoadRun>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Each side goes first, second and last in turn.
    const order = TTFT_SIDES.map((_, i) => TTFT_SIDES[(i + r) % TTFT_SIDES.length] as TtftSide);
    const pairs: Partial<Record<TtftSide, TtftLoadRun>> = {};
    for (const side of order) {
      const one = await run(side, TTFT_REQUESTS);
      pairs[side] = one;
      const { result: x } = one;
      progress(
        `round ${r + 1}/${ROUNDS} time to first token, ${TTFT_STREAMS} streams: ${side.padEnd(9)} p50 ${x.p50Ms} ms  p99 ${x.p99Ms} ms  ${x.streamsPerSecond} streams/s${side === 'container' ? `  edge CPU ${one.cpuMicrosPerStream.edge ?? '-'} µs/stream` : ''}${side === 'node' ? `  proxy CPU ${one.cpuMicrosPerStream['node proxy'] ?? '-'} µs/stream` : ''}${x.errors ? `  ${x.errors} errors` : ''}`,
      );
    }
    rounds.push(pairs as Record<TtftSide, TtftLoadRun>);
  }
  const side = (s: TtftSide) => {
    const runs = rounds.map((r) => r[s]);
    const mid = (pick: (r: TtftLoadRun) => number) => median(runs.map(pick));
    const errorKinds: Record<string, number> = {};
    for (const { result } of runs) {
      for (const [kind, n] of Object.entries(result.errorKinds))
        errorKinds[kind] = (errorKinds[kind] ?? 0) + n;
    }
    return {
      p50Ms: mid((r) => r.result.p50Ms),
      p90Ms: mid((r) => r.result.p90Ms),
      p99Ms: mid((r) => r.result.p99Ms),
      maxMs: Math.max(...runs.map((r) => r.result.maxMs)),
      streamP50Ms: mid((r) => r.result.streamP50Ms),
      streamsPerSecond: mid((r) => r.result.streamsPerSecond),
      ok: runs.reduce((n, r) => n + r.result.ok, 0),
      errors: runs.reduce((n, r) => n + r.result.errors, 0),
      errorKinds,
      cpuMicrosPerStream: Object.fromEntries(
        Object.keys(runs[0]?.cpuMicrosPerStream ?? {}).map((n) => [
          n,
          mid((r) => r.cpuMicrosPerStream[n] ?? Number.NaN),
        ]),
      ),
    };
  };
  const paired = (
    pick: 'p50Ms' | 'p99Ms',
    over: TtftSide = 'direct',
    side: TtftSide = 'container',
  ) => round(median(rounds.map((r) => r[side].result[pick] - r[over].result[pick])), 3);
  return {
    streams: TTFT_STREAMS,
    streamsPerClientPerRound: TTFT_REQUESTS,
    tokens: TTFT_TOKENS,
    tokenDelayMs: TOKEN_DELAY_MS,
    request: `POST ${path} ${LOAD_STREAM_BODY}`,
    overheadP50Ms: paired('p50Ms'),
    overheadP99Ms: paired('p99Ms'),
    /** The bare node:http proxy over direct: what any Node proxy adds here. */
    nodeFloorOverheadP50Ms: paired('p50Ms', 'direct', 'node'),
    nodeFloorOverheadP99Ms: paired('p99Ms', 'direct', 'node'),
    /** The container edge over that proxy: what the gateway's own work adds. */
    overNodeFloorP50Ms: paired('p50Ms', 'node'),
    overNodeFloorP99Ms: paired('p99Ms', 'node'),
    direct: side('direct'),
    container: side('container'),
    node: side('node'),
    rounds: rounds.map((r) =>
      Object.fromEntries(
        TTFT_SIDES.map((s) => {
          const { p50Ms, p99Ms, streamsPerSecond, errors } = r[s].result;
          return [s, { p50Ms, p99Ms, streamsPerSecond, errors }];
        }),
      ),
    ),
  };
}

interface Round extends CellResult {
  /** CPU microseconds per request of each process, warm-up included. */
  cpuMicrosPerRequest: Record<string, number>;
  /** The gateway process's collections during the cell (warm-up included). */
  gatewayGc?: GcStats;
}

interface Cell {
  target: TargetName;
  rate: number;
  rounds: Round[];
}

function cpuNow(): Record<string, number | undefined> {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, treeCpuMs(pid)]));
}

function cpuPerRequest(
  before: Record<string, number | undefined>,
  requests: number,
): Record<string, number> {
  const after = cpuNow();
  const out: Record<string, number> = {};
  for (const [name, ms] of Object.entries(after)) {
    const start = before[name];
    if (ms !== undefined && start !== undefined)
      out[name] = round(((ms - start) * 1000) / requests, 0);
  }
  return out;
}

async function measure(load: LoadProcess, targets: LoadTarget[]): Promise<Cell[]> {
  const middle = RATES[Math.floor(RATES.length / 2)] as number;
  for (const t of targets) {
    progress(`warming ${t.name} up: ${FIRST_WARMUP_SECONDS} s at ${middle} requests/s`);
    await load.run({
      target: t.name,
      rate: middle,
      seconds: FIRST_WARMUP_SECONDS,
      warmupSeconds: 0,
      timeoutMs: TIMEOUT_MS,
    });
  }
  const cells: Cell[] = RATES.flatMap((rate) =>
    TARGET_NAMES.map((target) => ({ target, rate, rounds: [] })),
  );
  for (let r = 0; r < ROUNDS; r++) {
    for (const rate of RATES) {
      // Rotate the order each round, so no target always runs first (or after the same one).
      const order = TARGET_NAMES.map((_, i) => TARGET_NAMES[(i + r) % TARGET_NAMES.length]);
      for (const target of order as TargetName[]) {
        const cpuBefore = cpuNow();
        if (gatewayChild) await readGcStats(gatewayChild); // counts from here on
        const result = await load.run({
          target,
          rate,
          seconds: SECONDS,
          warmupSeconds: WARMUP_SECONDS,
          timeoutMs: TIMEOUT_MS,
        });
        const requests = Math.round(rate * (SECONDS + WARMUP_SECONDS));
        const cpuMicrosPerRequest = cpuPerRequest(cpuBefore, requests);
        const gatewayGc =
          target === 'lambda' && gatewayChild ? await readGcStats(gatewayChild) : undefined;
        cells
          .find((c) => c.target === target && c.rate === rate)
          ?.rounds.push({ ...result, cpuMicrosPerRequest, ...(gatewayGc && { gatewayGc }) });
        progress(
          `round ${r + 1}/${ROUNDS} ${rate} req/s ${target.padEnd(7)} p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms  ${result.achievedRps} req/s  proxy CPU ${cpuMicrosPerRequest[target] ?? '-'} µs/req${result.errors ? `  ${result.errors} errors` : ''}`,
        );
      }
    }
  }
  return cells;
}

/** Why a cell's numbers deserve a second look; empty when they are clean. */
function notes(cell: Cell): string[] {
  const sum = (pick: (r: CellResult) => number) =>
    cell.rounds.reduce((total, r) => total + pick(r), 0);
  const out: string[] = [];
  if (sum((r) => r.errors) > 0) out.push(`${sum((r) => r.errors)} errors`);
  if (sum((r) => r.degraded) > 0) out.push(`${sum((r) => r.degraded)} degraded`);
  if (cell.rounds.some((r) => r.achievedRps < 0.95 * cell.rate)) out.push('fell behind');
  if (median(cell.rounds.map((r) => r.sendLagP99Ms)) > 5) out.push('load client lagged');
  return out;
}

function summarise(cell: Cell) {
  const mid = (pick: (r: Round) => number) => median(cell.rounds.map(pick));
  const cpuMicrosPerRequest = Object.fromEntries(
    Object.keys(cell.rounds[0]?.cpuMicrosPerRequest ?? {}).map((name) => [
      name,
      mid((r) => r.cpuMicrosPerRequest[name] ?? Number.NaN),
    ]),
  );
  const errorKinds: Record<string, number> = {};
  for (const r of cell.rounds) {
    for (const [kind, n] of Object.entries(r.errorKinds))
      errorKinds[kind] = (errorKinds[kind] ?? 0) + n;
  }
  return {
    target: cell.target,
    offeredRps: cell.rate,
    achievedRps: mid((r) => r.achievedRps),
    p50Ms: mid((r) => r.p50Ms),
    p90Ms: mid((r) => r.p90Ms),
    p99Ms: mid((r) => r.p99Ms),
    maxMs: Math.max(...cell.rounds.map((r) => r.maxMs)),
    sent: cell.rounds.reduce((n, r) => n + r.sent, 0),
    errors: cell.rounds.reduce((n, r) => n + r.errors, 0),
    errorKinds,
    degraded: cell.rounds.reduce((n, r) => n + r.degraded, 0),
    sendLagP99Ms: mid((r) => r.sendLagP99Ms),
    cpuMicrosPerRequest,
    ...(cell.target === 'lambda' && { gatewayGc: gcSummary(cell) }),
    notes: notes(cell),
    rounds: cell.rounds.map(({ p50Ms, p99Ms, achievedRps, errors }) => ({
      p50Ms,
      p99Ms,
      achievedRps,
      errors,
    })),
  };
}

/** The gateway's collections over all rounds of a cell: rates per second of cell time. */
function gcSummary(cell: Cell) {
  const stats = cell.rounds.flatMap((r) => (r.gatewayGc ? [r.gatewayGc] : []));
  if (stats.length === 0) return undefined;
  const seconds = stats.length * (SECONDS + WARMUP_SECONDS);
  return {
    pausesPerSecond: round(stats.reduce((n, g) => n + g.pauses, 0) / seconds, 1),
    pauseMsPerSecond: round(stats.reduce((n, g) => n + g.totalMs, 0) / seconds, 1),
    longestPauseMs: round(Math.max(...stats.map((g) => g.maxMs)), 1),
    majorPauses: stats.reduce((n, g) => n + g.majorPauses, 0),
  };
}

/** Median over rounds of the paired difference `target − direct` at one rate. */
function overhead(cells: Cell[], target: TargetName, rate: number, pick: 'p50Ms' | 'p99Ms') {
  const of = (name: TargetName) => cells.find((c) => c.target === name && c.rate === rate);
  const base = of('direct');
  const other = of(target);
  if (!base || !other) return null;
  return round(median(other.rounds.map((r, i) => r[pick] - (base.rounds[i]?.[pick] ?? NaN))), 3);
}

/** A reading that is missing or not a number (no /proc) as null, as the report writes it. */
const numberOrNull = (value: number | undefined): number | null =>
  value === undefined || Number.isNaN(value) ? null : value;

async function main() {
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadAverage1m: round(loadavg()[0] ?? 0),
  };
  const targets = await startTargets();
  await preflight(targets);
  const load = await startLoadProcess(targets, CONNECTIONS);
  pids['load generator'] = load.process.pid;
  const cells = await measure(load, targets);

  const ttft = await measureTtft();
  const ttftUnderLoad = await measureTtftUnderLoad(load);

  const matrix = cells.map(summarise);
  const pair = (t: TargetName, rate: number) => ({
    p50Ms: overhead(cells, t, rate, 'p50Ms'),
    p99Ms: overhead(cells, t, rate, 'p99Ms'),
  });
  const overheads = RATES.map((rate) => ({
    rate,
    lambda: pair('lambda', rate),
    container: pair('container', rate),
    nginx: pair('nginx', rate),
    node: pair('node', rate),
    undici: pair('undici', rate),
  }));
  const at = (t: Exclude<TargetName, 'direct'>) => ({
    p99OverheadMs: overhead(cells, t, TARGET.rate, 'p99Ms'),
    p50OverheadMs: overhead(cells, t, TARGET.rate, 'p50Ms'),
    // The proxy's own process (tree, for nginx its master and worker), median over rounds.
    cpuMicrosPerRequest: numberOrNull(
      matrix.find((m) => m.target === t && m.offeredRps === TARGET.rate)?.cpuMicrosPerRequest[t],
    ),
  });
  const ref = at('nginx');
  const minusNginx = (p99: number | null) =>
    p99 === null || ref.p99OverheadMs === null ? null : round(p99 - ref.p99OverheadMs, 3);
  const lambdaAt = at('lambda');
  const lambda = { ...lambdaAt, p99OverheadMinusNginxMs: minusNginx(lambdaAt.p99OverheadMs) };
  const containerAt = at('container');
  const container = {
    ...containerAt,
    // container p99 overhead − nginx's at 500 requests/s (target: ≤ 1 ms).
    p99OverheadMinusNginxMs: minusNginx(containerAt.p99OverheadMs),
    ...ttft,
  };
  const floor = at('node');
  const undiciFloor = at('undici');
  // The cheaper of the two bare Node proxies at 500 requests/s: the least a Node edge costs.
  const floorCpu = { node: floor.cpuMicrosPerRequest, undici: undiciFloor.cpuMicrosPerRequest };
  const cheaperNodeFloor = (['node', 'undici'] as const).reduce<'node' | 'undici' | null>(
    (best, n) => {
      const cpu = floorCpu[n];
      if (cpu === null) return best;
      return best === null || cpu < (floorCpu[best] ?? Number.POSITIVE_INFINITY) ? n : best;
    },
    null,
  );
  const cheaperCpu = cheaperNodeFloor === null ? null : floorCpu[cheaperNodeFloor];
  const ratio = (a: number | null, b: number | null) =>
    a === null || b === null || !(b > 0) ? null : round(a / b, 2);
  const ratios = {
    rate: TARGET.rate,
    cheaperNodeFloor,
    containerVsCheaperNodeFloor: ratio(container.cpuMicrosPerRequest, cheaperCpu),
    containerVsNginx: ratio(container.cpuMicrosPerRequest, ref.cpuMicrosPerRequest),
    containerVsNodeFloor: ratio(container.cpuMicrosPerRequest, floor.cpuMicrosPerRequest),
    containerVsUndiciFloor: ratio(container.cpuMicrosPerRequest, undiciFloor.cpuMicrosPerRequest),
    lambdaVsCheaperNodeFloor: ratio(lambda.cpuMicrosPerRequest, cheaperCpu),
    lambdaVsNginx: ratio(lambda.cpuMicrosPerRequest, ref.cpuMicrosPerRequest),
    cheaperNodeFloorVsNginx: ratio(cheaperCpu, ref.cpuMicrosPerRequest),
  };
  const within = (value: number | null, bound: number | null) =>
    value === null || bound === null || Number.isNaN(value) ? null : value <= bound;
  const report = {
    benchmark: 'gateway',
    container,
    lambda,
    nginxP99OverheadMs: ref.p99OverheadMs,
    nginxP50OverheadMs: ref.p50OverheadMs,
    nginxCpuMicrosPerRequest: ref.cpuMicrosPerRequest,
    // The bare node:http proxy: what Node's HTTP stack alone costs on this path (not a target).
    nodeP99OverheadMs: floor.p99OverheadMs,
    nodeP50OverheadMs: floor.p50OverheadMs,
    nodeCpuMicrosPerRequest: floor.cpuMicrosPerRequest,
    // The same bare proxy forwarding with an undici Pool (not a target either).
    undiciP99OverheadMs: undiciFloor.p99OverheadMs,
    undiciP50OverheadMs: undiciFloor.p50OverheadMs,
    undiciCpuMicrosPerRequest: undiciFloor.cpuMicrosPerRequest,
    // The floors side by side at 500 requests/s, and which Node floor was the cheaper.
    floors: {
      rate: TARGET.rate,
      cheaperNode: cheaperNodeFloor,
      node: floor,
      undici: undiciFloor,
      nginx: ref,
    },
    ratios,
    // Time to first token with TTFT_STREAMS streams open at once, container edge against direct.
    ttftUnderLoad,
    // The targets for the container edge at 500 requests/s, judged on this run: issue 12's
    // (the first four) and issue 21's (CPU against the cheaper Node floor, time to first token
    // under load; its p99 target is issue 12's p99AtMostNginxPlus1Ms).
    targets: {
      rate: TARGET.rate,
      cpuAtMost2xNginx: within(
        container.cpuMicrosPerRequest,
        ref.cpuMicrosPerRequest === null ? null : 2 * ref.cpuMicrosPerRequest,
      ),
      p99AtMostNginxPlus1Ms: within(
        container.p99OverheadMs,
        ref.p99OverheadMs === null ? null : ref.p99OverheadMs + 1,
      ),
      ttftP50AtMost2Ms: within(container.ttftOverheadP50Ms, 2),
      ttftP99AtMost5Ms: within(container.ttftOverheadP99Ms, 5),
      cpuAtMost1_3xCheaperNodeFloor: within(
        container.cpuMicrosPerRequest,
        cheaperCpu === null ? null : CPU_VS_NODE_FLOOR * cheaperCpu,
      ),
      ttftUnderLoadP50AtMost2Ms: within(ttftUnderLoad.overheadP50Ms, 2),
      ttftUnderLoadP99AtMost5Ms: within(ttftUnderLoad.overheadP99Ms, 5),
    },
    overheads,
    matrix,
    machine: { ...machine, nginx: nginx?.version },
    settings: {
      rates: RATES,
      seconds: SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      ttftRequests: TTFT_REQUESTS,
      ttftStreams: TTFT_STREAMS,
      ttftTokens: TTFT_TOKENS,
      request: `POST /v1/chat/completions ${REQUEST_BODY}`,
    },
  };

  if (wantsJson) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(
    table(
      [
        'target',
        'offered req/s',
        'achieved req/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'errors',
        'proxy CPU µs/req',
        'all CPU µs/req',
        'notes',
      ],
      matrix.map((m) => [
        m.target,
        m.offeredRps,
        m.achievedRps,
        m.p50Ms,
        m.p90Ms,
        m.p99Ms,
        m.errors,
        m.cpuMicrosPerRequest[m.target] ?? '-',
        Object.keys(m.cpuMicrosPerRequest).length
          ? Object.values(m.cpuMicrosPerRequest).reduce((a, b) => a + b, 0)
          : '-',
        m.notes.join(', ') || '-',
      ]),
    ),
  );
  console.log();
  const fmt = (v: number | null) => (v === null ? '-' : `+${v}`.replace('+-', '-'));
  console.log(
    table(
      [
        'offered req/s',
        'lambda p50',
        'lambda p99',
        'container p50',
        'container p99',
        'nginx p50',
        'nginx p99',
        'node p50',
        'node p99',
        'undici p50',
        'undici p99',
      ],
      overheads.map((o) => [
        o.rate,
        fmt(o.lambda.p50Ms),
        fmt(o.lambda.p99Ms),
        fmt(o.container.p50Ms),
        fmt(o.container.p99Ms),
        fmt(o.nginx.p50Ms),
        fmt(o.nginx.p99Ms),
        fmt(o.node.p50Ms),
        fmt(o.node.p99Ms),
        fmt(o.undici.p50Ms),
        fmt(o.undici.p99Ms),
      ]),
    ),
  );
  const gcLines = matrix.flatMap((m) =>
    m.gatewayGc
      ? [
          `  ${m.offeredRps} req/s: ${m.gatewayGc.pausesPerSecond} pauses/s, ${m.gatewayGc.pauseMsPerSecond} ms/s paused, longest ${m.gatewayGc.longestPauseMs} ms, ${m.gatewayGc.majorPauses} major`,
        ]
      : [],
  );
  console.log(
    `\nLambda edge process garbage collection (all rounds, warm-ups included):\n${gcLines.join('\n')}`,
  );
  const verdict = (met: boolean | null) => (met === null ? 'not measured' : met ? 'met' : 'missed');
  const t = report.targets;
  const u = ttftUnderLoad;
  console.log(
    `\nAdded latency over the direct path, ms (median of ${ROUNDS} rounds of per-round differences).` +
      `\nAt ${TARGET.rate} req/s, container edge: p99 ${fmt(container.p99OverheadMs)} ms (nginx ${fmt(ref.p99OverheadMs)} ms, difference ${fmt(container.p99OverheadMinusNginxMs)}; target nginx + 1 ms: ${verdict(t.p99AtMostNginxPlus1Ms)}); lambda edge: p99 ${fmt(lambda.p99OverheadMs)} ms.` +
      `\nCPU µs/request at ${TARGET.rate} req/s: container edge ${container.cpuMicrosPerRequest}, lambda edge ${lambda.cpuMicrosPerRequest}; floors: node:http proxy ${floor.cpuMicrosPerRequest}, undici proxy ${undiciFloor.cpuMicrosPerRequest}, nginx ${ref.cpuMicrosPerRequest}. Container ${ratios.containerVsCheaperNodeFloor ?? '-'} × the cheaper Node floor (${cheaperNodeFloor ?? '-'}; target ${CPU_VS_NODE_FLOOR} ×: ${verdict(t.cpuAtMost1_3xCheaperNodeFloor)}), ${ratios.containerVsNginx ?? '-'} × nginx (issue 12's target 2 ×: ${verdict(t.cpuAtMost2xNginx)}).` +
      `\nTime to first token through the container edge, ${u.streams} streams at once: p50 ${fmt(u.overheadP50Ms)} ms (target 2 ms: ${verdict(t.ttftUnderLoadP50AtMost2Ms)}), p99 ${fmt(u.overheadP99Ms)} ms (target 5 ms: ${verdict(t.ttftUnderLoadP99AtMost5Ms)}); direct p50 ${u.direct.p50Ms} / p99 ${u.direct.p99Ms} ms at ${u.direct.streamsPerSecond} streams/s, container p50 ${u.container.p50Ms} / p99 ${u.container.p99Ms} ms at ${u.container.streamsPerSecond} streams/s, edge CPU ${u.container.cpuMicrosPerStream.edge ?? '-'} µs/stream${u.direct.errors + u.container.errors + u.node.errors ? `; ${u.direct.errors} direct, ${u.container.errors} container and ${u.node.errors} node proxy errors` : ''}.` +
      `\nThe bare node:http proxy under the same load: p50 ${fmt(u.nodeFloorOverheadP50Ms)} / p99 ${fmt(u.nodeFloorOverheadP99Ms)} ms over direct (proxy CPU ${u.node.cpuMicrosPerStream['node proxy'] ?? '-'} µs/stream); the container edge over it: p50 ${fmt(u.overNodeFloorP50Ms)} / p99 ${fmt(u.overNodeFloorP99Ms)} ms.` +
      `\nOne stream at a time: p50 ${fmt(container.ttftOverheadP50Ms)} ms (target 2 ms: ${verdict(t.ttftP50AtMost2Ms)}), p99 ${fmt(container.ttftOverheadP99Ms)} ms (target 5 ms: ${verdict(t.ttftP99AtMost5Ms)}).` +
      `\n${SECONDS} s per cell after ${WARMUP_SECONDS} s warm-up, open loop, ${CONNECTIONS} keep-alive connections; ${machine.cpus} CPUs (${machine.cpuModel}), load ${machine.loadAverage1m} at start, node ${machine.node}, nginx ${nginx?.version}.`,
  );
}

try {
  await main();
} catch (err) {
  process.exitCode = 1;
  if (!interrupted) console.error(err instanceof Error ? err.message : err);
} finally {
  await cleanup();
}
