/**
 * The deployable artefact. No Docker engine runs here or in CI, so the image recipe is run
 * without one (test/support/image-recipe.ts): its COPY lines take from the repository root
 * after .dockerignore, its npm commands run with the same flags (`npm ci` offline from the
 * local cache, filled by the `npm ci` that set up this checkout), and the final stage's CMD
 * starts the server with the environment contract. A recipe that misses a file, a dependency or
 * a build step fails here instead of in `cdk deploy`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type InferenceStub, startInferenceStub } from '../../services/inference-stub/src/index.ts';
import {
  type BuiltImage,
  contextFiles,
  parseDockerfile,
  startBuiltImage,
} from '../support/image-recipe.ts';
import { GATEWAY_SECRET, principal, sseEvents } from './support.ts';

const root = join(import.meta.dirname, '..', '..');
const dockerfilePath = join(root, 'services', 'session-manager', 'Dockerfile');
const dockerfile = readFileSync(dockerfilePath, 'utf8');

/** The host's environment without what `npm test` adds, so npm runs as it would in the image. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE_ENV'),
  );
}

describe('session manager image recipe', () => {
  it('is multi-stage on node 22, runs as a non-root user, and has a healthcheck', () => {
    const stages = dockerfile.match(/^FROM .+$/gm) ?? [];
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-alpine$/m);
    for (const stage of stages) expect(stage).toMatch(/^FROM \$\{NODE_IMAGE\}/);
    const final = parseDockerfile(dockerfile).at(-1)?.instructions ?? [];
    expect(final.filter((i) => i.keyword === 'USER').map((i) => i.args)).toEqual(['node']);
    expect(final.find((i) => i.keyword === 'HEALTHCHECK')?.args).toContain('/healthz');
    // The final image gets compiled output and node_modules only, never sources or the context.
    const fromContext = final.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'));
    expect(fromContext).toEqual([]);
  });

  it('installs from the root lock file, production dependencies only in the image', () => {
    const runs = parseDockerfile(dockerfile).flatMap((stage) =>
      stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args),
    );
    const installs = runs.filter((command) => command.startsWith('npm ci'));
    expect(installs).toHaveLength(2);
    for (const install of installs) expect(install).toContain('-w services/session-manager');
    expect(installs.filter((install) => install.includes('--omit=dev'))).toHaveLength(1);
    expect(dockerfile).toMatch(/^COPY package\.json package-lock\.json \.\/$/m);
  });

  it('has a build context of only what the image takes, so a docs change leaves it alone', () => {
    const files = contextFiles(root);
    // The root .dockerignore serves both images built from the root: the gateway edge's
    // (services/gateway-edge/Dockerfile) takes the gateway core from lambda/ as well, with the
    // usage table module its admin usage routes read.
    const taken = [
      'package.json',
      'package-lock.json',
      'packages/runtime/',
      'services/session-manager/',
      'services/gateway-edge/',
      'lambda/shared/',
      'lambda/authorizer/',
      'lambda/token-bucket/',
      'lambda/gateway/',
      'lambda/usage-export/',
    ];
    for (const file of files) {
      expect(
        taken.some((t) => file === t || (t.endsWith('/') && file.startsWith(t))),
        file,
      ).toBe(true);
    }
    expect(files.some((f) => f.startsWith('docs/') || f.startsWith('lib/'))).toBe(false);
    expect(files.some((f) => f.includes('node_modules/') || f.includes('/dist/'))).toBe(false);
    expect(files).toContain('services/session-manager/src/server.ts');
    expect(files).toContain('packages/runtime/src/redis.ts');
  });
});

describe('session manager image, built from its recipe without Docker', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'axon-image-'));
  let stub: InferenceStub;
  let built: BuiltImage;
  let base = '';

  beforeAll(async () => {
    stub = await startInferenceStub({ log: () => {}, tokenDelayMs: 150 });
    built = await startBuiltImage({
      dockerfile: dockerfilePath,
      contextDir: root,
      scratchDir: scratch,
      buildEnv: cleanEnv(),
      env: {
        REDIS_URL: inject('redisUrl'),
        TRITON_URL: stub.url,
        GATEWAY_SECRET,
        LOG_LEVEL: 'info',
      },
      readyPath: '/readyz',
      what: 'server',
    });
    base = built.base;
  }, 300_000);

  // Generous: three stages' node_modules are tens of thousands of files on a busy disk.
  afterAll(async () => {
    built?.server.kill('SIGKILL');
    await stub?.close();
    rmSync(scratch, { recursive: true, force: true });
  }, 300_000);

  it('starts with the CMD of the recipe and answers /healthz', async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(built.image.cmd).toEqual(['node', '--conditions=compiled', 'dist/server.js']);
  });

  it('drains an in-flight stream on SIGTERM and exits 0, never logging the secret', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...principal('key_build'), 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'stub-echo-chatml',
        stream: true,
        messages: [{ role: 'user', content: 'drain me gently please' }],
      }),
    });
    const reader = res.body?.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const first = await reader?.read();
    text += decoder.decode(first?.value);
    built.server.kill('SIGTERM'); // mid-stream: about a second of tokens is still to come
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    expect(sseEvents(text).at(-1)).toBe('[DONE]');
    expect(await built.exited).toBe(0);
    expect(built.output()).toContain('"msg":"closing"');
    expect(built.output()).not.toContain(GATEWAY_SECRET);
  });
});
