/**
 * The GPU AMI release against the recorded SSM answers (recorded/ssm/get-parameter/), served by
 * the SSM stand-in of support.ts. A parameter with no recording gets SSM's ParameterNotFound.
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { GPU_AMI_ALIAS } from '../../lib/k8s/versions.ts';
import { aliasOfReleaseVersion, checkGpuAmi } from '../../lib/preflight/ami.ts';
import { awsError, devInputs, mockedClients, parameterNotFound, recordedPins } from './support.ts';

const RELEASE_PARAMETER =
  '/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/nvidia/amazon-eks-node-al2023-x86_64-nvidia-1.35-v20260818/image_id';
const RECOMMENDED_PARAMETER =
  '/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/nvidia/recommended/release_version';

function recordedSsm() {
  const { clients, mocks } = mockedClients();
  mocks.ssm.on(GetParameterCommand).rejects(parameterNotFound());
  recordedPins(mocks);
  return { clients, mocks };
}

describe('GPU AMI release check', () => {
  it("passes the repo's alias on the recorded release parameter, which is the one Karpenter reads", async () => {
    const { clients, mocks } = recordedSsm();
    const row = await checkGpuAmi(clients.ssm, devInputs(), GPU_AMI_ALIAS);
    expect(row).toEqual({
      check: 'GPU AMI',
      status: 'PASS',
      detail:
        'al2023@v20260818: amazon-eks-node-al2023-x86_64-nvidia-1.35-v20260818 is ami-0f3c9e6d2b7a41e85 in us-east-1',
    });
    const names = mocks.ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input.Name);
    expect(names).toEqual([RELEASE_PARAMETER]);
  });

  it('fails a release SSM does not know, naming it and the recommended release to pin instead', async () => {
    const { clients, mocks } = recordedSsm();
    const row = await checkGpuAmi(clients.ssm, devInputs(), 'al2023@v20260899');
    expect(row.status).toBe('FAIL');
    expect(row.detail).toBe(
      'al2023@v20260899 has no EKS-optimized AL2023 NVIDIA x86_64 AMI for Kubernetes 1.35 in us-east-1: SSM has no /aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/nvidia/amazon-eks-node-al2023-x86_64-nvidia-1.35-v20260899/image_id, so Karpenter cannot launch GPU nodes',
    );
    expect(row.fix).toBe(
      "set GPU_AMI_ALIAS in lib/k8s/versions.ts to 'al2023@v20260714' (the recommended AL2023 NVIDIA release for Kubernetes 1.35 in us-east-1, release version 1.35.6-20260714)",
    );
    const names = mocks.ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input.Name);
    expect(names).toEqual([
      RELEASE_PARAMETER.replace('v20260818', 'v20260899'),
      RECOMMENDED_PARAMETER,
    ]);
  });

  it('fails a release missing for another Kubernetes version even though the alias exists for 1.35', async () => {
    const { clients } = recordedSsm();
    const row = await checkGpuAmi(
      clients.ssm,
      devInputs({ kubernetesVersion: '1.36' }),
      GPU_AMI_ALIAS,
    );
    expect(row.status).toBe('FAIL');
    expect(row.detail).toContain('for Kubernetes 1.36');
    // No recommended release recorded for 1.36 either: the fix points at the release notes.
    expect(row.fix).toBe(
      'set GPU_AMI_ALIAS in lib/k8s/versions.ts to a release from https://github.com/awslabs/amazon-eks-ami/releases that lists amazon-eks-node-al2023-x86_64-nvidia-1.36-vYYYYMMDD',
    );
  });

  it('warns on al2023@latest and names the recommended release to pin', async () => {
    const { clients } = recordedSsm();
    const row = await checkGpuAmi(clients.ssm, devInputs(), 'al2023@latest');
    expect(row.status).toBe('WARN');
    expect(row.fix).toBe(
      'pin GPU_AMI_ALIAS in lib/k8s/versions.ts to al2023@v20260714 (the recommended release 1.35.6-20260714 for 1.35)',
    );
  });

  it('warns on an alias it cannot look up', async () => {
    const { clients, mocks } = recordedSsm();
    const row = await checkGpuAmi(clients.ssm, devInputs(), 'bottlerocket@v1.50.0');
    expect(row.status).toBe('WARN');
    expect(mocks.ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  it('fails naming ssm:GetParameter when the call is denied', async () => {
    const { clients, mocks } = mockedClients();
    mocks.ssm.on(GetParameterCommand).rejects(awsError('AccessDeniedException'));
    const row = await checkGpuAmi(clients.ssm, devInputs(), GPU_AMI_ALIAS);
    expect(row.status).toBe('FAIL');
    expect(row.fix).toContain('grant ssm:GetParameter');
  });

  it('turns a release version into the alias Karpenter takes', () => {
    expect(aliasOfReleaseVersion('1.35.6-20260714')).toBe('al2023@v20260714');
    expect(aliasOfReleaseVersion('garbage')).toBeUndefined();
  });
});
