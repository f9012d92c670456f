/** The one adapter from the stage config to what the preflight checks. */
import { describe, expect, it } from 'vitest';
import { loadStageConfig } from '../../lib/config.ts';
import { REPO_ROOT } from '../../lib/paths.ts';
import { preflightInputs, vcpusOf } from '../../lib/preflight/inputs.ts';
import { parseDev } from '../infra/support.ts';

describe('preflight inputs', () => {
  it('takes the account, GPU ceiling, TLS settings, AZs, Kubernetes version and Triton image from the prod stage', () => {
    expect(preflightInputs(loadStageConfig('prod', REPO_ROOT))).toEqual({
      stage: 'prod',
      region: 'us-east-1',
      account: '123456789012',
      availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
      systemInstanceTypes: ['m7i.xlarge'],
      gpuInstanceTypes: ['g6e.2xlarge'],
      maxGpuNodes: 6,
      capacityType: 'ON_DEMAND',
      hostedZoneId: 'Z0000000EXAMPLE',
      domainName: 'api.example.com',
      allowPlainHttp: false,
      kubernetesVersion: '1.35',
      tritonImage: 'nvcr.io/nvidia/tritonserver:25.10-vllm-python-py3',
    });
  });

  it('leaves out what the dev stage does not set', () => {
    const inputs = preflightInputs(loadStageConfig('dev', REPO_ROOT));
    expect(inputs).not.toHaveProperty('account');
    expect(inputs).not.toHaveProperty('certificateArn');
    expect(inputs).not.toHaveProperty('reservedConcurrency');
    expect(inputs.allowPlainHttp).toBe(true);
  });

  it("passes the gateway's reserved concurrency on for the Lambda quota check", () => {
    const inputs = preflightInputs(parseDev({ gateway: { reservedConcurrency: 200 } }));
    expect(inputs.reservedConcurrency).toBe(200);
  });

  it('knows the vCPUs of every GPU type a shipped stage uses', () => {
    for (const stage of ['dev', 'prod']) {
      for (const type of preflightInputs(loadStageConfig(stage, REPO_ROOT)).gpuInstanceTypes) {
        expect(vcpusOf(type), type).toBeGreaterThan(0);
      }
    }
  });
});
