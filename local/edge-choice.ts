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

export function stubTokenDelayFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.AXON_STUB_TOKEN_DELAY_MS?.trim();
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0 || value > 60_000) {
    throw new Error(
      `AXON_STUB_TOKEN_DELAY_MS must be whole milliseconds from 0 to 60000, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
