/**
 * An open-loop load generator: requests leave at a constant rate whatever the server does, and
 * each latency is measured from the time the request was scheduled to leave, not from when it
 * actually left. A closed loop (N workers, next request when the last answer arrives) slows down
 * with the server and so hides its queueing (coordinated omission); this does not.
 *
 * Requests go through an undici keep-alive `Pool`. The generator runs in its own process
 * (`startLoadProcess`, bench/lib/load-worker.ts) so its timers never wait behind a server's work.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'undici';
import { forkTs, stderrOf } from './children.ts';
import { percentile, round } from './report.ts';
import type { StreamResult, StreamSpec } from './streams.ts';

export interface LoadTarget {
  readonly name: string;
  readonly origin: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface CellSpec {
  readonly target: string;
  /** Offered load, requests per second. */
  readonly rate: number;
  readonly seconds: number;
  /** Same rate, results discarded: connections open, JIT warm, caches filled. */
  readonly warmupSeconds: number;
  /** Per-request deadline for headers and body; a request past it counts as an error. */
  readonly timeoutMs: number;
}

export interface CellResult {
  readonly target: string;
  readonly rate: number;
  /** Requests scheduled (all were sent). */
  readonly sent: number;
  /** 200 answers; only these have a latency. */
  readonly ok: number;
  /** Everything else: other statuses and failed requests. */
  readonly errors: number;
  /** What the errors were: `status 502`, `UND_ERR_HEADERS_TIMEOUT`, ... */
  readonly errorKinds: Readonly<Record<string, number>>;
  /** 200 answers that carried `x-axon-ratelimit-degraded` (Redis too slow, local bucket used). */
  readonly degraded: number;
  /** 200 answers per second over the cell (until the last answer, if that came later). */
  readonly achievedRps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** How late the generator itself sent (p99, ms): large values mean the load client lagged. */
  readonly sendLagP99Ms: number;
}

interface Samples {
  latencies: number[];
  lags: number[];
  errorKinds: Record<string, number>;
  degraded: number;
  windowMs: number;
}

const DEGRADED_HEADER = 'x-axon-ratelimit-degraded';

/** Offers `rate` requests per second for `durationMs`, then waits for every answer. */
async function offer(
  pool: Pool,
  target: LoadTarget,
  rate: number,
  durationMs: number,
  timeoutMs: number,
): Promise<Samples> {
  const samples: Samples = { latencies: [], lags: [], errorKinds: {}, degraded: 0, windowMs: 0 };
  const fail = (kind: string) => {
    samples.errorKinds[kind] = (samples.errorKinds[kind] ?? 0) + 1;
  };
  const interval = 1000 / rate;
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const pending = new Set<Promise<void>>();

  const send = (scheduled: number) => {
    samples.lags.push(performance.now() - scheduled);
    const request = pool
      .request({
        method: 'POST',
        path: target.path,
        headers: target.headers,
        body: target.body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
      .then(async (res) => {
        await res.body.arrayBuffer(); // the whole answer, on every path
        const latency = performance.now() - scheduled;
        if (res.statusCode !== 200) return fail(`status ${res.statusCode}`);
        samples.latencies.push(latency);
        if (res.headers[DEGRADED_HEADER] !== undefined) samples.degraded++;
      })
      .catch((err: { code?: string; name?: string }) => fail(err.code ?? err.name ?? 'error'))
      .finally(() => pending.delete(request));
    pending.add(request);
  };

  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      // Everything that is due leaves now, each keeping its own scheduled time.
      while (next < total && start + next * interval <= now) send(start + next++ * interval);
      if (next >= total) return resolve();
      setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(pending);
  samples.windowMs = Math.max(durationMs, performance.now() - start);
  return samples;
}

/** One measured cell: a warm-up at the same rate, then the measurement. */
export async function runCell(pool: Pool, target: LoadTarget, spec: CellSpec): Promise<CellResult> {
  if (spec.warmupSeconds > 0) {
    await offer(pool, target, spec.rate, spec.warmupSeconds * 1000, spec.timeoutMs);
  }
  const s = await offer(pool, target, spec.rate, spec.seconds * 1000, spec.timeoutMs);
  const sorted = s.latencies.sort((a, b) => a - b);
  const errors = Object.values(s.errorKinds).reduce((sum, n) => sum + n, 0);
  const ms = (value: number) => round(value, 3);
  return {
    target: target.name,
    rate: spec.rate,
    sent: s.lags.length,
    ok: sorted.length,
    errors,
    errorKinds: s.errorKinds,
    degraded: s.degraded,
    achievedRps: round(sorted.length / (s.windowMs / 1000), 1),
    p50Ms: ms(percentile(sorted, 50)),
    p90Ms: ms(percentile(sorted, 90)),
    p99Ms: ms(percentile(sorted, 99)),
    maxMs: ms(sorted.at(-1) ?? Number.NaN),
    sendLagP99Ms: ms(
      percentile(
        s.lags.sort((a, b) => a - b),
        99,
      ),
    ),
  };
}

/** Messages between the benchmark and its load process. */
export type LoadCommand =
  | { type: 'targets'; targets: LoadTarget[]; connections: number }
  | { type: 'run'; id: number; spec: CellSpec }
  | { type: 'streams'; id: number; spec: StreamSpec };
export type LoadReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: CellResult }
  | { type: 'streams-result'; id: number; result: StreamResult }
  | { type: 'failed'; id: number; message: string };

export interface LoadProcess {
  run(spec: CellSpec): Promise<CellResult>;
  /** More targets, each with a pool of `connections` (the streaming targets: one per client). */
  addTargets(targets: LoadTarget[], connections: number): Promise<void>;
  /** Time to first token under load (streams.ts) against a target. */
  streams(spec: StreamSpec): Promise<StreamResult>;
  readonly process: ChildProcess;
}

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

/** Forks the load generator [L] and gives it the targets; one cell at a time. */
export async function startLoadProcess(
  targets: LoadTarget[],
  connections: number,
): Promise<LoadProcess> {
  const child = forkTs('load generator', WORKER);
  child.stdout?.resume();
  const exited = once(child, 'exit').then(([code, signal]) => {
    throw new Error(`the load generator exited (${signal ?? code}):\n${stderrOf(child)}`);
  });
  exited.catch(() => undefined);
  const reply = () =>
    Promise.race([once(child, 'message').then(([message]) => message as LoadReply), exited]);

  const addTargets = async (more: LoadTarget[], size: number) => {
    child.send({ type: 'targets', targets: more, connections: size } satisfies LoadCommand);
    if ((await reply()).type !== 'ready') throw new Error('the load generator did not start');
  };
  await addTargets(targets, connections);
  let ids = 0;
  return {
    process: child,
    addTargets,
    async run(spec) {
      const id = ++ids;
      child.send({ type: 'run', id, spec } satisfies LoadCommand);
      const answer = await reply();
      if (answer.type === 'result' && answer.id === id) return answer.result;
      if (answer.type === 'failed') throw new Error(`load generator: ${answer.message}`);
      throw new Error(`load generator answered out of turn: ${JSON.stringify(answer)}`);
    },
    async streams(spec) {
      const id = ++ids;
      child.send({ type: 'streams', id, spec } satisfies LoadCommand);
      const answer = await reply();
      if (answer.type === 'streams-result' && answer.id === id) return answer.result;
      if (answer.type === 'failed') throw new Error(`load generator: ${answer.message}`);
      throw new Error(`load generator answered out of turn: ${JSON.stringify(answer)}`);
    },
  };
}
