/**
 * How every Lambda of the app is bundled: one minified ES module for Node.js 22, with the AWS
 * SDK left out (the runtime ships it). The CDK constructs and the local stack both read these
 * options, so what `npm start` runs is what `cdk deploy` ships.
 */
import type { BuildOptions } from 'esbuild';

/** ESM lets handlers use top-level await; CommonJS dependencies (ioredis) still get `require`. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __axonCreateRequire } from 'node:module'; const require = __axonCreateRequire(import.meta.url);";

export const LAMBDA_BUNDLE = {
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: true,
  /** The Node.js 22 runtime ships AWS SDK v3; bundling it would only grow cold starts. */
  externalModules: ['@aws-sdk/*'],
} as const;

/** The same options in esbuild's own terms, for builds outside CDK. */
export function esbuildOptions(): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: LAMBDA_BUNDLE.target,
    mainFields: [...LAMBDA_BUNDLE.mainFields],
    minify: LAMBDA_BUNDLE.minify,
    sourcemap: LAMBDA_BUNDLE.sourceMap,
    sourcesContent: false,
    external: [...LAMBDA_BUNDLE.externalModules],
    banner: { js: ESM_REQUIRE_BANNER },
  };
}
