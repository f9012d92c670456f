/**
 * The real app, the way `npm run synth` runs it (cdk.json's `app` with cdk.json's context), with
 * no AWS credentials and no Docker: it must exit 0, write the four templates, bundle both Lambdas
 * for real with the local esbuild, pass cdk-nag and CloudFormation validation, and put no
 * plaintext secret in any template.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.ts';
import { CDK_CONTEXT, type Json } from './support.ts';

// Inside the repository, so a bundle that leaves the AWS SDK to the Lambda runtime can still
// resolve it from node_modules when the test loads it.
mkdirSync(join(REPO_ROOT, 'node_modules', '.cache'), { recursive: true });
const outdir = mkdtempSync(join(REPO_ROOT, 'node_modules', '.cache', 'axon-synth-'));
const env: Record<string, string> = {};
for (const [name, value] of Object.entries(process.env)) {
  // No credentials, no profile, and no instance-metadata probing: synth must not need AWS.
  if (value !== undefined && !name.startsWith('AWS_') && !name.startsWith('CDK_'))
    env[name] = value;
}
const result = spawnSync('npx', ['tsx', 'bin/axon.ts'], {
  cwd: REPO_ROOT,
  env: {
    ...env,
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify(CDK_CONTEXT),
    PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
  },
  encoding: 'utf8',
  timeout: 120_000,
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const STACKS = ['Axon-dev-Network', 'Axon-dev-Data', 'Axon-dev-Inference', 'Axon-dev-Gateway'];
const template = (stack: string) => readFileSync(join(outdir, `${stack}.template.json`), 'utf8');

/** The bundled entry of the Lambda whose description matches (found through the asset manifest). */
function bundleOf(stack: string, description: RegExp): string {
  const resources = JSON.parse(template(stack)).Resources as Record<string, Json>;
  const fn = Object.values(resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && description.test(r.Properties.Description ?? ''),
  );
  const hash = String(fn?.Properties.Code.S3Key ?? '').replace(/\.zip$/, '');
  const assets = JSON.parse(readFileSync(join(outdir, `${stack}.assets.json`), 'utf8'));
  const path = assets.files?.[hash]?.source?.path;
  if (!path) throw new Error(`no bundled asset for ${description} in ${stack}`);
  return join(outdir, path, 'index.mjs');
}

/** Every [key, value] pair anywhere in a JSON document. */
function* entries(node: unknown, key = ''): Generator<[string, unknown]> {
  if (Array.isArray(node)) for (const item of node) yield* entries(item, key);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      yield [k, v];
      yield* entries(v, k);
    }
  }
}

describe('npm run synth (bin/axon.ts, dev stage)', () => {
  it('exits 0 without AWS credentials or Docker', () => {
    expect(result.error).toBeUndefined();
    expect(result.status, result.stderr).toBe(0);
  });

  it('writes the four stack templates to the output directory', () => {
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
    const stacks = Object.entries(manifest.artifacts as Record<string, { type: string }>)
      .filter(([, a]) => a.type === 'aws:cloudformation:stack')
      .map(([name]) => name);
    expect(stacks.sort()).toEqual([...STACKS].sort());
    for (const stack of STACKS) expect(JSON.parse(template(stack)).Resources).toBeDefined();
  });

  it('bundles the gateway Lambda with esbuild into one ES module exporting handler', () => {
    const bundle = bundleOf('Axon-dev-Gateway', /^Axon gateway/);
    const code = readFileSync(bundle, 'utf8');
    expect(statSync(bundle).size).toBeGreaterThan(10_000);
    expect(code).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}/);
    // Package imports (#shared/…) and every dependency are inside the bundle; only Node.js
    // built-ins and (when the bundling leaves it to the runtime) the AWS SDK stay outside.
    expect(code).not.toMatch(/["']#(shared|authorizer|token-bucket|gateway)\//);
    const outside = [...code.matchAll(/(?:from|import)\s*["']([^"'./][^"']*)["']/g)].map(
      (m) => m[1],
    );
    for (const specifier of outside) expect(specifier).toMatch(/^(node:|@aws-sdk\/)/);
    const check = spawnSync(process.execPath, ['--check', bundle], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
  });

  it('bundles the rotation Lambda into a module that loads on its own', () => {
    const bundle = bundleOf('Axon-dev-Data', /Rotates an ElastiCache user password/);
    const load = spawnSync(
      process.execPath,
      [
        '--no-warnings',
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`,
      ],
      {
        encoding: 'utf8',
        env: {
          ...env,
          REPLICATION_GROUP_ID: 'axon-test',
          REDIS_USER_ID: 'axon-test-user',
          AWS_REGION: 'us-east-1',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
      },
    );
    expect(load.stderr).toBe('');
    expect(load.stdout.trim()).toBe('function');
  });

  it('passes CloudFormation validation and cdk-nag (whose acknowledgements it records)', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    const plugins = report.pluginReports as {
      pluginName: string;
      conclusion: string;
      violations: unknown[];
    }[];
    const cfn = plugins.find((p) => p.pluginName === 'CloudFormation Validate');
    expect(cfn).toMatchObject({ conclusion: 'success', violations: [] });
    // A cdk-nag finding would have failed the synth above; its acknowledgements are written into
    // the templates as the v2-compatible cdk_nag metadata.
    const gateway = JSON.parse(template('Axon-dev-Gateway')).Resources as Record<string, Json>;
    const audited = Object.values(gateway).flatMap(
      (r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? [],
    );
    expect(audited.map((rule: { id: string }) => rule.id)).toEqual(
      expect.arrayContaining(['AwsSolutions-EC23', 'AwsSolutions-L1']),
    );
  });

  it('warns that the dev stage serves plain HTTP', () => {
    expect(`${result.stdout}${result.stderr}`).toMatch(
      /gateway\.allowPlainHttp is set: the public ALB serves plain HTTP/,
    );
  });

  it('puts no plaintext secret in any template', () => {
    const sensitive = /(password|secret|token|authtoken)$/i;
    for (const stack of STACKS) {
      const doc = JSON.parse(template(stack));
      for (const [id, resource] of Object.entries(doc.Resources as Record<string, Json>)) {
        expect(resource.Properties?.SecretString, `${stack}/${id}`).toBeUndefined();
        const authToken = resource.Properties?.AuthToken;
        if (authToken !== undefined) {
          expect(JSON.stringify(authToken), `${stack}/${id}`).toMatch(
            /^\{"Fn::Join":\["",\["\{\{resolve:secretsmanager:/,
          );
        }
      }
      // Any field or variable named like a secret holds a reference, an ARN or a number, never a value.
      for (const [key, value] of entries(doc)) {
        const name = key === 'Value' ? '' : key;
        if (sensitive.test(name) && typeof value === 'string') {
          expect(value, `${stack}: ${key}`).toMatch(/^(arn:|\{\{resolve:secretsmanager:|\d+$)/);
        }
      }
      const variables = [...entries(doc)]
        .filter(([key]) => key === 'Variables')
        .flatMap(([, vars]) => Object.entries(vars as Record<string, unknown>));
      for (const [name, value] of variables) {
        if (/(SECRET|TOKEN|PASSWORD)/.test(name) && typeof value === 'string') {
          expect(value, `${stack}: ${name}`).toMatch(/^\d+$/);
        }
      }
    }
  });
});
