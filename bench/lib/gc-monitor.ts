/**
 * Garbage-collection pauses of a child process, read by the parent over IPC after each cell.
 * A Node proxy's p99 is often its longest GC pauses, not its average work, so the benchmark
 * reports them next to the latencies it explains.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

export interface GcStats {
  /** Pauses since the last reading. */
  readonly pauses: number;
  readonly totalMs: number;
  readonly maxMs: number;
  /** Pauses of a major (mark-compact) collection, the long ones. */
  readonly majorPauses: number;
}

interface GcRequest {
  type: 'gc-stats';
}

/** Child side: observe every collection and answer `gc-stats` requests, resetting the counts. */
export function serveGcStats(): void {
  let pauses = 0;
  let totalMs = 0;
  let maxMs = 0;
  let majorPauses = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      pauses++;
      totalMs += entry.duration;
      maxMs = Math.max(maxMs, entry.duration);
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorPauses++;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (message: GcRequest) => {
    if (message.type !== 'gc-stats') return;
    process.send?.({ type: 'gc-stats', pauses, totalMs, maxMs, majorPauses });
    pauses = 0;
    totalMs = 0;
    maxMs = 0;
    majorPauses = 0;
  });
}

/** Parent side: the child's pauses since the last call. */
export async function readGcStats(child: ChildProcess): Promise<GcStats> {
  child.send({ type: 'gc-stats' } satisfies GcRequest);
  const ac = new AbortController();
  const reply = await Promise.race([
    once(child, 'message', { signal: ac.signal }).then(([m]) => m as GcStats),
    once(child, 'exit', { signal: ac.signal }).then(() => {
      throw new Error('the gateway process exited');
    }),
  ]).finally(() => ac.abort());
  const { pauses, totalMs, maxMs, majorPauses } = reply;
  return { pauses, totalMs, maxMs, majorPauses };
}
