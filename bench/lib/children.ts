/**
 * The benchmark's child processes. Each server and the load generator run in a process of their
 * own, so none of them shares an event loop with another. Every child is registered here and
 * stopped when the run ends, fails or is interrupted: no process outlives the benchmark. Node
 * children also leave by themselves when their stdin closes (see `exitWithParent`), which covers
 * a parent that was killed outright.
 */
import { type ChildProcess, fork, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const running = new Map<ChildProcess, string>();
/** The last few KB each child wrote to stderr, for the error message when it fails. */
const stderrTails = new Map<ChildProcess, string>();
const TAIL_CHARS = 4000;

function register(child: ChildProcess, name: string): ChildProcess {
  running.set(child, name);
  stderrTails.set(child, '');
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderrTails.set(child, ((stderrTails.get(child) ?? '') + text).slice(-TAIL_CHARS));
  });
  child.once('exit', () => running.delete(child));
  return child;
}

/** Whatever the child wrote to stderr lately, trimmed. */
export function stderrOf(child: ChildProcess): string {
  return (stderrTails.get(child) ?? '').trim();
}

/** Any program, stdout and stderr piped, stdin piped (closing it tells a Node child to leave). */
export function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  return register(spawn(command, args, { stdio: 'pipe', ...options }), name);
}

export interface TsChildOptions {
  /** Added to this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Node options before the module, e.g. `--cpu-prof`. */
  readonly nodeOptions?: readonly string[];
  /** An IPC channel for `send` and `message`. @default false */
  readonly ipc?: boolean;
}

/** A TypeScript module run by this Node with tsx (one process: no tsx wrapper in between). */
export function spawnTs(name: string, module: string, options: TsChildOptions = {}): ChildProcess {
  const args = [...(options.nodeOptions ?? []), '--import', 'tsx', module];
  return spawnChild(name, process.execPath, args, {
    env: { ...process.env, ...options.env },
    ...(options.ipc && { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }),
  });
}

/** Like `spawnTs`, with an IPC channel for `send` and `message`. */
export function forkTs(name: string, module: string): ChildProcess {
  return register(
    fork(module, [], { execArgv: ['--import', 'tsx'], stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }),
    name,
  );
}

/**
 * The child's first stdout line, parsed as JSON: how the servers say they listen and where.
 * Rejects, with the child's stderr, if it exits first or takes longer than `timeoutMs`.
 */
export async function readyLine<T>(child: ChildProcess, timeoutMs = 60_000): Promise<T> {
  const name = running.get(child) ?? 'child';
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let timer: NodeJS.Timeout | undefined;
  try {
    const line = await Promise.race([
      once(lines, 'line').then(([first]) => first as string),
      once(child, 'exit').then(([code, signal]) => {
        throw new Error(
          `${name} exited (${signal ?? code}) before it was ready:\n${stderrOf(child)}`,
        );
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${stderrOf(child)}`)),
          timeoutMs,
        );
      }),
    ]);
    return JSON.parse(line) as T;
  } finally {
    clearTimeout(timer);
    lines.close();
    child.stdout?.resume(); // keep draining, so a chatty child never blocks on a full pipe
  }
}

/** SIGTERM to every child, SIGKILL to those still there after `graceMs`. */
export async function stopAll(graceMs = 3000): Promise<void> {
  const children = [...running.keys()];
  const exited = children.map((child) =>
    child.exitCode !== null || child.signalCode !== null ? undefined : once(child, 'exit'),
  );
  for (const child of children) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }, graceMs);
  await Promise.all(exited);
  clearTimeout(timer);
}

/** Last resort when the parent exits without `stopAll`: signals are all `exit` can still send. */
process.once('exit', () => {
  for (const child of running.keys()) child.kill('SIGTERM');
});

/**
 * For a child: run `shutdown` and leave on SIGTERM/SIGINT or when the parent goes away (stdin
 * ends), so a parent killed with SIGKILL still leaves no server behind.
 */
export function exitWithParent(shutdown: () => Promise<unknown>): void {
  let leaving = false;
  const leave = () => {
    if (leaving) return;
    leaving = true;
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    shutdown()
      .catch((err: unknown) => process.stderr.write(`shutdown failed: ${String(err)}\n`))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', leave);
  process.once('SIGINT', leave);
  process.stdin.once('end', leave);
  process.stdin.once('close', leave);
  process.stdin.resume();
}
