/**
 * Synthesizes a stage for the infra tests the way bin/axon.ts does (same stacks, cdk.json's
 * feature flags), with two differences for speed: bundling is skipped
 * (`aws:cdk:bundling-stacks: []`) and CDK's built-in CloudFormation validation is off.
 * test/infra/synth.test.ts runs the real app with both.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type AxonStacks, createAxonStacks } from '../../lib/axon-app.ts';
import { loadStageConfig, parseStageConfig, type StageConfig } from '../../lib/config.ts';
import { REPO_ROOT, repoPath } from '../../lib/paths.ts';

export const CDK_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(repoPath('cdk.json'), 'utf8'),
).context;

/** A fixed account, so templates do not depend on the machine's credentials. */
export const TEST_ACCOUNT = '111111111111';

export interface Synthesized {
  readonly app: App;
  readonly stacks: AxonStacks;
  readonly config: StageConfig;
  readonly templates: Record<keyof AxonStacks, Template>;
}

/** Loads a stage file from config/stages and pins the account. */
export function stageConfig(stage: string): StageConfig {
  const config = loadStageConfig(stage, REPO_ROOT);
  return { ...config, env: { ...config.env, account: config.env.account ?? TEST_ACCOUNT } };
}

/** A valid stage document (dev's) with `patch` merged into its sections, for config tests. */
export function devDocument(patch: Record<string, unknown> = {}): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(repoPath('config', 'stages', 'dev.json'), 'utf8'));
  for (const [section, value] of Object.entries(patch)) {
    const current = doc[section];
    doc[section] =
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      current &&
      typeof current === 'object'
        ? { ...current, ...value }
        : value;
  }
  return doc;
}

export function parseDev(patch: Record<string, unknown> = {}): StageConfig {
  const config = parseStageConfig(devDocument(patch), {
    source: 'test',
    runtimeDefaultsFile: repoPath('config', 'axon.json'),
  });
  return { ...config, env: { ...config.env, account: config.env.account ?? TEST_ACCOUNT } };
}

/**
 * Unit synth does not bundle, so the gateway entry and the image build context only have to
 * exist: fixtures keep these tests independent of the runtime code's progress.
 */
export const FIXTURES = {
  gatewayEntry: 'test/infra/fixtures/gateway/handler.ts',
  sessionManagerImageDirectory: repoPath('test', 'infra', 'fixtures', 'session-manager'),
  gatewayEdgeImageDirectory: repoPath('test', 'infra', 'fixtures', 'gateway-edge'),
};

export function synth(config: StageConfig): Synthesized {
  const app = new App({
    context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  const stacks = createAxonStacks(app, config, FIXTURES);
  const templates = {
    network: Template.fromStack(stacks.network),
    data: Template.fromStack(stacks.data),
    inference: Template.fromStack(stacks.inference),
    gateway: Template.fromStack(stacks.gateway),
  };
  return { app, stacks, config, templates };
}

/**
 * A template with asset hashes (64 hex characters) and asset paths replaced by placeholders, so
 * a snapshot changes when the infrastructure changes, not when Lambda code or the image does.
 */
export function normalised(template: Template): unknown {
  const text = JSON.stringify(template.toJSON())
    .replace(/[0-9a-f]{64}/g, '<asset-hash>')
    .replace(/asset\.<asset-hash>(\.zip)?/g, 'asset.<asset-hash>');
  return JSON.parse(text);
}

/** Every resource of a type as [logicalId, properties]. */
export function resources(template: Template, type: string): [string, Record<string, unknown>][] {
  return Object.entries(template.findResources(type)).map(([id, r]) => [
    id,
    (r as { Properties?: Record<string, unknown> }).Properties ?? {},
  ]);
}

/** Parsed template or manifest JSON; assertions walk it freely. */
// biome-ignore lint/suspicious/noExplicitAny: untyped JSON that tests navigate by path
export type Json = Record<string, any>;
export type K8sObject = Json;

/** Stands in for a CloudFormation intrinsic inside a manifest string. */
export const TOKEN = '<token>';

/**
 * The Kubernetes objects a `Custom::AWSCDK-EKS-KubernetesResource` applies, parsed back from the
 * template (intrinsics inside strings become `<token>`).
 */
export function manifests(template: Template, logicalIdPrefix: string): K8sObject[] {
  const found = resources(template, 'Custom::AWSCDK-EKS-KubernetesResource').find(([id]) =>
    id.startsWith(logicalIdPrefix),
  );
  if (!found) throw new Error(`no Kubernetes manifest resource starting with ${logicalIdPrefix}`);
  const value = found[1].Manifest as string | { 'Fn::Join': [string, unknown[]] };
  const text =
    typeof value === 'string'
      ? value
      : value['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : TOKEN)).join('');
  return JSON.parse(text);
}

/** The first object of `kind` in a manifest list. */
export function ofKind(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.find((o) => o.kind === kind);
  if (!found) throw new Error(`no ${kind} among ${objects.map((o) => o.kind).join(', ')}`);
  return found;
}
