/**
 * Which edge `npm start` runs, and how slowly the Triton stand-in streams, from the environment:
 * `AXON_EDGE=lambda|container`, else the dev stage's `gateway.edge` (config/stages/dev.json),
 * else `lambda`, the design's default; `AXON_STUB_TOKEN_DELAY_MS`, milliseconds between streamed
 * tokens, so that streaming is visible on a laptop. The dev stage file is read as plain JSON:
 * only its `gateway.edge` matters here, and the CDK app validates the whole document.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EDGES, type Edge } from './stack.ts';

function isEdge(value: unknown): value is Edge {
  return typeof value === 'string' && (EDGES as readonly string[]).includes(value);
}

/** The dev stage's `gateway.edge`, when its config names one. */
function devStageEdge(rootDir: string): Edge | undefined {
  try {
    const doc = JSON.parse(readFileSync(join(rootDir, 'config', 'stages', 'dev.json'), 'utf8')) as {
      gateway?: { edge?: unknown };
    };
    return isEdge(doc.gateway?.edge) ? doc.gateway.edge : undefined;
  } catch {
    return undefined;
  }
}

export function edgeFromEnv(env: NodeJS.ProcessEnv, rootDir: string): Edge {
  const chosen = env.AXON_EDGE?.trim();
  if (chosen === undefined || chosen === '') return devStageEdge(rootDir) ?? 'lambda';
  if (!isEdge(chosen)) {
    throw new Error(`AXON_EDGE must be one of ${EDGES.join(', ')}, got ${JSON.stringify(chosen)}`);
  }
  return chosen;
}

function millis(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new Error(
      `${name} must be whole milliseconds from 0 to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

export function stubTokenDelayFromEnv(env: NodeJS.ProcessEnv): number {
  return millis(env, 'AXON_STUB_TOKEN_DELAY_MS', 0, 60_000);
}

/**
 * Dev at idle, locally (local/idle-scaler.ts): `AXON_STUB_IDLE_MS` turns it on and is the idle
 * period after which the Triton stand-in stops; `AXON_STUB_COLD_START_MS` (default 5000) is how
 * long it takes to start on demand; `AXON_WAKE_WAIT_MS` (default 20000) is how long the session
 * manager lets a request wait for it before answering 503 with Retry-After.
 */
export function idleFromEnv(
  env: NodeJS.ProcessEnv,
): { idleMs: number; coldStartMs: number; wakeWaitMs: number } | undefined {
  if (!env.AXON_STUB_IDLE_MS?.trim()) return undefined;
  return {
    idleMs: millis(env, 'AXON_STUB_IDLE_MS', 0, 3_600_000),
    coldStartMs: millis(env, 'AXON_STUB_COLD_START_MS', 5_000, 600_000),
    wakeWaitMs: millis(env, 'AXON_WAKE_WAIT_MS', 20_000, 600_000),
  };
}
