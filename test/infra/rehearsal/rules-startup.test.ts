/** Startup rules on broken fixtures: missing variables and Triton arguments are reported. */
import { describe, expect, it } from 'vitest';
import type { K8sObject } from './cluster.ts';
import {
  cluster,
  deployment,
  SESSION_MANAGER_ENV,
  sessionManagerPod,
  tritonContainer,
  tritonDeployment,
  tritonPod,
} from './fixtures.ts';
import { startupEnvironmentIsSet } from './rules.ts';

describe('startup environment is set', () => {
  const withEnv = (env: K8sObject[]) =>
    cluster({
      'Deployment/session-manager': deployment('session-manager', sessionManagerPod(env)),
    });

  it('fails a session manager without a variable its startup code requires', () => {
    const noTriton = SESSION_MANAGER_ENV.filter((e) => e.name !== 'TRITON_URL');
    expect(startupEnvironmentIsSet(withEnv(noTriton))).toEqual([
      expect.stringContaining(
        'Deployment session-manager would exit at startup: TRITON_URL is required',
      ),
    ]);
    const noRedis = SESSION_MANAGER_ENV.filter((e) => e.name !== 'REDIS_URL');
    expect(startupEnvironmentIsSet(withEnv(noRedis))).toEqual([
      expect.stringContaining('set exactly one of REDIS_URL'),
    ]);
  });

  it('accepts a variable set from a Secret, whose format it cannot know', () => {
    const secret = (name: string) => ({
      name,
      valueFrom: { secretKeyRef: { name: 'session-manager', key: name } },
    });
    const fromSecrets = [
      ...SESSION_MANAGER_ENV.filter((e) => !['GATEWAY_SECRET_ARN', 'REDIS_URL'].includes(e.name)),
      secret('GATEWAY_SECRET'),
      secret('REDIS_URL'),
    ];
    expect(startupEnvironmentIsSet(withEnv(fromSecrets))).toEqual([]);
  });

  it('still fails a conflict that involves a variable set from a Secret', () => {
    const both = [
      ...SESSION_MANAGER_ENV,
      { name: 'GATEWAY_SECRET', valueFrom: { secretKeyRef: { name: 'gateway', key: 'secret' } } },
    ];
    expect(startupEnvironmentIsSet(withEnv(both))).toEqual([
      expect.stringContaining('set GATEWAY_SECRET or GATEWAY_SECRET_ARN, not both'),
    ]);
  });

  it('fails Triton without a model repository, or on S3 without a region', () => {
    const noRepository = tritonContainer({ args: ['--http-port=8000'] });
    expect(
      startupEnvironmentIsSet(
        cluster({ 'Deployment/triton': tritonDeployment(tritonPod(noRepository)) }),
      ),
    ).toEqual([expect.stringContaining('tritonserver is started without --model-repository')]);
    const noRegion = tritonContainer({ env: [] });
    expect(
      startupEnvironmentIsSet(
        cluster({ 'Deployment/triton': tritonDeployment(tritonPod(noRegion)) }),
      ),
    ).toEqual([
      expect.stringContaining(
        'the model repository is on S3 (s3://models/triton) but neither AWS_REGION nor AWS_DEFAULT_REGION is set',
      ),
    ]);
  });

  it('fails a stage that applies no session manager or Triton', () => {
    const model = cluster({
      'Deployment/triton': undefined,
      'Deployment/session-manager': undefined,
    });
    expect(startupEnvironmentIsSet(model)).toEqual([
      'no Deployment session-manager is applied',
      'no Deployment triton is applied',
    ]);
  });
});
