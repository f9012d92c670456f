/**
 * Where a running local stack says how to reach it: `<state dir>/local.json`, read by
 * `npm run keys -- ... --local`. The state dir is `.axon/` in the working directory (npm runs
 * scripts from the repo root) unless `AXON_STATE_DIR` names another, as tests do so that they
 * never touch a developer's running stack.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface LocalState {
  readonly gatewayUrl: string;
  readonly dynamodbEndpoint: string;
  readonly keysTable: string;
  readonly usageTable: string;
  /** The limiter's Redis, whose ledger holds the hours not exported yet. */
  readonly limiterRedisUrl?: string;
  readonly region: string;
  readonly pid: number;
}

export function stateDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return resolve(cwd, env.AXON_STATE_DIR || '.axon');
}

export function stateFile(dir: string): string {
  return join(dir, 'local.json');
}

export function writeLocalState(dir: string, state: LocalState): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
}

export function removeLocalState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
}
