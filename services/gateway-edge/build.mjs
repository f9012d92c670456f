/**
 * Bundles the container edge into one ES module, dist/server.mjs, from the repository root so the
 * gateway core (lambda/gateway and what it imports through the root package.json `imports`) comes
 * along. Unlike the Lambda bundle (lib/bundling.ts), the AWS SDK keeps its default credential
 * chain: a pod gets its credentials from EKS Pod Identity, not from environment variables.
 */
import { build } from 'esbuild';

await build({
  absWorkingDir: new URL('../..', import.meta.url).pathname,
  entryPoints: ['services/gateway-edge/src/server.ts'],
  outfile: 'services/gateway-edge/dist/server.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // CommonJS dependencies (ioredis) still need `require` inside an ES module.
  banner: {
    js: "import { createRequire as __axonCreateRequire } from 'node:module'; const require = __axonCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
