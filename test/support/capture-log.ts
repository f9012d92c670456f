/**
 * A logger for tests that keeps what was logged: each call's arguments as one JSON line, at every
 * level. A test reads the lines to check that a step logged at all and that no secret reached
 * the log.
 */
import type { Log } from '#shared/logger';

export interface CapturedLog {
  readonly log: Log;
  /** One JSON array of the call's arguments per call, in call order. */
  readonly lines: string[];
}

/** A fresh logger and its empty list of lines. */
export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const capture = (...args: unknown[]) => {
    lines.push(JSON.stringify(args));
  };
  const log = { debug: capture, info: capture, warn: capture, error: capture } as unknown as Log;
  return { log, lines };
}
