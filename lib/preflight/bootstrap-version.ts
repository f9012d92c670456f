/**
 * The CDK bootstrap version this app needs, read from what the installed aws-cdk-lib actually
 * emits rather than from a number copied into the repo: a probe stack with the app's synthesizer
 * (the default one, qualifier `hnb659fds`, as bin/axon.ts uses) is synthesized into a temporary
 * directory, and the cloud assembly manifest says which version each artifact requires. With
 * aws-cdk-lib 2.276 that is 6 to deploy stacks and publish assets (the same number the templates'
 * `CheckBootstrapVersion` rule enforces) and 8 for the lookup role that `cdk diff` uses.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnWaitConditionHandle, cx_api, Stack } from 'aws-cdk-lib';

export interface BootstrapRequirement {
  /** Needed to deploy stacks and publish their assets (CloudFormation enforces it too). */
  readonly deploy: number;
  /** Needed for the lookup role, which `cdk diff` and deploys use to read existing templates. */
  readonly lookup: number;
  /** The SSM parameter the bootstrap stack writes its version to. */
  readonly parameterName: string;
  readonly cdkLibVersion: string;
}

function cdkLibVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve('aws-cdk-lib/package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Synthesizes the probe (takes a few seconds: it loads aws-cdk-lib) and reads its manifest. */
export function requiredBootstrapVersion(): BootstrapRequirement {
  const outdir = mkdtempSync(join(tmpdir(), 'axon-preflight-'));
  try {
    const app = new App({ outdir });
    const stack = new Stack(app, 'BootstrapProbe');
    // A stack needs one resource to be a valid template; this one costs nothing and does nothing.
    new CfnWaitConditionHandle(stack, 'Placeholder');
    const assembly = app.synth();
    let deploy = 0;
    let lookup = 0;
    let parameterName: string | undefined;
    for (const artifact of assembly.artifacts) {
      if (artifact instanceof cx_api.CloudFormationStackArtifact) {
        deploy = Math.max(deploy, artifact.requiresBootstrapStackVersion ?? 0);
        lookup = Math.max(lookup, artifact.lookupRole?.requiresBootstrapStackVersion ?? 0);
        parameterName ??= artifact.bootstrapStackVersionSsmParameter;
      } else if (artifact instanceof cx_api.AssetManifestArtifact) {
        deploy = Math.max(deploy, artifact.requiresBootstrapStackVersion ?? 0);
      }
    }
    if (deploy === 0 || parameterName === undefined) {
      throw new Error(
        'the probe stack names no bootstrap version; has aws-cdk-lib changed its synthesizer?',
      );
    }
    return {
      deploy,
      lookup: Math.max(deploy, lookup),
      parameterName,
      cdkLibVersion: cdkLibVersion(),
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
