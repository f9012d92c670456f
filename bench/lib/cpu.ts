/**
 * CPU time used by a process and its descendants, from Linux's /proc. Latency alone cannot say
 * why a path is slow on a 2-core machine; CPU per request can: a proxy that needs 1 ms of CPU
 * per request owns a whole core at 1,000 requests/s. Resolution is one clock tick (10 ms), so
 * read it over whole cells. Elsewhere than Linux every reading is `undefined`.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc/<pid>/stat times. 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The fields after `(comm)`: index 0 is field 3 (state) of proc(5). */
function statFields(pid: number): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Direct children of `pid`, over all its threads. */
export function childPids(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((task) =>
    (read(`/proc/${pid}/task/${task}/children`) ?? '').split(' ').filter(Boolean).map(Number),
  );
}

/** The command name (`comm`) of a process, e.g. `redis-server`. */
export function commandOf(pid: number): string | undefined {
  return read(`/proc/${pid}/comm`)?.trim();
}

/** User + system CPU milliseconds of `pid` and every descendant still running. */
export function treeCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const fields = statFields(pid);
  if (!fields) return undefined;
  const own = ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  return childPids(pid).reduce((sum, child) => sum + (treeCpuMs(child) ?? 0), own);
}
