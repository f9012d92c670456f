/**
 * The gateway Lambda (lambda/gateway/handler.ts): authorizer + token bucket + forward + settle in
 * one function behind the public ALB. It runs in private subnets with a security group that may
 * reach only Redis, the session manager's internal ALB and HTTPS (AWS APIs), and it may only read
 * the key table and two secrets.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type AxonConfig, parseConfig } from '#shared/config';
import type { ApiKeysTable } from './api-keys-table.ts';
import { AxonFunction } from './axon-function.ts';
import type { RedisReplicationGroup } from './redis-replication-group.ts';

export interface GatewayFunctionProps {
  readonly vpc: ec2.IVpc;
  /** The SPEC section 7 document: plans, rate limiter, auth. */
  readonly runtimeConfig: AxonConfig;
  readonly apiKeys: ApiKeysTable;
  readonly redis: RedisReplicationGroup;
  /** The session manager's internal ALB. */
  readonly upstream: ec2.IConnectable;
  readonly upstreamUrl: string;
  readonly upstreamSecret: secretsmanager.ISecret;
  readonly upstreamTimeoutMs: number;
  /** @default 1024 */
  readonly memoryMiB?: number;
  /** @default lambda/gateway/handler.ts */
  readonly entry?: string;
}

/** Metric namespace and service dimension of the gateway's EMF metrics (alarms watch them). */
export const GATEWAY_METRICS = { namespace: 'Axon', service: 'gateway' } as const;

export class GatewayFunction extends Construct implements ec2.IConnectable {
  readonly function: AxonFunction;
  readonly connections: ec2.Connections;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);
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

    this.function = new AxonFunction(this, 'Function', {
      entry: props.entry ?? 'lambda/gateway/handler.ts',
      description: 'Axon gateway: API key auth, token bucket, forward to the session manager',
      vpc: props.vpc,
      securityGroup,
      memoryMiB: props.memoryMiB ?? 1024,
      // The upstream call may take upstreamTimeoutMs; leave room to answer 504 before Lambda dies.
      timeout: Duration.millis(Math.min(900_000, props.upstreamTimeoutMs + 5_000)),
      environment: {
        AXON_CONFIG: JSON.stringify(runtime),
        AXON_KEYS_TABLE: props.apiKeys.tableName,
        AXON_REDIS_ENDPOINT: props.redis.endpoint,
        AXON_REDIS_TLS: '1',
        AXON_REDIS_CLUSTER: props.redis.clusterMode ? '1' : '0',
        AXON_REDIS_AUTH_SECRET_ARN: props.redis.authToken.secretArn,
        AXON_UPSTREAM_URL: props.upstreamUrl,
        AXON_UPSTREAM_SECRET_ARN: props.upstreamSecret.secretArn,
        AXON_UPSTREAM_TIMEOUT_MS: String(props.upstreamTimeoutMs),
        POWERTOOLS_SERVICE_NAME: GATEWAY_METRICS.service,
        POWERTOOLS_METRICS_NAMESPACE: GATEWAY_METRICS.namespace,
      },
    });
    this.connections = this.function.connections;

    props.apiKeys.grantRead(this.function);
    props.redis.grantReadAuthToken(this.function);
    props.upstreamSecret.grantRead(this.function);
    // Both rules are created in this stack, so the data and inference stacks need not know us.
    props.redis.allowFrom(this.function, 'Gateway Lambda to Redis');
    this.function.connections.allowTo(
      props.upstream,
      ec2.Port.tcp(80),
      'Gateway Lambda to the session manager ALB',
    );

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to Node.js 22, the runtime the gateway is built, benchmarked and tested for (ARCHITECTURE.md); moving to a newer runtime is a deliberate, tested upgrade.',
    });
  }
}
