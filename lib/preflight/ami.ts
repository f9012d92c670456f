/**
 * The GPU nodes' AMI alias (GPU_AMI_ALIAS, e.g. `al2023@v20260818`) must name a release of the
 * EKS-optimized AL2023 NVIDIA AMI for the cluster's Kubernetes version. Karpenter resolves the
 * alias only when it launches the first GPU node, so a release that does not exist surfaces as an
 * EC2NodeClass that never becomes ready and a Triton pod that stays Pending, long after the
 * stack itself reported success.
 *
 * How the alias resolves, and so what is checked here: Karpenter (aws/karpenter-provider-aws,
 * pkg/providers/amifamily/al2023.go, `AL2023.resolvePath`) reads the public SSM parameter
 *   /aws/service/eks/optimized-ami/<k8s>/amazon-linux-2023/<arch>/<variant>/<name>/image_id
 * where <name> is `recommended` for `al2023@latest` and otherwise
 *   amazon-eks-node-al2023-<arch>-<variant>-<k8s>-<version>   (version with its "v", e.g. v20260818)
 * for each of x86_64 standard/nvidia/neuron and arm64 standard/nvidia, keeping whichever exist.
 * The Amazon EKS user guide ("Retrieve recommended Amazon Linux AMI IDs") documents the same
 * tree: /aws/service/eks/optimized-ami/<kubernetes-version>/amazon-linux-2023/x86_64/nvidia/
 * recommended/image_id for the latest approved AL2023 NVIDIA x86 AMI, read with
 * ssm:GetParameter. The release names match the AMI names awslabs/amazon-eks-ami's CHANGELOG lists
 * per release (e.g. amazon-eks-node-al2023-x86_64-nvidia-1.35-v20260714, release version
 * 1.35.6-20260714), and `recommended/release_version` holds that release version for the newest
 * recommended AMI.
 *
 * Karpenter keeps whichever variants exist, so a release with a standard AMI but no NVIDIA one
 * would still "resolve" and boot GPU nodes without the NVIDIA driver; the check therefore asks for
 * the NVIDIA variant itself, on x86_64 because the GPU NodePool only allows amd64
 * (lib/k8s/karpenter.ts).
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { PreflightInputs } from './inputs.ts';
import { errorRow, fail, pass, type Row, warn } from './report.ts';

const CHECK = 'GPU AMI';
const ARCH = 'x86_64';
const VARIANT = 'nvidia';
const RELEASES = 'https://github.com/awslabs/amazon-eks-ami/releases';

/** The SSM tree of one Kubernetes version's AL2023 AMIs of one architecture and variant. */
export function al2023ParameterPrefix(kubernetesVersion: string): string {
  return `/aws/service/eks/optimized-ami/${kubernetesVersion}/amazon-linux-2023/${ARCH}/${VARIANT}`;
}

/** The AMI name of one release, as the CHANGELOG and the SSM parameter name spell it. */
export function al2023AmiName(kubernetesVersion: string, version: string): string {
  return `amazon-eks-node-al2023-${ARCH}-${VARIANT}-${kubernetesVersion}-${version}`;
}

/** The image_id parameter of one release, as Karpenter reads it for `al2023@<version>`. */
export function al2023ReleaseParameter(kubernetesVersion: string, version: string): string {
  return `${al2023ParameterPrefix(kubernetesVersion)}/${al2023AmiName(kubernetesVersion, version)}/image_id`;
}

/** `1.35.6-20260714` (a release_version) -> `al2023@v20260714`. */
export function aliasOfReleaseVersion(releaseVersion: string): string | undefined {
  const date = /-(\d{8})$/.exec(releaseVersion)?.[1];
  return date === undefined ? undefined : `al2023@v${date}`;
}

/** The newest recommended release, from `recommended/release_version`; undefined if unreadable. */
async function recommendedRelease(
  ssm: Pick<SSMClient, 'send'>,
  kubernetesVersion: string,
): Promise<{ releaseVersion: string; alias: string } | undefined> {
  try {
    const { Parameter } = await ssm.send(
      new GetParameterCommand({
        Name: `${al2023ParameterPrefix(kubernetesVersion)}/recommended/release_version`,
      }),
    );
    const releaseVersion = Parameter?.Value;
    const alias = releaseVersion === undefined ? undefined : aliasOfReleaseVersion(releaseVersion);
    return releaseVersion === undefined || alias === undefined
      ? undefined
      : { releaseVersion, alias };
  } catch {
    return undefined;
  }
}

/**
 * SSM GetParameter (`ssm:GetParameter`) on the release's NVIDIA image_id parameter in the stage's
 * region. On ParameterNotFound the fix names the current recommended release, read from
 * `recommended/release_version` (a second GetParameter), so the operator can pin that one.
 */
export async function checkGpuAmi(
  ssm: Pick<SSMClient, 'send'>,
  inputs: PreflightInputs,
  alias: string,
): Promise<Row> {
  const k8s = inputs.kubernetesVersion;
  const match = /^al2023@(v\d{8}|latest)$/.exec(alias);
  if (match === null) {
    return warn(
      CHECK,
      `GPU_AMI_ALIAS ${alias} is not an al2023@vYYYYMMDD alias, so the preflight cannot look its release up`,
      `pin an EKS-optimized AL2023 release, e.g. al2023@vYYYYMMDD from ${RELEASES}`,
    );
  }
  const version = match[1] ?? '';
  if (version === 'latest') {
    const recommended = await recommendedRelease(ssm, k8s);
    return warn(
      CHECK,
      `GPU_AMI_ALIAS is ${alias}: every new AMI release rolls every GPU node (and reloads every model)`,
      `pin GPU_AMI_ALIAS in lib/k8s/versions.ts to ${recommended?.alias ?? 'al2023@vYYYYMMDD'}${recommended === undefined ? ` (${RELEASES})` : ` (the recommended release ${recommended.releaseVersion} for ${k8s})`}`,
    );
  }
  const name = al2023ReleaseParameter(k8s, version);
  let imageId: string | undefined;
  try {
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: name }));
    imageId = Parameter?.Value;
  } catch (err) {
    if (!(err instanceof Error && err.name === 'ParameterNotFound')) {
      return errorRow(CHECK, 'ssm:GetParameter', err);
    }
    const recommended = await recommendedRelease(ssm, k8s);
    const target =
      recommended === undefined
        ? `a release from ${RELEASES} that lists ${al2023AmiName(k8s, 'vYYYYMMDD')}`
        : `'${recommended.alias}' (the recommended AL2023 NVIDIA release for Kubernetes ${k8s} in ${inputs.region}, release version ${recommended.releaseVersion})`;
    return fail(
      CHECK,
      `${alias} has no EKS-optimized AL2023 NVIDIA ${ARCH} AMI for Kubernetes ${k8s} in ${inputs.region}: SSM has no ${name}, so Karpenter cannot launch GPU nodes`,
      `set GPU_AMI_ALIAS in lib/k8s/versions.ts to ${target}`,
    );
  }
  if (imageId === undefined || !imageId.startsWith('ami-')) {
    return fail(
      CHECK,
      `${name} holds ${JSON.stringify(imageId)}, not an AMI id`,
      `check with aws ssm get-parameter --name ${name} --region ${inputs.region}`,
    );
  }
  return pass(CHECK, `${alias}: ${al2023AmiName(k8s, version)} is ${imageId} in ${inputs.region}`);
}
