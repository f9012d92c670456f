/**
 * The container edge's image, built from its recipe without Docker (test/support/image-recipe.ts):
 * COPY from the repository root after .dockerignore, `npm ci` offline, the esbuild bundle, then
 * the final stage's CMD started with the environment contract the CDK app sets. The session
 * manager behind it is a scripted HTTP server; DynamoDB is dynalite; the limiter runs on the
 * suite's redis-server.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestTable, type Dynalite, startDynalite } from '../lambda/authorizer/support.ts';
import { type BuiltImage, parseDockerfile, startBuiltImage } from '../support/image-recipe.ts';

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
  let dynalite: Dynalite;
  let upstream: Server;
  let built: BuiltImage;
  let base = '';

  beforeAll(async () => {
    dynalite = await startDynalite();
    const { tableName } = await createTestTable(dynalite.endpoint);
    upstream = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"data":[]}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    built = await startBuiltImage({
      dockerfile: dockerfilePath,
      contextDir: root,
      scratchDir: scratch,
      buildEnv: process.env,
      env: {
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
      readyPath: '/healthz',
      what: 'edge',
    });
    base = built.base;
  }, 300_000);

  afterAll(async () => {
    built?.server.kill('SIGKILL');
    await new Promise((resolve) => upstream?.close(resolve));
    await dynalite?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }, 300_000);

  it('runs one bundled file and answers /healthz without a key and 401 in the envelope', async () => {
    expect(built.image.cmd).toEqual(['node', '--enable-source-maps', 'dist/server.mjs']);
    expect(readdirSync(join(built.image.workdir, 'dist')).sort()).toEqual([
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
    built.server.kill('SIGTERM');
    expect(await built.exited).toBe(0);
    expect(built.output()).toContain('draining');
    expect(built.output()).not.toContain(SECRET);
  });
});
