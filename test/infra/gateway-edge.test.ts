/**
 * The two edges side by side: dev (the Lambda) and dev-container (gateway pods behind the same
 * public ALB). For the container edge: its Kubernetes objects, the listener's target, Pod
 * Identity and grants, the network rules, the alarms, and that no reference runs from the
 * Inference stack back to the Gateway stack. For the Lambda edge: none of it appears.
 */

import { describe, expect, it } from 'vitest';
import { KEY_RECORD_ATTRIBUTES } from '#shared/names';
import { GATEWAY_EDGE } from '../../lib/k8s/gateway-edge.ts';
import {
  type Json,
  type K8sObject,
  manifests,
  ofKind,
  resources,
  stageConfig,
  synth,
  TOKEN,
} from './support.ts';

const lambdaEdge = synth(stageConfig('dev'));
const containerEdge = synth(stageConfig('dev-container'));
const g = containerEdge.templates.gateway;
const LISTENER = 'AWS::ElasticLoadBalancingV2::Listener';
const TARGET_GROUP = 'AWS::ElasticLoadBalancingV2::TargetGroup';
const ALB = 'AWS::ElasticLoadBalancingV2::LoadBalancer';
const ALARM = 'AWS::CloudWatch::Alarm';

const workload = manifests(g, 'EdgeWorkload');
const deployment = ofKind(workload, 'Deployment');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const env = Object.fromEntries(
  (container.env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
);

function edgeTargetGroup(): [string, Json] {
  const found = resources(g, TARGET_GROUP).find(([id]) => id.startsWith('EdgeTargets'));
  if (!found) throw new Error('no edge target group');
  return found;
}

function policyNames(objects: K8sObject[]): string[] {
  return objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name);
}

function idleTimeout(template = g): string | undefined {
  const [[, alb] = ['', {}]] = resources(template, ALB);
  const attributes = (alb.LoadBalancerAttributes ?? []) as { Key: string; Value: string }[];
  return attributes.find((a) => a.Key === 'idle_timeout.timeout_seconds')?.Value;
}

describe('container edge: Kubernetes objects', () => {
  const { container: c } = containerEdge.config.gateway;

  it('leaves the replica count to the HPA, which scales on CPU between the stage bounds', () => {
    expect(deployment.spec.replicas).toBeUndefined();
    expect(ofKind(workload, 'HorizontalPodAutoscaler').spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: GATEWAY_EDGE.name },
      minReplicas: c.minReplicas,
      maxReplicas: c.maxReplicas,
      metrics: [{ resource: { name: 'cpu' } }],
    });
    expect(ofKind(workload, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
    expect(ofKind(workload, 'Service').spec.ports).toEqual([
      expect.objectContaining({ port: GATEWAY_EDGE.port, targetPort: GATEWAY_EDGE.port }),
    ]);
  });

  it('runs on the system nodes with the stage requests, non-root and read-only', () => {
    expect(pod.nodeSelector).toEqual({ 'axon.ai/pool': 'system' });
    expect(container.resources.requests).toEqual({
      cpu: `${c.cpuMillicores}m`,
      memory: `${c.memoryMiB}Mi`,
    });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
    });
  });

  it('probes /healthz, waits for the ALB to deregister, then gives streams their grace', () => {
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/healthz', port: 8080 });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 8080 });
    const preStop = container.lifecycle.preStop.sleep.seconds;
    expect(preStop).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + c.shutdownGraceSeconds);
    // Liveness must not restart a draining pod (its /healthz answers 503) before it is killed.
    const live = container.livenessProbe;
    expect(live.periodSeconds * live.failureThreshold).toBeGreaterThan(
      pod.terminationGracePeriodSeconds,
    );
  });

  it('reads the gateway Lambda variables plus PORT, the body cap and the shutdown grace', () => {
    expect(Object.keys(env).sort()).toEqual(
      [
        'AWS_REGION',
        'AXON_CONFIG',
        'AXON_KEYS_TABLE',
        'AXON_MAX_BODY_BYTES',
        'AXON_REDIS_AUTH_SECRET_ARN',
        'AXON_REDIS_CLUSTER',
        'AXON_REDIS_ENDPOINT',
        'AXON_REDIS_TLS',
        'AXON_REDIS_USERNAME',
        'AXON_SHUTDOWN_GRACE_MS',
        'AXON_UPSTREAM_SECRET_ARN',
        'AXON_UPSTREAM_TIMEOUT_MS',
        'AXON_UPSTREAM_URL',
        'AXON_USAGE_TABLE',
        'PORT',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
      ].sort(),
    );
    expect(env).toMatchObject({
      PORT: '8080',
      AXON_MAX_BODY_BYTES: String(c.maxBodyBytes),
      AXON_SHUTDOWN_GRACE_MS: String(c.shutdownGraceSeconds * 1000),
      AXON_UPSTREAM_TIMEOUT_MS: '60000',
      // Straight to the session manager's Service: no internal ALB hop for the pods.
      AXON_UPSTREAM_URL: 'http://session-manager.axon.svc.cluster.local:8080',
      AXON_REDIS_TLS: '1',
    });
    expect(JSON.parse(env.AXON_CONFIG as string)).toMatchObject({ plans: expect.any(Object) });
  });

  it('binds its pods to the public target group through the Service', () => {
    const binding = ofKind(manifests(g, 'EdgeTargetGroupBinding'), 'TargetGroupBinding');
    expect(binding.spec).toEqual({
      serviceRef: { name: GATEWAY_EDGE.name, port: GATEWAY_EDGE.port },
      targetGroupARN: TOKEN,
      targetType: 'ip',
    });
    const [id] = edgeTargetGroup();
    const raw = JSON.stringify(
      resources(g, 'Custom::AWSCDK-EKS-KubernetesResource').find(([rid]) =>
        rid.startsWith('EdgeTargetGroupBinding'),
      ),
    );
    expect(raw).toContain(`{"Ref":"${id}"}`);
  });
});

describe('container edge: public ALB', () => {
  it('forwards every request to the pods target group, not to a Lambda', () => {
    const [id, tg] = edgeTargetGroup();
    expect(tg).toMatchObject({
      TargetType: 'ip',
      Port: 8080,
      Protocol: 'HTTP',
      HealthCheckPath: '/healthz',
    });
    const listeners = resources(g, LISTENER).map(([, l]) => l);
    expect(listeners.map((l) => l.DefaultActions)).toEqual([
      [{ Type: 'forward', TargetGroupArn: { Ref: id } }],
    ]);
    expect(resources(g, TARGET_GROUP).map(([, t]) => t.TargetType)).toEqual(['ip']);
  });

  it('holds a draining pod in the target group for its preStop wait plus the shutdown grace', () => {
    const [, tg] = edgeTargetGroup();
    const delay = (tg.TargetGroupAttributes as { Key: string; Value: string }[]).find(
      (a) => a.Key === 'deregistration_delay.timeout_seconds',
    );
    expect(delay?.Value).toBe(
      String(10 + containerEdge.config.gateway.container.shutdownGraceSeconds),
    );
  });

  it('keeps idle connections longer than the upstream deadline, as with the Lambda', () => {
    expect(idleTimeout()).toBe('70');
    expect(idleTimeout(lambdaEdge.templates.gateway)).toBe('70');
  });

  it('opens the pods port to the ALB security group only, from the Gateway stack', () => {
    const ingress = resources(g, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, r]) => r.FromPort === 8080,
    );
    expect(ingress).toHaveLength(1);
    expect(JSON.stringify(ingress[0]?.[1].SourceSecurityGroupId)).toMatch(/PublicAlbSecurityGroup/);
    expect(JSON.stringify(ingress[0]?.[1].GroupId)).toMatch(
      /Fn::ImportValue.*ClusterSecurityGroup/,
    );
  });

  it('creates no gateway Lambda', () => {
    const functions = resources(g, 'AWS::Lambda::Function').map(([id]) => id);
    expect(functions.filter((id) => id.startsWith('Gateway'))).toEqual([]);
    expect(
      resources(lambdaEdge.templates.gateway, 'AWS::Lambda::Function').map(([id]) => id),
    ).toContainEqual(expect.stringMatching(/^GatewayFunction/));
  });
});

describe('container edge: identity and grants', () => {
  it('gives the edge service account a Pod Identity role', () => {
    const [[, association] = []] = resources(g, 'AWS::EKS::PodIdentityAssociation');
    expect(association).toMatchObject({ Namespace: 'axon', ServiceAccount: GATEWAY_EDGE.name });
    expect(JSON.stringify(association?.RoleArn)).toMatch(/EdgeServiceAccountRole/);
    expect(deployment.spec.template.spec.serviceAccountName).toBe(GATEWAY_EDGE.name);
  });

  it('lets that role read and write key records (never delete one), the upstream secret and the Redis token', () => {
    const policies = resources(g, 'AWS::IAM::Policy').filter(([id]) =>
      id.startsWith('EdgeServiceAccountRole'),
    );
    expect(policies).toHaveLength(1);
    const document = policies[0]?.[1].PolicyDocument as Json;
    const statements = document.Statement as Json[];
    const text = JSON.stringify(statements);
    expect(statements.flatMap((s) => [s.Action].flat())).toEqual(
      expect.arrayContaining([
        'dynamodb:GetItem',
        'dynamodb:Query',
        'secretsmanager:GetSecretValue',
      ]),
    );
    expect(text).not.toMatch(/dynamodb:DeleteItem/);
    // Its writes (the admin API, the last-used stamp): key records' own attributes only.
    const writes = statements.filter((s) => JSON.stringify(s.Action).includes('Item"'));
    expect(writes.filter((s) => /PutItem|UpdateItem/.test(JSON.stringify(s.Action)))).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Condition: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...KEY_RECORD_ATTRIBUTES] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'ALL_NEW'] },
        },
      }),
    ]);
    expect(text).toMatch(/index\/byKeyId/);
    expect(text).toMatch(/GatewaySecret/);
    expect(text).toMatch(/AuthToken/);
  });
});

describe('container edge: network policies', () => {
  const edgePolicies = ['public-alb-to-gateway-edge', 'gateway-edge-to-session-manager'];

  it('admits the public subnets to the edge pods and the edge pods to the session manager', () => {
    const objects = manifests(
      containerEdge.templates.inference,
      'EksClustermanifestNetworkPolicies',
    );
    expect(policyNames(objects)).toEqual(expect.arrayContaining(edgePolicies));
    const fromAlb = objects.find((o) => o.metadata.name === 'public-alb-to-gateway-edge');
    expect(fromAlb?.spec.podSelector.matchLabels).toEqual({
      'app.kubernetes.io/name': GATEWAY_EDGE.name,
    });
    expect(fromAlb?.spec.ingress[0].from).toHaveLength(2);
    expect(fromAlb?.spec.ingress[0].ports).toEqual([{ protocol: 'TCP', port: 8080 }]);
    const toSessionManager = objects.find(
      (o) => o.metadata.name === 'gateway-edge-to-session-manager',
    );
    expect(toSessionManager?.spec.ingress[0].from).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': GATEWAY_EDGE.name } } },
    ]);
  });

  it('has no edge rules when the stage runs the Lambda edge', () => {
    const objects = manifests(lambdaEdge.templates.inference, 'EksClustermanifestNetworkPolicies');
    expect(policyNames(objects)).not.toEqual(expect.arrayContaining([edgePolicies[0]]));
    expect(policyNames(objects)).not.toContain(edgePolicies[1]);
  });
});

describe('container edge: alarms', () => {
  /** The gateway's alarms: the usage exporter's (a Lambda's Errors) is on either edge. */
  const names = (template = g) =>
    resources(template, ALARM)
      .filter(([id]) => !id.startsWith('UsageExporter'))
      .map(([, a]) => a.MetricName as string | undefined);

  it('watches the target group (healthy pods, p99 response start) instead of Lambda errors', () => {
    expect(names()).toEqual(expect.arrayContaining(['HealthyHostCount', 'TargetResponseTime']));
    expect(names()).not.toContain('Errors');
    expect(names(lambdaEdge.templates.gateway)).toContain('Errors');
    expect(names(lambdaEdge.templates.gateway)).not.toContain('HealthyHostCount');
  });

  it('pages when no pod is healthy, counting a missing metric as none', () => {
    const [[, alarm] = []] = resources(g, ALARM).filter(
      ([, a]) => a.MetricName === 'HealthyHostCount',
    );
    expect(alarm).toMatchObject({
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
    });
  });
});

describe('container edge: stack references', () => {
  it('has the Gateway stack depend on the Inference stack and never the reverse', () => {
    const { inference, gateway } = containerEdge.stacks;
    expect(gateway.dependencies).toContain(inference);
    expect(inference.dependencies).not.toContain(gateway);
    const imports = JSON.stringify(containerEdge.templates.inference.toJSON()).match(
      /"Fn::ImportValue":"[^"]*"/g,
    );
    expect((imports ?? []).filter((i) => i.includes('Gateway'))).toEqual([]);
  });
});
