/**
 * How lib/ uses cdk-nag: through its public entry point only, and with one style of
 * acknowledgement (`acknowledge` of lib/nag.ts, which always carries a reason), whose
 * `finding` names a wildcard finding exactly as cdk-nag does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { acknowledge, finding } from '../../lib/nag.ts';
import { REPO_ROOT, repoPath } from '../../lib/paths.ts';
import { bareStack, unacknowledged } from './constructs/support.ts';

function sources(dir: string): string[] {
  return readdirSync(repoPath(dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => relative(REPO_ROOT, join(repoPath(dir), file)));
}

/**
 * Files being rewritten in parallel (the inference constructs, step 2) that still call
 * `Validations.of(…).acknowledge` directly. Each must still do so, so the list cannot outlive
 * the rewrite: when a file is converted, its entry has to go.
 */
const PENDING_DIRECT_ACKNOWLEDGEMENTS = [
  'lib/constructs/inference-cluster.ts',
  'lib/inference-stack.ts',
];

describe('cdk-nag usage', () => {
  it('imports cdk-nag only through its public entry point', () => {
    const deep = ['lib', 'bin', 'test', 'local']
      .flatMap(sources)
      .filter((file) => /from ['"]cdk-nag\//.test(readFileSync(repoPath(file), 'utf8')));
    expect(deep).toEqual([]);
  });

  it('acknowledges findings in lib/ only through lib/nag.ts', () => {
    const direct = sources('lib').filter(
      (file) =>
        file !== 'lib/nag.ts' && /\.acknowledge\(/.test(readFileSync(repoPath(file), 'utf8')),
    );
    expect(direct.sort()).toEqual([...PENDING_DIRECT_ACKNOWLEDGEMENTS].sort());
  });

  it('names a wildcard finding the way cdk-nag does, so acknowledging it clears exactly it', () => {
    const build = (acknowledged: boolean) => {
      const { app, stack } = bareStack();
      const bucket = new s3.Bucket(stack, 'Models', { enforceSSL: true });
      const role = new iam.Role(stack, 'Reader', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [bucket.arnForObjects('*')],
        }),
      );
      if (acknowledged) {
        acknowledge(
          role,
          `AwsSolutions-IAM5[Resource::${finding(role, bucket.arnForObjects('*'))}]`,
          'Test: reads any object of one bucket, the bucket being named in full.',
        );
      }
      return unacknowledged(app, role).filter((f) => f.startsWith('AwsSolutions-IAM5'));
    };
    expect(build(false)).toHaveLength(1);
    expect(build(true)).toEqual([]);
  });
});
