/**
 * The gateway Lambda (lambda/gateway/handler.ts): authorizer + token bucket + forward + settle in
 * one function behind the public ALB. It runs in private subnets with a security group that may
 * reach only Redis, the session manager's internal ALB and HTTPS (AWS APIs), and it may read and
 * write key records (the authorizer, and the admin API for admin keys) and read two secrets.
 */
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type AxonConfig, parseConfig } from '#shared/config';
import { ENV, GATEWAY_METRICS } from '#shared/names';
import type { ApiKeysTable } from './api-keys-table.ts';
import { AxonFunction } from './axon-function.ts';
import type { RedisReplicationGroup } from './redis-replication-group.ts';
import { bindUsageReader } from './usage-reader.ts';
import type { UsageTable } from './usage-table.ts';

export interface GatewayFunctionProps {
  readonly vpc: ec2.IVpc;
  /** The runtime config document (plans, rate limiter, auth), passed as `AXON_CONFIG`. */
  readonly runtimeConfig: AxonConfig;
  readonly apiKeys: ApiKeysTable;
  /**
   * The Usage table, read by the admin API's usage and costs routes.
   * @default - none: those routes answer 503 usage_unavailable
   */
  readonly usage?: UsageTable;
  /** The limiter's cache: the token buckets live there. */
  readonly redis: RedisReplicationGroup;
  /** The session manager's internal ALB. */
  readonly upstream: ec2.IConnectable;
  readonly upstreamUrl: string;
  readonly upstreamSecret: secretsmanager.ISecret;
  /** How long the gateway waits for the session manager, 1,000 to 840,000 ms. @default 60000 */
  readonly upstreamTimeoutMs?: number;
  /** @default 1024 */
  readonly memoryMiB?: number;
  /**
   * Concurrent executions reserved for the function, which also caps it: a flood cannot take
   * the account's whole Lambda concurrency, nor open more Redis connections than this many.
   * @default - none reserved: the function shares the account's unreserved pool (a new
   * account's quota can be too low to reserve any)
   */
  readonly reservedConcurrency?: number;
  /** Entry file, relative to the repository root. @default 'lambda/gateway/handler.ts' */
  readonly entry?: string;
}

/** Longest upstream wait: the function's timeout (wait + 5 s) must stay under Lambda's 15 min. */
const MAX_UPSTREAM_TIMEOUT_MS = 840_000;

export class GatewayFunction extends Construct implements ec2.IConnectable {
  /** The Lambda function itself (the ALB's target, the alarms' subject). */
  readonly function: nodejs.NodejsFunction;
  readonly connections: ec2.Connections;
  /** How long one invocation may run; the ALB's idle timeout must outlast it. */
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);
    const upstreamTimeoutMs = props.upstreamTimeoutMs ?? 60_000;
    if (
      !Number.isInteger(upstreamTimeoutMs) ||
      upstreamTimeoutMs < 1_000 ||
      upstreamTimeoutMs > MAX_UPSTREAM_TIMEOUT_MS
    ) {
      throw new Error(
        `gateway upstreamTimeoutMs must be a whole number from 1000 to ${MAX_UPSTREAM_TIMEOUT_MS}, got ${upstreamTimeoutMs}`,
      );
    }
    const reserved = props.reservedConcurrency;
    if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1)) {
      throw new Error(
        `gateway reservedConcurrency must be a whole number from 1 up (or unset), got ${reserved}`,
      );
    }
    // Fails synth, with the field named, when the stage's runtime section is wrong.
    const runtime = parseConfig(
      JSON.parse(JSON.stringify(props.runtimeConfig)),
      'gateway AXON_CONFIG',
    );

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Gateway Lambda: Redis, the session manager ALB and HTTPS to AWS APIs only',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'Secrets Manager, DynamoDB, CloudWatch',
    );

    // The upstream call may take upstreamTimeoutMs; leave room to answer 504 before Lambda dies.
    this.timeout = Duration.seconds(Math.ceil(upstreamTimeoutMs / 1000) + 5);
    const fn = new AxonFunction(this, 'Function', {
      entry: props.entry ?? 'lambda/gateway/handler.ts',
      description: 'Axon gateway: API key auth, token bucket, forward to the session manager',
      vpc: props.vpc,
      securityGroup,
      memoryMiB: props.memoryMiB ?? 1024,
      timeout: this.timeout,
      environment: {
        [ENV.config]: JSON.stringify(runtime),
        [ENV.upstreamUrl]: props.upstreamUrl,
        [ENV.upstreamSecretArn]: props.upstreamSecret.secretArn,
        [ENV.upstreamTimeoutMs]: String(upstreamTimeoutMs),
        [ENV.serviceName]: GATEWAY_METRICS.service,
        [ENV.metricsNamespace]: GATEWAY_METRICS.namespace,
      },
    });
    this.function = fn.function;
    this.connections = fn.connections;
    if (reserved !== undefined) {
      // Set on the L1 resource: AxonFunction shares its props with functions that never reserve.
      (fn.function.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = reserved;
    }

    props.apiKeys.bindGateway(fn);
    if (props.usage) bindUsageReader(props.usage, fn);
    // Both network rules are created in this stack, so the data and inference stacks need not
    // know the gateway.
    props.redis.bind(fn, 'Gateway Lambda to Redis');
    props.upstreamSecret.grantRead(fn);
    fn.connections.allowTo(
      props.upstream,
      ec2.Port.tcp(80),
      'Gateway Lambda to the session manager ALB',
    );
  }
}
