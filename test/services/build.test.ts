/**
 * The deployable artefact: `npm run build -w services/session-manager` compiles, the compiled
 * server starts with plain `node` from the environment contract, serves, and on SIGTERM lets an
 * in-flight stream finish before exiting 0. No Docker engine runs here, so the Dockerfile and
 * its lock file are checked statically (the same steps were run by hand in an isolated folder,
 * see docs/session-manager.md).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type InferenceStub, startInferenceStub } from '../../services/inference-stub/src/index.ts';
import { freePort } from '../support/redis.ts';
import { GATEWAY_SECRET, principal, sseEvents } from './support.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const pkgDir = join(root, 'services', 'session-manager');

describe('session manager package', () => {
  it('has a lock file cut from the root one, so the image runs the tested versions', async () => {
    const { stdout } = await run('node', [join(pkgDir, 'scripts', 'sync-lockfile.mjs'), '--check']);
    expect(stdout).toContain('current');
    const lock = JSON.parse(readFileSync(join(pkgDir, 'package-lock.json'), 'utf8'));
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    for (const name of Object.keys(pkg.dependencies)) {
      expect(lock.packages[`node_modules/${name}`]?.dev, name).toBeUndefined();
    }
    expect(lock.packages['node_modules/typescript']?.dev).toBe(true);
  });

  it('has a multi-stage, non-root Dockerfile on node 22 with a healthcheck', () => {
    const dockerfile = readFileSync(join(pkgDir, 'Dockerfile'), 'utf8');
    const stages = dockerfile.match(/^FROM .+$/gm) ?? [];
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-alpine$/m);
    for (const stage of stages) expect(stage).toMatch(/^FROM \$\{NODE_IMAGE\}/);
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/^HEALTHCHECK .*\n.*\/healthz/m);
    expect(final).toMatch(/^CMD \["node", "dist\/server\.js"\]$/m);
    expect(final).not.toMatch(/^COPY (src|\.)/m);
    // Everything the build copies from the context exists and is let through .dockerignore.
    const allowed = readFileSync(join(pkgDir, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1));
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(
      (m) => m[1]?.split(' ') ?? [],
    );
    for (const file of copied) {
      expect(allowed, file).toContain(file);
      expect(existsSync(join(pkgDir, file)), file).toBe(true);
    }
  });
});

describe('compiled server', () => {
  let stub: InferenceStub;
  let server: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    stub = await startInferenceStub({ log: () => {}, tokenDelayMs: 150 });
  });
  afterAll(async () => {
    server?.kill('SIGKILL');
    await stub.close();
  });

  it('builds with npm, starts with node, and drains an in-flight stream on SIGTERM', async () => {
    await run('npm', ['run', 'build', '-w', 'services/session-manager'], { cwd: root });
    expect(existsSync(join(pkgDir, 'dist', 'server.js'))).toBe(true);

    const port = await freePort();
    server = spawn('node', ['dist/server.js'], {
      cwd: pkgDir,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: inject('redisUrl'),
        TRITON_URL: stub.url,
        GATEWAY_SECRET,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    server.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => server?.once('exit', resolve));
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

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
    server.kill('SIGTERM'); // mid-stream: about a second of tokens is still to come
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    expect(sseEvents(text).at(-1)).toBe('[DONE]');
    expect(await exited).toBe(0);
    expect(output).toContain('"msg":"closing"');
    expect(output).not.toContain(GATEWAY_SECRET);
  });
});
