/**
 * A Node.js 22 arm64 Lambda bundled locally by esbuild (a devDependency, so no Docker) as one
 * ES module, with the options of lib/bundling.ts (shared with the local stack).
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ESM_REQUIRE_BANNER, LAMBDA_BUNDLE } from '../bundling.ts';
import { repoPath } from '../paths.ts';

export interface AxonFunctionProps {
  /** Entry file, relative to the repository root, e.g. `lambda/gateway/handler.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly environment?: Record<string, string>;
  /** @default 512 */
  readonly memoryMiB?: number;
  /** @default 30 seconds */
  readonly timeout?: Duration;
}

export class AxonFunction extends nodejs.NodejsFunction {
  constructor(scope: Construct, id: string, props: AxonFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
    });
    super(scope, id, {
      entry: repoPath(props.entry),
      handler: 'handler',
      projectRoot: repoPath(),
      depsLockFilePath: repoPath('package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMiB ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [props.securityGroup],
      logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      // lib/bundling.ts holds the options, so the local stack runs the bundle CDK ships.
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: LAMBDA_BUNDLE.target,
        mainFields: [...LAMBDA_BUNDLE.mainFields],
        minify: LAMBDA_BUNDLE.minify,
        sourceMap: LAMBDA_BUNDLE.sourceMap,
        sourcesContent: false,
        banner: ESM_REQUIRE_BANNER,
        externalModules: [...LAMBDA_BUNDLE.externalModules],
        esbuildArgs: Object.fromEntries(
          Object.entries(LAMBDA_BUNDLE.alias).map(([from, to]) => [`--alias:${from}`, to]),
        ),
      },
    });
    for (const [policy, why] of [
      ['AWSLambdaBasicExecutionRole', 'writes the function logs to CloudWatch Logs'],
      [
        'AWSLambdaVPCAccessExecutionRole',
        'creates and deletes the network interfaces a VPC function needs',
      ],
    ]) {
      Validations.of(this).acknowledge({
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        reason: `${policy} only ${why}; it is the AWS-documented minimum for a VPC Lambda and holds no data-plane permission.`,
      });
    }
  }
}
