/**
 * Starts the local stack the way a user does, `npm start`, in its own process group, with a
 * test config, a free port, a scratch state dir and (when given) a Redis the test controls.
 * Stops it the way Ctrl-C does, with a signal to the whole group.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../lib/paths.ts';
import { poll } from '../support/poll.ts';
import { freePort } from '../support/redis.ts';

const run = promisify(execFile);

/** Whether any process of the group still exists (signal 0 checks without sending). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface RunningStack {
  readonly url: string;
  readonly demoKey: string;
  readonly stateDir: string;
  /** The process that runs bin/local.ts, as local.json names it. */
  readonly pid: number;
  /** npm's pid, which is also the process group's id. */
  readonly pgid: number;
  /** Where the stack bundled the gateway; it removes this when it stops. */
  readonly buildDir: string;
  readonly output: () => string;
  /** `npm run keys -- <args> --local --json`, parsed. */
  keys(...args: string[]): Promise<Record<string, unknown>>;
  /** Signals the whole group (as Ctrl-C does) unless npm has exited; resolves to npm's exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Stops the stack if it still runs and removes the scratch state dir. */
  dispose(): Promise<void>;
}

interface Launched {
  readonly stateDir: string;
  readonly stackEnv: NodeJS.ProcessEnv;
  readonly child: ChildProcess;
  readonly pgid: number;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `npm start` in its own process group with a scratch state dir; does not wait for it. */
async function launch(config: unknown, env: Record<string, string>): Promise<Launched> {
  const stateDir = mkdtempSync(join(tmpdir(), 'axon-e2e-'));
  const configPath = join(stateDir, 'axon.json');
  writeFileSync(configPath, JSON.stringify(config));
  const port = await freePort();
  const stackEnv = {
    ...process.env,
    PORT: String(port),
    AXON_CONFIG: configPath,
    AXON_STATE_DIR: stateDir,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    ...env,
  };
  const child: ChildProcess = spawn('npm', ['start'], {
    cwd: REPO_ROOT,
    env: stackEnv,
    detached: true,
  });
  const pgid = child.pid as number;
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGINT') => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-pgid, signal);
    return exited;
  };
  return { stateDir, stackEnv, child, pgid, output: () => output, exited, stop };
}

/**
 * Starts `npm start`, sends SIGINT to its group as soon as `output` matches `when` (a line the
 * stack prints while it is still starting), and reports what the stop left behind.
 */
export async function interruptStartup(config: unknown, env: Record<string, string>, when: RegExp) {
  const { stateDir, child, pgid, output, stop } = await launch(config, env);
  try {
    const seen = await poll(
      async () => when.test(output()) || child.exitCode !== null,
      (done) => done,
      60_000,
    );
    const stack = /^\s*(\d+) .*bin\/local\.ts/m.exec(
      execFileSync('ps', ['-o', 'pid=,args=', '-g', String(pgid)], { encoding: 'utf8' }),
    )?.[1];
    const code = await stop('SIGINT');
    return {
      seen,
      code,
      output: output(),
      stateLeft: existsSync(join(stateDir, 'local.json')),
      buildLeft:
        stack !== undefined && existsSync(join(REPO_ROOT, '.axon', 'build', `gateway-${stack}`)),
      groupGone: await poll(
        async () => !groupAlive(pgid),
        (gone) => gone,
      ),
    };
  } finally {
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export async function startStack(
  config: unknown,
  env: Record<string, string> = {},
): Promise<RunningStack> {
  const launched = await launch(config, env);
  const { stateDir, stackEnv, child, pgid, exited, stop } = launched;
  const output = launched.output;

  // The stack prints its demo key only once it is serving.
  const demoKey = await poll(
    async () => /Demo API key .*: (axon_\w+)/.exec(output())?.[1],
    (key) => key !== undefined || child.exitCode !== null,
    60_000,
  );
  if (demoKey === undefined) {
    const why = child.exitCode !== null ? `exited ${child.exitCode}` : 'did not come up in 60 s';
    await stop('SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
    throw new Error(`npm start ${why}:\n${output()}`);
  }
  const url = /listening on (http:\/\/\S+)/.exec(output())?.[1] as string;
  const { pid } = JSON.parse(readFileSync(join(stateDir, 'local.json'), 'utf8')) as { pid: number };

  return {
    url,
    demoKey,
    stateDir,
    pid,
    pgid,
    buildDir: join(REPO_ROOT, '.axon', 'build', `gateway-${pid}`),
    output,
    keys: async (...args) => {
      const { stdout } = await run(
        'npm',
        ['run', '--silent', 'keys', '--', ...args, '--local', '--json'],
        {
          cwd: REPO_ROOT,
          env: stackEnv,
        },
      );
      return JSON.parse(stdout) as Record<string, unknown>;
    },
    stop,
    dispose: async () => {
      // A stack whose shutdown hangs (the bug a test caught) must not outlive the run: after a
      // generous deadline the group is killed outright, and the failing test has already said why.
      const deadline = new Promise<'hung'>((r) => setTimeout(r, 20_000, 'hung').unref());
      if ((await Promise.race([stop(), deadline])) === 'hung' && groupAlive(pgid)) {
        process.kill(-pgid, 'SIGKILL');
        await exited;
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
