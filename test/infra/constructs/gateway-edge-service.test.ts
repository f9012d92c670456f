/**
 * GatewayEdgeService alone, on a bare Stack with its own cluster: the documented defaults reach
 * the pods and the target group, and each validation names the bad value.
 */
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { ApiKeysTable } from '../../../lib/constructs/api-keys-table.ts';
import {
  GatewayEdgeService,
  type GatewayEdgeServiceProps,
} from '../../../lib/constructs/gateway-edge-service.ts';
import { InferenceCluster } from '../../../lib/constructs/inference-cluster.ts';
import { RedisReplicationGroup } from '../../../lib/constructs/redis-replication-group.ts';
import { FIXTURES, manifests, ofKind, parseDev, resources } from '../support.ts';
import { bareStack, template, unacknowledged } from './support.ts';

function setup() {
  const bare = bareStack();
  const { stack, vpc } = bare;
  const eks = new InferenceCluster(stack, 'Eks', {
    vpc,
    clusterName: 'axon-test',
    version: '1.35',
    systemInstanceTypes: ['m7i.large'],
  });
  const props: GatewayEdgeServiceProps = {
    vpc,
    cluster: eks.cluster,
    namespace: eks.namespace,
    podConnections: eks.podConnections,
    runtimeConfig: parseDev().runtime,
    apiKeys: new ApiKeysTable(stack, 'Keys'),
    redis: new RedisReplicationGroup(stack, 'Redis', {
      vpc,
      engineVersion: '7.1',
      nodeType: 'cache.t4g.small',
      replicasPerShard: 1,
    }),
    upstreamSecret: new secretsmanager.Secret(stack, 'Upstream'),
    imageDirectory: FIXTURES.gatewayEdgeImageDirectory,
  };
  return { ...bare, props };
}

describe('GatewayEdgeService defaults', () => {
  const { app, stack, props } = setup();
  const edge = new GatewayEdgeService(stack, 'Edge', props);
  const t = template(stack);
  const objects = manifests(t, 'EdgeWorkload');
  const container = ofKind(objects, 'Deployment').spec.template.spec.containers[0];
  const env = Object.fromEntries(
    (container.env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
  );

  it('runs 2 to 6 pods of 500m and 512 MiB, scaled at 70 % CPU', () => {
    expect(ofKind(objects, 'HorizontalPodAutoscaler').spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 6,
      metrics: [{ resource: { target: { averageUtilization: 70 } } }],
    });
    expect(container.resources.requests).toEqual({ cpu: '500m', memory: '512Mi' });
  });

  it('caps bodies at 1 MiB, waits 60 s for the session manager, drains streams for 60 s', () => {
    expect(env).toMatchObject({
      AXON_MAX_BODY_BYTES: '1048576',
      AXON_UPSTREAM_TIMEOUT_MS: '60000',
      AXON_SHUTDOWN_GRACE_MS: '60000',
    });
    expect(edge.drainSeconds).toBe(70);
    expect(ofKind(objects, 'Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(75);
  });

  it('owns an IP target group on the pods port with the /healthz check', () => {
    const [[, tg] = []] = resources(t, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(tg).toMatchObject({ TargetType: 'ip', Port: 8080, HealthCheckPath: '/healthz' });
  });

  it('leaves no cdk-nag finding unacknowledged', () => {
    expect(unacknowledged(app, edge)).toEqual([]);
  });
});

describe('GatewayEdgeService validation', () => {
  const { stack, props } = setup();
  let n = 0;
  const build = (overrides: Partial<GatewayEdgeServiceProps>) => () =>
    new GatewayEdgeService(stack, `Edge${n++}`, { ...props, ...overrides });

  it('refuses fewer max than min replicas', () => {
    expect(build({ minReplicas: 4, maxReplicas: 2 })).toThrow(
      /needs minReplicas <= maxReplicas, got 4 > 2/,
    );
  });

  it('refuses a shutdown grace under 5 s', () => {
    expect(build({ shutdownGraceSeconds: 2 })).toThrow(
      /shutdownGraceSeconds must be a whole number from 5 to 3600, got 2/,
    );
  });

  it('refuses a body cap under 1 KiB', () => {
    expect(build({ maxBodyBytes: 10 })).toThrow(
      /maxBodyBytes must be a whole number from 1024 to 104857600, got 10/,
    );
  });

  it('refuses a fractional CPU request', () => {
    expect(build({ cpuMillicores: 250.5 })).toThrow(/cpuMillicores must be a whole number/);
  });
});
