/**
 * The recorded AWS response bodies are wire bodies: served by a local HTTP server to the real SDK
 * clients (endpoint pointed at it, stand-in credentials), the SDK's own serializers and
 * deserializers carry them, and the checks reach the same verdicts as with the stand-ins of
 * support.ts. This pins the recordings to the shapes the EKS REST-JSON and SSM JSON 1.1
 * protocols really have, so a hand-edited recording that drifted would fail here.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DescribeAddonVersionsCommand, EKSClient } from '@aws-sdk/client-eks';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAddonVersions } from '../../lib/preflight/addons.ts';
import { al2023ParameterPrefix, checkGpuAmi } from '../../lib/preflight/ami.ts';
import { REPO_PINS } from '../../lib/preflight/run.ts';
import { devInputs, RECORDED_DIR, REGION } from './support.ts';

const file = (path: string) => readFileSync(join(RECORDED_DIR, path), 'utf8');

interface Seen {
  method: string;
  url: string;
  target?: string;
  body: string;
}

/**
 * EKS DescribeAddonVersions is `GET /addons/supported-versions?addonName=&kubernetesVersion=`;
 * SSM GetParameter is `POST /` with `X-Amz-Target: AmazonSSM.GetParameter` and `{"Name": ...}`,
 * answered with the recorded parameter, or a 400 ParameterNotFound as SSM sends it.
 */
function handle(seen: Seen[]) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = new URL(req.url ?? '/', 'http://aws.invalid');
    const target = req.headers['x-amz-target'] as string | undefined;
    seen.push({ method: req.method ?? '', url: url.pathname + url.search, target, body });
    if (url.pathname === '/addons/supported-versions') {
      const name = url.searchParams.get('addonName');
      const k8s = url.searchParams.get('kubernetesVersion');
      let text = '{"addons":[]}';
      try {
        text = file(`eks/describe-addon-versions/${name}.${k8s}.json`);
      } catch {}
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text);
      return;
    }
    if (target === 'AmazonSSM.GetParameter') {
      const { Name } = JSON.parse(body) as { Name: string };
      const recordings: Record<string, string> = {
        [`${al2023ParameterPrefix('1.35')}/amazon-eks-node-al2023-x86_64-nvidia-1.35-v20260818/image_id`]:
          'al2023-x86_64-nvidia-1.35-v20260818.image_id.json',
        [`${al2023ParameterPrefix('1.35')}/recommended/release_version`]:
          'al2023-x86_64-nvidia-1.35.recommended.release_version.json',
      };
      const recording = recordings[Name];
      res.writeHead(recording === undefined ? 400 : 200, {
        'content-type': 'application/x-amz-json-1.1',
      });
      res.end(file(`ssm/get-parameter/${recording ?? 'ParameterNotFound.json'}`));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"message":"no recording"}');
  };
}

let server: Server;
let endpoint: string;
const seen: Seen[] = [];
beforeAll(async () => {
  server = createServer((req, res) => void handle(seen)(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const config = () => ({
  region: REGION,
  endpoint,
  maxAttempts: 1,
  credentials: { accessKeyId: 'AKIASTANDIN00000000', secretAccessKey: 'stand-in' },
});

describe('recorded responses through the real SDK clients', () => {
  it('EKS: the recorded DescribeAddonVersions bodies deserialize and pass the repo pins', async () => {
    const eks = new EKSClient(config());
    try {
      const out = await eks.send(
        new DescribeAddonVersionsCommand({ addonName: 'vpc-cni', kubernetesVersion: '1.35' }),
      );
      expect(out.addons?.[0]?.addonName).toBe('vpc-cni');
      expect(out.addons?.[0]?.addonVersions?.[0]?.compatibilities?.[0]).toEqual({
        clusterVersion: '1.35',
        platformVersions: ['*'],
        defaultVersion: false,
      });
      const rows = await checkAddonVersions(eks, devInputs(), REPO_PINS.addons);
      expect(rows.map((r) => r.status)).toEqual(Array(6).fill('PASS'));
      const requests = seen.filter((s) => s.url.startsWith('/addons/'));
      expect(requests[0]).toMatchObject({
        method: 'GET',
        url: '/addons/supported-versions?addonName=vpc-cni&kubernetesVersion=1.35',
      });
    } finally {
      eks.destroy();
    }
  });

  it('SSM: the recorded parameter deserializes (a Date, not epoch seconds) and ParameterNotFound is the error SSM sends', async () => {
    const ssm = new SSMClient(config());
    try {
      const name = `${al2023ParameterPrefix('1.35')}/recommended/release_version`;
      const { Parameter } = await ssm.send(new GetParameterCommand({ Name: name }));
      expect(Parameter?.Value).toBe('1.35.6-20260714');
      expect(Parameter?.LastModifiedDate).toBeInstanceOf(Date);
      await expect(
        ssm.send(new GetParameterCommand({ Name: '/aws/service/none' })),
      ).rejects.toMatchObject({ name: 'ParameterNotFound' });

      expect((await checkGpuAmi(ssm, devInputs(), REPO_PINS.gpuAmiAlias)).status).toBe('PASS');
      const missing = await checkGpuAmi(ssm, devInputs(), 'al2023@v20260899');
      expect(missing.status).toBe('FAIL');
      expect(missing.fix).toContain("'al2023@v20260714'");
      expect(seen.find((s) => s.target === 'AmazonSSM.GetParameter')?.method).toBe('POST');
    } finally {
      ssm.destroy();
    }
  });
});
