/**
 * A bare `Stack` for construct tests: each construct is built alone with only the props under
 * test, so its defaults and its own validation are what the test sees (the stage config cannot
 * fill a gap or reject a value first). Bundling is skipped, as in the stack tests.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { CDK_CONTEXT, TEST_ACCOUNT } from '../support.ts';

export interface Bare {
  readonly app: App;
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
}

/** An app with one stack and a VPC with public, private and isolated subnets. */
export function bareStack(): Bare {
  const app = new App({
    context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  const stack = new Stack(app, 'Test', { env: { account: TEST_ACCOUNT, region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
  return { app, stack, vpc };
}

export function template(stack: Stack): Template {
  return Template.fromStack(stack);
}

/** cdk-nag AwsSolutions findings (rule and construct path) that nobody acknowledged under `scope`. */
export function unacknowledged(app: App, scope: IConstruct): string[] {
  return new AwsSolutionsChecks(app)
    .validateScope(app)
    .violations.flatMap((v) =>
      v.violatingResources
        .filter((r) => (r.constructPath ?? '').startsWith(scope.node.path))
        .map((r) => `${v.ruleName} at ${r.constructPath}`),
    );
}
