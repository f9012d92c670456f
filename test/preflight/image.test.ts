/**
 * The Triton image check against nvcr.io as recorded (recorded/registry/nvcr.io/), served by a
 * real HTTP server on an ephemeral loopback port: the check uses the real fetch and only its
 * registry base URL points at the server.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkTritonImage,
  newestOfFlavour,
  parseBearerChallenge,
  parseImage,
} from '../../lib/preflight/image.ts';
import { devInputs, type LocalRegistry, recorded, startRegistry } from './support.ts';

let registry: LocalRegistry;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry.close();
});

const viaRegistry = (r: LocalRegistry) => ({ baseUrl: () => r.url });

describe('Triton image check (recorded nvcr.io on a local server)', () => {
  it('passes the stage image after the anonymous token dance, asking for image indexes', async () => {
    const before = registry.requests.length;
    const row = await checkTritonImage(devInputs(), viaRegistry(registry));
    const digest = recorded<{ headers: Record<string, string> }>(
      'registry/nvcr.io/manifest.25.10-vllm-python-py3.json',
    ).headers['docker-content-digest'];
    expect(row).toEqual({
      check: 'triton image',
      status: 'PASS',
      detail: `nvcr.io/nvidia/tritonserver:25.10-vllm-python-py3 exists (application/vnd.docker.distribution.manifest.list.v2+json, ${digest})`,
    });
    const requests = registry.requests.slice(before);
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'HEAD /v2/nvidia/tritonserver/manifests/25.10-vllm-python-py3',
      'GET /proxy_auth?scope=repository%3Anvidia%2Ftritonserver%3Apull',
      'HEAD /v2/nvidia/tritonserver/manifests/25.10-vllm-python-py3',
    ]);
    expect(requests[0]?.headers.authorization).toBeUndefined();
    expect(requests[2]?.headers.authorization).toMatch(/^Bearer \S+/);
    expect(requests[2]?.headers.accept).toContain('application/vnd.oci.image.index.v1+json');
  });

  it('fails an unknown tag, naming it and the newest tag of the same flavour', async () => {
    const row = await checkTritonImage(
      devInputs({ tritonImage: 'nvcr.io/nvidia/tritonserver:25.13-vllm-python-py3' }),
      viaRegistry(registry),
    );
    expect(row).toEqual({
      check: 'triton image',
      status: 'FAIL',
      detail:
        'tag 25.13-vllm-python-py3 does not exist in nvcr.io/nvidia/tritonserver (the registry answered 404 to the manifest), so the Triton pods would never start (ErrImagePull)',
      fix: 'set triton.image in config/stages/dev.json to nvcr.io/nvidia/tritonserver:26.05-vllm-python-py3 (the newest tag of the same flavour); tags: https://catalog.ngc.nvidia.com/orgs/nvidia/containers/tritonserver/tags',
    });
  });

  it('fails an unknown digest without listing tags', async () => {
    const before = registry.requests.length;
    const digest = `sha256:${'0'.repeat(64)}`;
    const row = await checkTritonImage(
      devInputs({ tritonImage: `nvcr.io/nvidia/tritonserver@${digest}` }),
      viaRegistry(registry),
    );
    expect(row.status).toBe('FAIL');
    expect(row.detail).toContain(`digest ${digest} does not exist in nvcr.io/nvidia/tritonserver`);
    expect(row.fix).toContain('set triton.image in config/stages/dev.json to an existing tag');
    expect(registry.requests.slice(before).some((r) => r.url.includes('tags/list'))).toBe(false);
  });

  it('warns, not fails, when the registry refuses an anonymous token', async () => {
    const refusing = await startRegistry({
      '/proxy_auth': { status: 401, headers: {}, body: { details: 'no anonymous access' } },
    });
    try {
      const row = await checkTritonImage(devInputs(), viaRegistry(refusing));
      expect(row.status).toBe('WARN');
      expect(row.detail).toContain('nvcr.io refused anonymous pull access (HTTP 401)');
    } finally {
      await refusing.close();
    }
  });

  it('warns when the registry answers with a server error', async () => {
    const broken = await startRegistry({
      '/v2/nvidia/tritonserver/manifests/25.10-vllm-python-py3': {
        status: 503,
        headers: { 'content-type': 'text/plain' },
        body: 'upstream unavailable',
      },
    });
    try {
      const row = await checkTritonImage(devInputs(), viaRegistry(broken));
      expect(row).toMatchObject({ status: 'WARN' });
      expect(row.detail).toContain('nvcr.io answered HTTP 503');
    } finally {
      await broken.close();
    }
  });

  it('warns when the registry cannot be reached', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const row = await checkTritonImage(devInputs(), { baseUrl: () => `http://127.0.0.1:${port}` });
    expect(row.status).toBe('WARN');
    expect(row.detail).toContain('cannot reach nvcr.io (ECONNREFUSED)');
  });

  it('goes to https://nvcr.io itself when no base URL is injected', async () => {
    const urls: string[] = [];
    const row = await checkTritonImage(devInputs(), {
      fetch: async (input) => {
        urls.push(String(input));
        throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } });
      },
    });
    expect(urls).toEqual([
      'https://nvcr.io/v2/nvidia/tritonserver/manifests/25.10-vllm-python-py3',
    ]);
    expect(row.detail).toContain('cannot reach nvcr.io (ENOTFOUND)');
  });

  it('does not check an ECR image, and says how to', async () => {
    const row = await checkTritonImage(
      devInputs({
        tritonImage: '111122223333.dkr.ecr.us-east-1.amazonaws.com/triton:25.10-vllm-python-py3',
      }),
      {
        fetch: () => {
          throw new Error('no request expected');
        },
      },
    );
    expect(row.status).toBe('WARN');
    expect(row.detail).toContain('not checked');
    expect(row.fix).toBe(
      'check it with aws ecr describe-images --registry-id 111122223333 --repository-name triton --image-ids imageTag=25.10-vllm-python-py3 --region us-east-1',
    );
  });
});

describe('image reference parsing', () => {
  it('splits registry, repository and tag or digest as Docker does', () => {
    expect(parseImage('nvcr.io/nvidia/tritonserver:25.10-vllm-python-py3')).toEqual({
      registry: 'nvcr.io',
      apiHost: 'nvcr.io',
      repository: 'nvidia/tritonserver',
      reference: '25.10-vllm-python-py3',
      isDigest: false,
    });
    expect(parseImage('localhost:5000/triton:dev')).toMatchObject({
      registry: 'localhost:5000',
      repository: 'triton',
      reference: 'dev',
    });
    expect(parseImage('vllm/vllm-openai:v0.20.1')).toMatchObject({
      registry: 'docker.io',
      apiHost: 'registry-1.docker.io',
      repository: 'vllm/vllm-openai',
    });
    expect(parseImage('nginx:1.27')).toMatchObject({ repository: 'library/nginx' });
    expect(parseImage(`ghcr.io/a/b@sha256:${'a'.repeat(64)}`)).toMatchObject({
      reference: `sha256:${'a'.repeat(64)}`,
      isDigest: true,
    });
    expect(parseImage('nvcr.io/nvidia/tritonserver')).toBeUndefined();
  });

  it('reads the recorded nvcr.io challenge', () => {
    const challenge = recorded<{ headers: Record<string, string> }>(
      'registry/nvcr.io/manifest.anonymous.json',
    ).headers['www-authenticate'];
    expect(parseBearerChallenge(challenge ?? null)).toEqual({
      realm: 'https://nvcr.io/proxy_auth?scope=repository:nvidia/tritonserver:pull,push',
    });
    expect(
      parseBearerChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      ),
    ).toEqual({
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/nginx:pull',
    });
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
  });

  it('picks the newest tag of the same flavour', () => {
    const tags = ['25.10-py3', '26.05-vllm-python-py3', '26.07-py3', '25.10-vllm-python-py3'];
    expect(newestOfFlavour('25.13-vllm-python-py3', tags)).toBe('26.05-vllm-python-py3');
    expect(newestOfFlavour('24.01-py3', tags)).toBe('26.07-py3');
    expect(newestOfFlavour('latest-dev', tags)).toBeUndefined();
  });
});
