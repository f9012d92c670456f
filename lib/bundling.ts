/**
 * How every Lambda of the app is bundled: one minified ES module for Node.js 22, the AWS SDK
 * included. The CDK constructs and the local stack both read these options, so what `npm start`
 * runs is what `cdk deploy` ships.
 *
 * Why the SDK is bundled: the gateway imports in ~65 ms as one file with the SDK inside, against
 * ~145 ms when the SDK loads from node_modules the way the runtime-provided copy does
 * (bench:coldstart), and the code then runs with the SDK versions it was tested with.
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
  externalModules: [],
  /** Lambda credentials always come from the environment; see lambda/shared/env-credentials.ts. */
  alias: { '@aws-sdk/credential-provider-node': './lambda/shared/env-credentials.ts' },
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
    alias: { ...LAMBDA_BUNDLE.alias },
    banner: { js: ESM_REQUIRE_BANNER },
  };
}
