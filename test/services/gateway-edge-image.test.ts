/**
 * The container edge's image, built from its recipe without Docker (test/support/image-recipe.ts):
 * COPY from the repository root after .dockerignore, `npm ci` offline, the esbuild bundle, then
 * the final stage's CMD started with the environment contract the CDK app sets. The session
 * manager behind it is a scripted HTTP server; DynamoDB is dynalite; the limiter runs on the
 * suite's redis-server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestTable, type Dynalite, startDynalite } from '../lambda/authorizer/support.ts';
import { parseDockerfile, type RecipeRun, runRecipe } from '../support/image-recipe.ts';
import { freePort, waitFor } from '../support/redis.ts';

const root = join(import.meta.dirname, '..', '..');
const dockerfilePath = join(root, 'services', 'gateway-edge', 'Dockerfile');
const dockerfile = readFileSync(dockerfilePath, 'utf8');
const SECRET = 'image-test-upstream-secret-3b9e';

describe('gateway edge image recipe', () => {
  it('is multi-stage on node 22, runs as a non-root user, and ships only the bundle', () => {
    const stages = parseDockerfile(dockerfile);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-alpine$/m);
    const final = stages.at(-1)?.instructions ?? [];
    expect(final.filter((i) => i.keyword === 'USER').map((i) => i.args)).toEqual(['node']);
    expect(final.find((i) => i.keyword === 'HEALTHCHECK')?.args).toContain('/healthz');
    const copies = final.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(copies).toEqual(['--from=build /app/services/gateway-edge/dist ./dist']);
  });
});

describe('gateway edge image, built from its recipe without Docker', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'axon-edge-image-'));
  let image: RecipeRun;
  let dynalite: Dynalite;
  let upstream: Server;
  let server: ChildProcess | undefined;
  let output = '';
  let base = '';
  let exited: Promise<number | null>;

  beforeAll(async () => {
    dynalite = await startDynalite();
    const { tableName } = await createTestTable(dynalite.endpoint);
    upstream = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"data":[]}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    image = await runRecipe(dockerfilePath, root, scratch, process.env);
    const port = await freePort();
    const [command = '', ...args] = image.cmd;
    server = spawn(command, args, {
      cwd: image.workdir,
      env: {
        PATH: process.env.PATH,
        ...image.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        AXON_CONFIG: JSON.stringify({ plans: { free: { requestsPerMinute: 60, burst: 5 } } }),
        AXON_KEYS_TABLE: tableName,
        AXON_DYNAMODB_ENDPOINT: dynalite.endpoint,
        AXON_REDIS_URL: inject('redisUrl'),
        AXON_UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        AXON_UPSTREAM_SECRET: SECRET,
        AXON_SHUTDOWN_GRACE_MS: '2000',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        POWERTOOLS_METRICS_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      output += chunk;
    };
    server.stdout?.on('data', collect);
    server.stderr?.on('data', collect);
    exited = new Promise((resolve) => server?.once('exit', resolve));
    base = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => (await fetch(`${base}/healthz`)).ok,
      'the built edge to answer /healthz',
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${output}`);
    });
  }, 300_000);

  afterAll(async () => {
    server?.kill('SIGKILL');
    await new Promise((resolve) => upstream?.close(resolve));
    await dynalite?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }, 300_000);

  it('runs one bundled file and answers /healthz without a key and 401 in the envelope', async () => {
    expect(image.cmd).toEqual(['node', '--enable-source-maps', 'dist/server.mjs']);
    expect(readdirSync(join(image.workdir, 'dist')).sort()).toEqual([
      'server.mjs',
      'server.mjs.map',
    ]);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const denied = await fetch(`${base}/v1/models`);
    expect(denied.status).toBe(401);
    expect(await denied.json()).toMatchObject({ error: { code: 'missing_api_key' } });
  });

  it('exits 0 on SIGTERM, never logging the upstream secret', async () => {
    server?.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('draining');
    expect(output).not.toContain(SECRET);
  });
});
