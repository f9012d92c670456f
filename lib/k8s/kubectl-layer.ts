/**
 * kubectl must be within one minor version of the cluster, so each supported Kubernetes version
 * maps to the kubectl/helm layer built for it. Adding a version: install
 * `@aws-cdk/lambda-layer-kubectl-v<NN>`, add it here and to SUPPORTED_EKS_VERSIONS in lib/config.ts.
 */
import { KubectlV35Layer } from '@aws-cdk/lambda-layer-kubectl-v35';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';

const LAYERS: Record<string, (scope: Construct, id: string) => ILayerVersion> = {
  '1.35': (scope, id) => new KubectlV35Layer(scope, id),
};

export function kubectlLayer(
  scope: Construct,
  id: string,
  kubernetesVersion: string,
): ILayerVersion {
  const make = LAYERS[kubernetesVersion];
  if (!make) {
    throw new Error(
      `no kubectl layer for Kubernetes ${kubernetesVersion}; supported: ${Object.keys(LAYERS).join(', ')}`,
    );
  }
  return make(scope, id);
}
