/**
 * Structured JSON logs through Powertools Logger, created once per process. Library code takes
 * the narrow `Log` interface so tests can hand it a real logger whose output they capture.
 * Nothing logged may contain an API key or a Redis AUTH token: log key ids and display prefixes.
 * The level comes from Powertools' own `POWERTOOLS_LOG_LEVEL` (default INFO).
 */
import { Logger } from '@aws-lambda-powertools/logger';

export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}
