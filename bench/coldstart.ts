/**
 * npm run bench:coldstart [-- --json] [--runs 15]
 *
 * The gateway Lambda's cold start as far as this machine can show it: the size of the bundle
 * CDK deploys (built here with the same esbuild options, lib/bundling.ts) and the time a fresh
 * Node process takes to import it, which runs the whole init (config, logger, metrics, the
 * key-store client, the limiter, the upstream client). No Redis is configured, so init opens no
 * connection: network time is excluded, as the issue asks. The AWS SDK is not in the bundle (the
 * Lambda runtime provides it); here it loads from node_modules and its load time is included.
 * A trivial module imported the same way is the baseline, so Node's own start is not counted.
 */
import { execFile } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../lib/paths.ts';
import { bundleLambda } from '../local/bundle.ts';
import { flag, median, percentile, progress, round, table, wantsJson } from './lib/report.ts';

const run = promisify(execFile);
const RUNS = Number(flag('runs', '15'));
const TARGET_KB = 500;
const TARGET_MS = 100;

/** Imports `file` in a fresh node process and prints how long the import (init) took. */
async function importTime(file: string, env: Record<string, string>): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return Number(stdout.trim().split('\n').at(-1));
}

async function main() {
  const dir = join(REPO_ROOT, '.axon', 'build', `coldstart-${process.pid}`);
  try {
    const bundle = await bundleLambda('lambda/gateway/handler.ts', join(dir, 'index.mjs'));
    const bytes = statSync(bundle).size;
    const baselineFile = join(dir, 'baseline.mjs');
    writeFileSync(baselineFile, 'export const handler = async () => ({ statusCode: 200 });\n');

    const env = {
      AXON_CONFIG: JSON.stringify({ plans: { free: { requestsPerMinute: 60, burst: 10 } } }),
      AXON_KEYS_TABLE: 'axon-coldstart',
      AXON_UPSTREAM_URL: 'http://127.0.0.1:9',
      AXON_UPSTREAM_SECRET: 'coldstart-secret-not-used',
      AWS_REGION: 'us-east-1',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const gateway: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      baseline.push(await importTime(baselineFile, env));
      gateway.push(await importTime(bundle, env));
      progress(
        `run ${i + 1}/${RUNS}: gateway ${gateway.at(-1)?.toFixed(1)} ms, baseline ${baseline.at(-1)?.toFixed(1)} ms`,
      );
    }
    const sorted = [...gateway].sort((a, b) => a - b);
    const result = {
      benchmark: 'coldstart',
      node: process.version,
      runs: RUNS,
      bundleBytes: bytes,
      bundleKB: round(bytes / 1024, 1),
      initMedianMs: round(median(gateway), 1),
      initP90Ms: round(percentile(sorted, 90), 1),
      baselineMedianMs: round(median(baseline), 2),
      targets: { bundleKB: TARGET_KB, initMedianMs: TARGET_MS },
      meetsTargets: bytes / 1024 <= TARGET_KB && median(gateway) <= TARGET_MS,
    };
    if (wantsJson) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    console.log(
      table(
        ['measure', 'value', 'target'],
        [
          ['bundle size (KB)', result.bundleKB, `<= ${TARGET_KB}`],
          ['init median (ms)', result.initMedianMs, `<= ${TARGET_MS}`],
          ['init p90 (ms)', result.initP90Ms, ''],
          ['baseline import median (ms)', result.baselineMedianMs, ''],
        ],
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
