/**
 * The EKS managed add-on versions the stack pins (EKS_ADDON_VERSIONS in lib/k8s/versions.ts) must
 * be versions EKS offers for the cluster's Kubernetes version in the stage's region; a version it
 * does not offer fails the add-on's CloudFormation resource only after the cluster and its nodes
 * exist. EKS DescribeAddonVersions lists what it offers, per add-on and Kubernetes version.
 */
import { type AddonInfo, DescribeAddonVersionsCommand, type EKSClient } from '@aws-sdk/client-eks';
import type { EksAddonName } from '../k8s/versions.ts';
import type { PreflightInputs } from './inputs.ts';
import { errorRow, fail, pass, type Row } from './report.ts';

/** Pinned add-on versions per Kubernetes minor version, shaped like EKS_ADDON_VERSIONS. */
export type AddonPins = Readonly<Record<string, Readonly<Record<EksAddonName, string>>>>;

/** What EKS offers of one add-on for one Kubernetes version. */
export interface OfferedVersions {
  /** Every offered version, newest first. */
  readonly versions: readonly string[];
  /** The one EKS marks `defaultVersion` for this Kubernetes version (what it installs unasked). */
  readonly defaultVersion?: string;
}

/** Every page of DescribeAddonVersions for one add-on and Kubernetes version. */
async function describeAddonVersions(
  eks: Pick<EKSClient, 'send'>,
  addonName: string,
  kubernetesVersion: string,
): Promise<AddonInfo[]> {
  const addons: AddonInfo[] = [];
  let nextToken: string | undefined;
  do {
    const page = await eks.send(
      new DescribeAddonVersionsCommand({
        addonName,
        kubernetesVersion,
        ...(nextToken !== undefined && { nextToken }),
      }),
    );
    addons.push(...(page.addons ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return addons;
}

/**
 * The versions of `addonName` whose compatibilities name `kubernetesVersion`. The request already
 * filters by Kubernetes version; the compatibilities are checked again so a response that lists
 * other cluster versions (as an unfiltered one does) cannot pass a version EKS offers only there.
 */
export function offeredVersions(
  addons: readonly AddonInfo[],
  addonName: string,
  kubernetesVersion: string,
): OfferedVersions {
  const versions = new Set<string>();
  let defaultVersion: string | undefined;
  for (const addon of addons) {
    if (addon.addonName !== addonName) continue;
    for (const v of addon.addonVersions ?? []) {
      const compatible = (v.compatibilities ?? []).filter(
        (c) => c.clusterVersion === kubernetesVersion,
      );
      if (v.addonVersion === undefined || compatible.length === 0) continue;
      versions.add(v.addonVersion);
      if (compatible.some((c) => c.defaultVersion === true)) defaultVersion = v.addonVersion;
    }
  }
  return {
    versions: [...versions].sort(compareAddonVersions).reverse(),
    ...(defaultVersion !== undefined && { defaultVersion }),
  };
}

/** Orders `v1.21.1-eksbuild.3` style versions by their numbers (major, minor, patch, build). */
export function compareAddonVersions(a: string, b: string): number {
  const numbers = (v: string) => (v.match(/\d+/g) ?? []).map(Number);
  const x = numbers(a);
  const y = numbers(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/**
 * "default v1.2.3-eksbuild.1, newest v1.3.0-eksbuild.2", or "EKS default, newest ..." when the
 * pin is the default; a part that would repeat the pin is left out.
 */
function describeOffer(offer: OfferedVersions, pinned: string): string {
  const newest = offer.versions[0];
  const parts: string[] = [];
  if (offer.defaultVersion === pinned) parts.push('EKS default');
  else if (offer.defaultVersion !== undefined) parts.push(`default ${offer.defaultVersion}`);
  if (newest !== undefined && newest !== pinned && newest !== offer.defaultVersion) {
    parts.push(`newest ${newest}`);
  }
  return parts.join(', ');
}

/**
 * One row per pinned add-on: EKS DescribeAddonVersions (`eks:DescribeAddonVersions`) for the
 * stage's Kubernetes version, every page. The pin passes when it is among the versions offered for
 * that version; otherwise the fix names the version to pin instead: the one EKS marks default for
 * that Kubernetes version, or the newest offered when none is marked.
 */
export async function checkAddonVersions(
  eks: Pick<EKSClient, 'send'>,
  inputs: PreflightInputs,
  pins: AddonPins,
): Promise<Row[]> {
  const k8s = inputs.kubernetesVersion;
  const row = pins[k8s];
  if (row === undefined) {
    return [
      fail(
        'EKS add-ons',
        `lib/k8s/versions.ts pins no add-on versions for Kubernetes ${k8s} (eks.version of stage ${inputs.stage})`,
        `add EKS_ADDON_VERSIONS['${k8s}'] in lib/k8s/versions.ts, taking each version from aws eks describe-addon-versions --kubernetes-version ${k8s} --addon-name <name> --region ${inputs.region}`,
      ),
    ];
  }
  const names = Object.keys(row) as EksAddonName[];
  const results = await Promise.allSettled(
    names.map((name) => describeAddonVersions(eks, name, k8s)),
  );
  // One error row instead of six when every call failed alike (no permission, no network).
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const nameOf = (e: unknown) => (e instanceof Error ? e.name : String(e));
  if (errors.length === names.length && new Set(errors.map(nameOf)).size === 1) {
    return [errorRow('EKS add-ons', 'eks:DescribeAddonVersions', errors[0])];
  }
  return names.map((name, i) => {
    const check = `add-on ${name}`;
    const result = results[i];
    if (result === undefined || result.status === 'rejected') {
      return errorRow(check, 'eks:DescribeAddonVersions', result?.reason);
    }
    const pinned = row[name];
    const offer = offeredVersions(result.value, name, k8s);
    const list = `aws eks describe-addon-versions --addon-name ${name} --kubernetes-version ${k8s} --region ${inputs.region}`;
    if (offer.versions.length === 0) {
      return fail(
        check,
        `EKS offers no ${name} version for Kubernetes ${k8s} in ${inputs.region}; the pinned ${pinned} cannot be installed`,
        `check with ${list}; if EKS has none, pick a Kubernetes version it supports in eks.version, or drop the add-on from EKS_ADDON_VERSIONS['${k8s}'] in lib/k8s/versions.ts`,
      );
    }
    const others = describeOffer(offer, pinned);
    if (offer.versions.includes(pinned)) {
      return pass(
        check,
        `${pinned} is offered for Kubernetes ${k8s}${others === '' ? '' : ` (${others})`}`,
      );
    }
    const suggested = offer.defaultVersion ?? offer.versions[0];
    const why = offer.defaultVersion !== undefined ? 'EKS default' : 'newest offered';
    return fail(
      check,
      `${pinned} is not offered for Kubernetes ${k8s} in ${inputs.region}; EKS offers ${offer.versions.length} version${offer.versions.length === 1 ? '' : 's'}: ${others}`,
      `set EKS_ADDON_VERSIONS['${k8s}']['${name}'] in lib/k8s/versions.ts to ${suggested} (the ${why} for ${k8s}; ${list} lists every offered version)`,
    );
  });
}
