/**
 * The container edge's own settings, on top of the gateway Lambda's environment
 * (lambda/gateway/setup.ts reads that): where to listen, the request body cap and the drain
 * time. Bad values stop the process with the variable, the value and the fix.
 */
import { MAX_BODY_BYTES } from '../../../lambda/gateway/gateway.ts';
import { ENV } from '../../../lambda/shared/names.ts';

export interface EdgeConfig {
  readonly port: number;
  readonly host: string;
  readonly maxBodyBytes: number;
  readonly shutdownGraceMs: number;
}

/** Port when `PORT` is unset: what the image exposes and the target group sends to. */
export const DEFAULT_PORT = 8080;
/** Drain time when unset: a long generation at a few tokens a second. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 120_000;

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} must be a whole number >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function edgeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  const port = whole(env, 'PORT', DEFAULT_PORT, 0);
  if (port > 65535) throw new Error(`PORT must be a port number up to 65535, got ${port}`);
  return {
    port,
    host: env.HOST?.trim() || '0.0.0.0',
    maxBodyBytes: whole(env, ENV.maxBodyBytes, MAX_BODY_BYTES, 1),
    shutdownGraceMs: whole(env, ENV.shutdownGraceMs, DEFAULT_SHUTDOWN_GRACE_MS, 0),
  };
}
