#!/usr/bin/env node
/**
 * The CDK app: one stage per synth (`cdk synth -c stage=prod`, default `dev`), its four stacks,
 * and cdk-nag's AWS Solutions checks over all of them (a finding fails the synth).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createAxonStacks } from '../lib/axon-app.ts';
import { loadStageConfig, StageConfigError } from '../lib/config.ts';
import { REPO_ROOT } from '../lib/paths.ts';

const app = new App();
const stage = String(app.node.tryGetContext('stage') ?? 'dev');
try {
  createAxonStacks(app, loadStageConfig(stage, REPO_ROOT));
} catch (err) {
  if (!(err instanceof StageConfigError)) throw err;
  console.error(`Invalid stage config: ${err.message}`);
  process.exit(1);
}
// The acknowledgements are also written into the templates (cdk_nag metadata) as an audit trail.
Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }),
);
