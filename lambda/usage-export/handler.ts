/**
 * The scheduled usage exporter (EventBridge, lib/constructs/usage-exporter.ts). Thin: the
 * connections are made once per container and kept; the work is `exportUsage` (export.ts). A
 * failed run throws, so the function's Errors metric (and its alarm) sees it; the next run
 * starts again from the checkpoint.
 */
import { createLogger } from '#shared/logger';
import type { ExportReport } from './export.ts';
import { type Exporter, exporterFromEnv } from './setup.ts';

const log = createLogger('usage-export');
let exporter: Promise<Exporter> | undefined;

export async function handler(): Promise<ExportReport> {
  exporter ??= exporterFromEnv(process.env, log).catch((err: unknown) => {
    exporter = undefined; // the next invocation connects again
    throw err;
  });
  return (await exporter).run();
}
