/**
 * EKS add-on pins against the recorded DescribeAddonVersions answers for Kubernetes 1.35
 * (recorded/eks/describe-addon-versions/), served by the EKS stand-in of support.ts.
 */
import {
  type AddonInfo,
  DescribeAddonVersionsCommand,
  type DescribeAddonVersionsResponse,
} from '@aws-sdk/client-eks';
import { describe, expect, it } from 'vitest';
import {
  type AddonPins,
  checkAddonVersions,
  compareAddonVersions,
  offeredVersions,
} from '../../lib/preflight/addons.ts';
import { REPO_PINS } from '../../lib/preflight/run.ts';
import {
  awsError,
  devInputs,
  mockedClients,
  recordedAddonVersions,
  recordedPins,
} from './support.ts';

const PINS_135 = REPO_PINS.addons['1.35'];

/** The repo's 1.35 row with one add-on pinned to another version. */
function pinsWith(name: keyof NonNullable<typeof PINS_135>, version: string): AddonPins {
  if (PINS_135 === undefined) throw new Error('no 1.35 row in EKS_ADDON_VERSIONS');
  return { '1.35': { ...PINS_135, [name]: version } };
}

function recordedAddon(name: string): AddonInfo {
  const addon = recordedAddonVersions(name, '1.35').addons?.[0];
  if (addon === undefined) throw new Error(`no recording for ${name}`);
  return addon;
}

describe('EKS add-on version check', () => {
  it('passes every add-on the repo pins on the recorded 1.35 answers, asking for 1.35 each time', async () => {
    const { clients, mocks } = mockedClients();
    recordedPins(mocks);
    const rows = await checkAddonVersions(clients.eks, devInputs(), REPO_PINS.addons);
    expect(rows.map((r) => [r.check, r.status])).toEqual([
      ['add-on vpc-cni', 'PASS'],
      ['add-on coredns', 'PASS'],
      ['add-on kube-proxy', 'PASS'],
      ['add-on eks-pod-identity-agent', 'PASS'],
      ['add-on metrics-server', 'PASS'],
      ['add-on amazon-cloudwatch-observability', 'PASS'],
    ]);
    expect(rows[0]?.detail).toBe(
      'v1.21.1-eksbuild.3 is offered for Kubernetes 1.35 (default v1.22.3-eksbuild.1, newest v1.22.4-eksbuild.3)',
    );
    expect(rows[3]?.detail).toBe('v1.3.10-eksbuild.3 is offered for Kubernetes 1.35 (EKS default)');
    expect(rows[5]?.detail).toBe(
      'v5.4.0-eksbuild.1 is offered for Kubernetes 1.35 (EKS default, newest v6.4.0-eksbuild.1)',
    );
    const inputs = mocks.eks.commandCalls(DescribeAddonVersionsCommand).map((c) => c.args[0].input);
    expect(inputs).toHaveLength(6);
    for (const input of inputs) expect(input.kubernetesVersion).toBe('1.35');
    expect(inputs.map((i) => i.addonName).sort()).toEqual(Object.keys(PINS_135 ?? {}).sort());
  });

  it('fails the v4.5.0 CloudWatch pin, which the recorded 1.35 answer does not offer, and names the default to pin', async () => {
    const { clients, mocks } = mockedClients();
    recordedPins(mocks);
    const rows = await checkAddonVersions(
      clients.eks,
      devInputs(),
      pinsWith('amazon-cloudwatch-observability', 'v4.5.0-eksbuild.1'),
    );
    const row = rows.find((r) => r.check === 'add-on amazon-cloudwatch-observability');
    expect(row).toEqual({
      check: 'add-on amazon-cloudwatch-observability',
      status: 'FAIL',
      detail:
        'v4.5.0-eksbuild.1 is not offered for Kubernetes 1.35 in us-east-1; EKS offers 12 versions: default v5.4.0-eksbuild.1, newest v6.4.0-eksbuild.1',
      fix: "set EKS_ADDON_VERSIONS['1.35']['amazon-cloudwatch-observability'] in lib/k8s/versions.ts to v5.4.0-eksbuild.1 (the EKS default for 1.35; aws eks describe-addon-versions --addon-name amazon-cloudwatch-observability --kubernetes-version 1.35 --region us-east-1 lists every offered version)",
    });
    expect(rows.filter((r) => r.status === 'PASS')).toHaveLength(5);
  });

  it('names the newest offered version when EKS marks none as default', async () => {
    const { clients, mocks } = mockedClients();
    const addon = recordedAddon('coredns');
    const noDefault: DescribeAddonVersionsResponse = {
      addons: [
        {
          ...addon,
          addonVersions: (addon.addonVersions ?? []).map((v) => ({
            ...v,
            compatibilities: (v.compatibilities ?? []).map((c) => ({
              ...c,
              defaultVersion: false,
            })),
          })),
        },
      ],
    };
    mocks.eks.on(DescribeAddonVersionsCommand).resolves(noDefault);
    const rows = await checkAddonVersions(clients.eks, devInputs(), {
      '1.35': { coredns: 'v1.12.4-eksbuild.1' } as never,
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe('FAIL');
    expect(rows[0]?.detail).toContain('EKS offers 6 versions: newest v1.14.3-eksbuild.3');
    expect(rows[0]?.fix).toContain(
      "set EKS_ADDON_VERSIONS['1.35']['coredns'] in lib/k8s/versions.ts to v1.14.3-eksbuild.3 (the newest offered for 1.35;",
    );
  });

  it('reads every page (nextToken) before deciding', async () => {
    const { clients, mocks } = mockedClients();
    const addon = recordedAddon('vpc-cni');
    const versions = addon.addonVersions ?? [];
    mocks.eks
      .on(DescribeAddonVersionsCommand)
      .resolvesOnce({
        addons: [{ ...addon, addonVersions: versions.slice(0, 3) }],
        nextToken: 'p2',
      })
      .resolvesOnce({ addons: [{ ...addon, addonVersions: versions.slice(3) }] });
    const rows = await checkAddonVersions(clients.eks, devInputs(), {
      '1.35': { 'vpc-cni': 'v1.21.1-eksbuild.3' } as never,
    });
    expect(rows[0]?.status).toBe('PASS');
    const calls = mocks.eks.commandCalls(DescribeAddonVersionsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input).toEqual({
      addonName: 'vpc-cni',
      kubernetesVersion: '1.35',
      nextToken: 'p2',
    });
  });

  it('does not count a version EKS lists only for another Kubernetes version', async () => {
    const addon = recordedAddon('kube-proxy');
    const other: AddonInfo = {
      ...addon,
      addonVersions: [
        ...(addon.addonVersions ?? []),
        {
          addonVersion: 'v1.34.3-eksbuild.9',
          compatibilities: [
            { clusterVersion: '1.34', platformVersions: ['*'], defaultVersion: true },
          ],
        },
      ],
    };
    const offer = offeredVersions([other], 'kube-proxy', '1.35');
    expect(offer.versions).not.toContain('v1.34.3-eksbuild.9');
    expect(offer.defaultVersion).toBe('v1.35.3-eksbuild.17');
  });

  it('fails an add-on EKS offers nothing of for the Kubernetes version', async () => {
    const { clients, mocks } = mockedClients();
    mocks.eks.on(DescribeAddonVersionsCommand).resolves({ addons: [] });
    const rows = await checkAddonVersions(clients.eks, devInputs(), {
      '1.35': { 'metrics-server': 'v0.8.1-eksbuild.1' } as never,
    });
    expect(rows[0]).toMatchObject({ check: 'add-on metrics-server', status: 'FAIL' });
    expect(rows[0]?.detail).toBe(
      'EKS offers no metrics-server version for Kubernetes 1.35 in us-east-1; the pinned v0.8.1-eksbuild.1 cannot be installed',
    );
  });

  it('fails once when versions.ts has no row for the stage Kubernetes version', async () => {
    const { clients, mocks } = mockedClients();
    const rows = await checkAddonVersions(
      clients.eks,
      devInputs({ kubernetesVersion: '1.36' }),
      REPO_PINS.addons,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ check: 'EKS add-ons', status: 'FAIL' });
    expect(rows[0]?.fix).toContain("add EKS_ADDON_VERSIONS['1.36'] in lib/k8s/versions.ts");
    expect(mocks.eks.commandCalls(DescribeAddonVersionsCommand)).toHaveLength(0);
  });

  it('reports one row naming eks:DescribeAddonVersions when every call is denied', async () => {
    const { clients, mocks } = mockedClients();
    mocks.eks.on(DescribeAddonVersionsCommand).rejects(awsError('AccessDeniedException'));
    const rows = await checkAddonVersions(clients.eks, devInputs(), REPO_PINS.addons);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ check: 'EKS add-ons', status: 'FAIL' });
    expect(rows[0]?.fix).toContain('grant eks:DescribeAddonVersions');
  });

  it('orders add-on versions by their numbers, not as strings', () => {
    const sorted = ['v1.9.0-eksbuild.2', 'v1.10.0-eksbuild.1', 'v1.9.0-eksbuild.10'].sort(
      compareAddonVersions,
    );
    expect(sorted).toEqual(['v1.9.0-eksbuild.2', 'v1.9.0-eksbuild.10', 'v1.10.0-eksbuild.1']);
  });
});
