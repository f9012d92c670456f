/**
 * Starts the local stack the way a user does, `npm start`, in its own process group, with a
 * test config, a free port, a scratch state dir and (when given) a Redis the test controls.
 * Stops it the way Ctrl-C does, with a signal to the whole group.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../lib/paths.ts';
import { freePort } from '../support/redis.ts';

const run = promisify(execFile);

export interface RunningStack {
  readonly url: string;
  readonly demoKey: string;
  readonly stateDir: string;
  readonly output: () => string;
  /** `npm run keys -- <args> --local --json`, parsed. */
  keys(...args: string[]): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startStack(
  config: unknown,
  env: Record<string, string> = {},
): Promise<RunningStack> {
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

  const deadline = Date.now() + 60_000;
  let demoKey: string | undefined;
  while (!demoKey) {
    demoKey = /Demo API key .*: (axon_\w+)/.exec(output)?.[1];
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up in 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = /listening on (http:\/\/\S+)/.exec(output)?.[1] as string;

  return {
    url,
    demoKey,
    stateDir,
    output: () => output,
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
    stop: async (signal = 'SIGINT') => {
      if (child.exitCode === null && child.pid) process.kill(-child.pid, signal);
      const code = await exited;
      rmSync(stateDir, { recursive: true, force: true });
      return code;
    },
  };
}
