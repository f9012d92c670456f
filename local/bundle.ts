/**
 * Builds a Lambda the way the CDK app does (lib/bundling.ts holds the one set of esbuild
 * options), so the local stack runs the same artifact that `cdk deploy` ships.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { build } from 'esbuild';
import { esbuildOptions } from '../lib/bundling.ts';
import { REPO_ROOT } from '../lib/paths.ts';

/** Bundles `entry` (relative to the repo root) into `outfile`; resolves to `outfile`. */
export async function bundleLambda(entry: string, outfile: string): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    ...esbuildOptions(),
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}
