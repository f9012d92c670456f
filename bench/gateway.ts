/**
 * npm run bench:gateway [-- --json] [--rates 100,500,1000] [--seconds 4] [--rounds 3]
 *                       [--warmup 0.5] [--connections 64] [--profile <dir>]
 *
 * What the gateway adds to a request's latency. The same chat completion, at the same constant
 * offered load (open loop, latency from the scheduled send time), along three paths, in one run:
 *   (a) direct:  client → session manager, with the trusted headers the gateway would add;
 *   (b) gateway: client → ALB emulator → gateway Lambda bundle (authorizer with its cache,
 *                one Redis EVALSHA for the token bucket, forward with fetch) → session manager;
 *   (c) nginx:   client → Debian's nginx doing the same job (static key map, limit_req,
 *                proxy_pass over keep-alive) → session manager, as the reference.
 * Overhead = (b) − (a), and (c) − (a) for nginx. Each server, Redis and the load generator run
 * in their own process; on this shared 2-core machine they still compete for the CPUs, so the
 * three targets are interleaved per rate and the whole matrix is repeated in rounds; cells
 * report the median round and overheads the median of per-round paired differences.
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
import { type CellResult, type LoadTarget, startLoadProcess } from './lib/load.ts';
import { type Nginx, startNginx } from './lib/nginx.ts';
import { flag, median, progress, round, table, wantsJson } from './lib/report.ts';

const RATES = flag('rates', '100,500,1000').split(',').map(Number);
const SECONDS = Number(flag('seconds', '4'));
const ROUNDS = Number(flag('rounds', '3'));
const WARMUP_SECONDS = Number(flag('warmup', '0.5'));
const CONNECTIONS = Number(flag('connections', '64'));
const PROFILE_DIR = flag('profile', '');
/** Before the first round each target gets this long at the middle rate, to open and JIT. */
const FIRST_WARMUP_SECONDS = 2;
const TIMEOUT_MS = 10_000;
/** The issue's target: p99 overhead of the gateway at 500 requests/s. */
const TARGET = { rate: 500, p99OverheadMs: 1 } as const;

if (
  RATES.some((r) => !(r > 0)) ||
  !(SECONDS > 0) ||
  !Number.isInteger(ROUNDS) ||
  ROUNDS < 1 ||
  !(WARMUP_SECONDS >= 0) ||
  !Number.isInteger(CONNECTIONS) ||
  CONNECTIONS < 1
) {
  console.error(
    'usage: --rates 100,500,1000 (positive numbers) --seconds 4 (> 0) --rounds 3 (whole, >= 1; odd, so the median is a round) --warmup 0.5 (>= 0) --connections 64 (whole, >= 1) --profile <dir>',
  );
  process.exit(2);
}

const REQUEST_BODY = JSON.stringify({
  model: 'stub-echo-chatml',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 8,
});
const TARGET_NAMES = ['direct', 'gateway', 'nginx'] as const;
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
  gatewayChild = spawnTs('gateway', here('./lib/gateway-server.ts'), {
    env: {
      BENCH_REDIS_URL: redis.url,
      BENCH_UPSTREAM_URL: upstreamUrl,
      BENCH_GATEWAY_SECRET: secret,
      BENCH_BUILD_DIR: buildDir,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    nodeOptions: PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [],
    ipc: true,
  });
  const gateway = await readyLine<{ url: string; key: string; keyId: string; plan: string }>(
    gatewayChild,
  );
  pids.gateway = gatewayChild.pid;
  nginx = await startNginx({
    upstreamUrl,
    key: gateway.key,
    keyId: gateway.keyId,
    plan: gateway.plan,
    secret,
    limit: 1_000_000,
  });
  pids.nginx = nginx.process.pid;
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
    { name: 'gateway', origin: gateway.url, path, headers: withKey, body },
    { name: 'nginx', origin: nginx.url, path, headers: withKey, body },
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
    if (t.name === 'direct') continue;
    const { authorization: _, ...anonymous } = t.headers;
    const refused = await fetch(url, { method: 'POST', headers: anonymous, body: t.body });
    await refused.arrayBuffer();
    if (refused.status !== 401) throw new Error(`${t.name}: no key answered ${refused.status}`);
  }
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

async function measure(targets: LoadTarget[]): Promise<Cell[]> {
  const load = await startLoadProcess(targets, CONNECTIONS);
  pids['load generator'] = load.process.pid;
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
          target === 'gateway' && gatewayChild ? await readGcStats(gatewayChild) : undefined;
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
    ...(cell.target === 'gateway' && { gatewayGc: gcSummary(cell) }),
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

async function main() {
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadAverage1m: round(loadavg()[0] ?? 0),
  };
  const targets = await startTargets();
  await preflight(targets);
  const cells = await measure(targets);

  const matrix = cells.map(summarise);
  const overheads = RATES.map((rate) => ({
    rate,
    gateway: {
      p50Ms: overhead(cells, 'gateway', rate, 'p50Ms'),
      p99Ms: overhead(cells, 'gateway', rate, 'p99Ms'),
    },
    nginx: {
      p50Ms: overhead(cells, 'nginx', rate, 'p50Ms'),
      p99Ms: overhead(cells, 'nginx', rate, 'p99Ms'),
    },
  }));
  const atTarget = overheads.find((o) => o.rate === TARGET.rate);
  const p99OverheadMs = atTarget?.gateway.p99Ms ?? null;
  const report = {
    benchmark: 'gateway',
    p99OverheadMs,
    p50OverheadMs: atTarget?.gateway.p50Ms ?? null,
    nginxP99OverheadMs: atTarget?.nginx.p99Ms ?? null,
    nginxP50OverheadMs: atTarget?.nginx.p50Ms ?? null,
    target: {
      rate: TARGET.rate,
      p99OverheadMs: TARGET.p99OverheadMs,
      met: p99OverheadMs === null ? null : p99OverheadMs <= TARGET.p99OverheadMs,
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
      ['offered req/s', 'gateway p50', 'gateway p99', 'nginx p50', 'nginx p99'],
      overheads.map((o) => [
        o.rate,
        fmt(o.gateway.p50Ms),
        fmt(o.gateway.p99Ms),
        fmt(o.nginx.p50Ms),
        fmt(o.nginx.p99Ms),
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
    `\nGateway process garbage collection (all rounds, warm-ups included):\n${gcLines.join('\n')}`,
  );
  const verdict =
    report.target.met === null ? 'not measured' : report.target.met ? 'met' : 'missed';
  console.log(
    `\nAdded latency over the direct path, ms (median of ${ROUNDS} rounds of per-round differences).` +
      `\nGateway p99 overhead at ${TARGET.rate} req/s: ${fmt(p99OverheadMs)} ms (target <= ${TARGET.p99OverheadMs} ms: ${verdict}); nginx: ${fmt(report.nginxP99OverheadMs)} ms.` +
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
