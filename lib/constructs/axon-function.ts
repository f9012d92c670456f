/**
 * A Node.js 22 arm64 Lambda bundled locally by esbuild (a devDependency, so no Docker) as one
 * ES module, with the options of lib/bundling.ts (shared with the local stack), in the VPC's
 * private subnets, with its own log group. It composes a `NodejsFunction` instead of extending
 * it, so its surface is what Axon's functions need (environment, role policy, connections) and
 * the cdk-nag acknowledgements every such function needs live here, once.
 */
import { existsSync } from 'node:fs';
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ESM_REQUIRE_BANNER, LAMBDA_BUNDLE } from '../bundling.ts';
import { acknowledge } from '../nag.ts';
import { repoPath } from '../paths.ts';
import type { EnvironmentGrantee } from './bindable.ts';

export interface AxonFunctionProps {
  /** Entry file, relative to the repository root, e.g. `lambda/gateway/handler.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly vpc: ec2.IVpc;
  /** The function's only security group; callers open egress on it as they need. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** @default - only `NODE_OPTIONS=--enable-source-maps` */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default 512 */
  readonly memoryMiB?: number;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** Lambda accepts 128 MiB to 10,240 MiB. */
const MEMORY_MIB = { min: 128, max: 10_240 };
/** Lambda's hard limit on one invocation. */
const MAX_TIMEOUT = Duration.minutes(15);

export class AxonFunction extends Construct implements ec2.IConnectable, EnvironmentGrantee {
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly connections: ec2.Connections;
  readonly grantPrincipal: iam.IPrincipal;
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: AxonFunctionProps) {
    super(scope, id);
    const memoryMiB = props.memoryMiB ?? 512;
    this.timeout = props.timeout ?? Duration.seconds(30);
    validate(props, memoryMiB, this.timeout);

    // The log group sits beside this construct, not under it, because that is where the deployed
    // stacks have it: moving it would change its logical ID, and CloudFormation would start a new
    // group and orphan the old one with the function's log history.
    this.logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    // `Default` keeps the function's construct path, and so every logical ID under it (role,
    // policy, function), what it was when this class extended NodejsFunction.
    this.function = new nodejs.NodejsFunction(this, 'Default', {
      entry: repoPath(props.entry),
      handler: 'handler',
      projectRoot: repoPath(),
      depsLockFilePath: repoPath('package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: memoryMiB,
      timeout: this.timeout,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [props.securityGroup],
      logGroup: this.logGroup,
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
    this.connections = this.function.connections;
    this.grantPrincipal = this.function.grantPrincipal;

    for (const [policy, why] of [
      ['AWSLambdaBasicExecutionRole', 'writes the function logs to CloudWatch Logs'],
      [
        'AWSLambdaVPCAccessExecutionRole',
        'creates and deletes the network interfaces a VPC function needs',
      ],
    ]) {
      acknowledge(
        this.function,
        `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        `${policy} only ${why}; it is the AWS-documented minimum for a VPC Lambda and holds no data-plane permission.`,
      );
    }
    acknowledge(
      this.function,
      'AwsSolutions-L1',
      'Pinned to Node.js 22, the runtime the code in lambda/ is bundled for (lib/bundling.ts targets node22), benchmarked and tested on; moving to a newer runtime is a deliberate, tested upgrade.',
    );
  }

  /** Sets one environment variable (bind methods of other constructs call this). */
  addEnvironment(name: string, value: string): void {
    this.function.addEnvironment(name, value);
  }

  /** Adds a statement to the function's execution role. */
  addToRolePolicy(statement: iam.PolicyStatement): void {
    this.function.addToRolePolicy(statement);
  }
}

function validate(props: AxonFunctionProps, memoryMiB: number, timeout: Duration): void {
  if (!existsSync(repoPath(props.entry))) {
    throw new Error(
      `AxonFunction entry ${props.entry} does not exist: give a path relative to the repository root, e.g. lambda/gateway/handler.ts`,
    );
  }
  if (!Number.isInteger(memoryMiB) || memoryMiB < MEMORY_MIB.min || memoryMiB > MEMORY_MIB.max) {
    throw new Error(
      `AxonFunction memoryMiB must be a whole number from ${MEMORY_MIB.min} to ${MEMORY_MIB.max}, got ${memoryMiB}`,
    );
  }
  const ms = timeout.toMilliseconds({ integral: false });
  if (ms < 1_000 || ms > MAX_TIMEOUT.toMilliseconds()) {
    throw new Error(
      `AxonFunction timeout must be from 1 second to 15 minutes, got ${timeout.toHumanString()}`,
    );
  }
}
