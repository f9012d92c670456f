/**
 * What an on-call engineer gets on every stage: one dashboard whose rows follow a request layer
 * by layer, each charting the metrics named here, and alarms in every stack that has something
 * to watch, each notifying the stage's alarm topic with thresholds from the stage config.
 */
import { readdirSync } from 'node:fs';
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_LAYERS, type DashboardLayer } from '../../lib/constructs/stage-dashboard.ts';
import { repoPath } from '../../lib/paths.ts';
import { type Json, parseDev, stageConfig, synth } from './support.ts';

const STAGES = readdirSync(repoPath('config', 'stages'))
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.replace(/\.json$/, ''));
const synthesized = Object.fromEntries(STAGES.map((stage) => [stage, synth(stageConfig(stage))]));

/** The dashboard body with every token replaced by "TOKEN", parsed. */
function dashboardWidgets(template: Template): Json[] {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as [Json];
  const body = dashboard.Properties.DashboardBody;
  const text =
    typeof body === 'string'
      ? body
      : (body['Fn::Join'][1] as unknown[])
          .map((part) => (typeof part === 'string' ? part : 'TOKEN'))
          .join('');
  return JSON.parse(text).widgets;
}

/** `namespace/metricName` of every metric a graph charts. */
function chartedMetrics(widget: Json): string[] {
  return (widget.properties.metrics ?? [])
    .filter((m: unknown[]) => typeof m[0] === 'string')
    .map((m: string[]) => `${m[0]}/${m[1]}`);
}

const EXPECTED: Record<DashboardLayer, string[]> = {
  ALB: [
    'AWS/ApplicationELB/RequestCount',
    'AWS/ApplicationELB/HTTPCode_ELB_5XX_Count',
    'AWS/ApplicationELB/HTTPCode_Target_5XX_Count',
    'AWS/ApplicationELB/TargetResponseTime',
  ],
  Gateway: [
    'AWS/Lambda/Invocations',
    'AWS/Lambda/Errors',
    'AWS/Lambda/Throttles',
    'AWS/Lambda/Duration',
    'Axon/Admitted',
    'Axon/Denied',
    'Axon/Degraded',
    'Axon/RedisErrors',
    'Axon/UpstreamErrors',
  ],
  ApiKeys: [
    'AWS/DynamoDB/ConsumedReadCapacityUnits',
    'AWS/DynamoDB/SuccessfulRequestLatency',
    'AWS/DynamoDB/ReadThrottleEvents',
  ],
  Redis: [
    'AWS/ElastiCache/EngineCPUUtilization',
    'AWS/ElastiCache/DatabaseMemoryUsagePercentage',
    'AWS/ElastiCache/CurrConnections',
    'AWS/ElastiCache/Evictions',
    'AWS/ElastiCache/ReplicationLag',
  ],
  'Session manager': [
    'AWS/ApplicationELB/RequestCount',
    'AWS/ApplicationELB/HTTPCode_Target_5XX_Count',
    'AWS/ApplicationELB/HealthyHostCount',
    'AWS/ApplicationELB/UnHealthyHostCount',
    'ContainerInsights/pod_cpu_utilization',
    'ContainerInsights/pod_number_of_container_restarts',
  ],
  Triton: [
    'ContainerInsights/pod_status_running',
    'ContainerInsights/pod_status_pending',
    'ContainerInsights/pod_cpu_utilization',
  ],
  GPU: ['ContainerInsights/node_gpu_utilization', 'ContainerInsights/node_gpu_memory_utilization'],
};

/** With the container edge the Gateway row charts its pods' target group instead of a Lambda. */
const CONTAINER_EDGE_GATEWAY = [
  'AWS/ApplicationELB/HealthyHostCount',
  'AWS/ApplicationELB/HTTPCode_Target_5XX_Count',
  'AWS/ApplicationELB/TargetResponseTime',
  ...EXPECTED.Gateway.filter((name) => name.startsWith('Axon/')),
];

describe.each(STAGES)('stage %s: the dashboard', (stage) => {
  const { templates, config, stacks } = synthesized[stage] as ReturnType<typeof synth>;
  const widgets = dashboardWidgets(templates.gateway);
  const headers = widgets
    .filter((w) => w.type === 'text')
    .map((w) => /^### (.+)\n/.exec(w.properties.markdown)?.[1]);

  it('is named after the stage and lives in the Gateway stack', () => {
    templates.gateway.hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: `Axon-${config.stage}`,
    });
    for (const other of [templates.data, templates.inference, templates.network]) {
      other.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    }
  });

  it('has one row per layer, in the order a request travels', () => {
    expect(headers).toEqual([...DASHBOARD_LAYERS]);
  });

  it.each(DASHBOARD_LAYERS)('charts the %s layer with its named metrics', (layer) => {
    const graphs = widgets.filter((w) => w.properties.title?.startsWith(`${layer}: `));
    expect(graphs.length).toBeGreaterThan(0);
    const charted = graphs.flatMap(chartedMetrics);
    const expected =
      layer === 'Gateway' && config.gateway.edge === 'container'
        ? CONTAINER_EDGE_GATEWAY
        : EXPECTED[layer];
    expect(charted).toEqual(expect.arrayContaining(expected));
  });

  it('draws one line per Redis node of both caches', () => {
    const cpu = widgets.find((w) => w.properties.title === 'Redis: EngineCPUUtilization');
    expect(cpu?.properties.metrics).toHaveLength(
      stacks.data.redis.memberClusterIds.length + stacks.data.limiterRedis.memberClusterIds.length,
    );
  });

  it('points the Triton row at the Prometheus workspace with the queue-time query', () => {
    const triton = widgets.find((w) => w.properties.markdown?.startsWith('### Triton'));
    expect(triton?.properties.markdown).toContain('console.aws.amazon.com/prometheus');
    expect(triton?.properties.markdown).toContain('nv_inference_queue_duration_us');
  });
});

/** Alarms of a template with their actions and threshold, by logical id. */
function alarmsOf(template: Template): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([id, r]) => [
      id,
      (r as Json).Properties,
    ]),
  );
}

describe.each(STAGES)('stage %s: alarms', (stage) => {
  const { templates, config } = synthesized[stage] as ReturnType<typeof synth>;
  const topic = Object.keys(templates.network.findResources('AWS::SNS::Topic'))[0] as string;

  it.each([
    ['data', 10],
    ['inference', 6],
    ['gateway', 6],
  ] as const)(
    'the %s stack has at least %d alarms, each notifying the topic when it fires and clears',
    (part, atLeast) => {
      const alarms = Object.values(alarmsOf(templates[part]));
      expect(alarms.length).toBeGreaterThanOrEqual(atLeast);
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toHaveLength(1);
        expect(alarm.OKActions).toEqual(alarm.AlarmActions);
        expect(JSON.stringify(alarm.AlarmActions)).toContain(topic);
      }
    },
  );

  it('the network stack has one ErrorPortAllocation and one PacketsDropCount alarm per NAT gateway, each notifying the topic when it fires and clears', () => {
    const alarms = Object.values(alarmsOf(templates.network));
    const nats = Object.keys(templates.network.findResources('AWS::EC2::NatGateway'));
    expect(nats).toHaveLength(config.network.natGateways);
    for (const metric of ['ErrorPortAllocation', 'PacketsDropCount']) {
      const watched = alarms
        .filter((a) => a.Namespace === 'AWS/NATGateway' && a.MetricName === metric)
        .map((a) => a.Dimensions[0].Value.Ref);
      expect(watched, metric).toEqual(nats);
    }
    expect(alarms).toHaveLength(2 * nats.length);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topic }]);
      expect(alarm.OKActions).toEqual([{ Ref: topic }]);
    }
  });

  it('the inference stack pages on Triton through Prometheus rules, to the same topic', () => {
    const [workspace] = Object.values(templates.inference.findResources('AWS::APS::Workspace')) as [
      Json,
    ];
    expect(JSON.stringify(workspace.Properties.AlertManagerDefinition)).toContain(topic);
    templates.inference.resourceCountIs('AWS::APS::RuleGroupsNamespace', 1);
  });
});

describe('alarm thresholds come from the stage config', () => {
  const custom = synth(
    parseDev({
      alarms: {
        internalAlbUnhealthyHosts: 4,
        sessionManager5xxPercent: 12,
        podRestartsPerFiveMinutes: 7,
        gpuUtilizationPercent: 88,
        gpuHighMinutes: 45,
        tritonPendingMinutes: 33,
        tritonQueueMs: 750,
        tritonFailuresPerFiveMinutes: 9,
        fiveXxPerFiveMinutes: 17,
        natPortAllocationErrorsPerFiveMinutes: 2,
        natPacketsDroppedPerFiveMinutes: 500,
      },
    }),
  ).templates;
  const alarms = Object.entries(alarmsOf(custom.inference));
  const byPrefix = (prefix: string) => alarms.find(([id]) => id.startsWith(prefix))?.[1] as Json;

  it.each([
    ['AlarmsInternalAlbUnhealthyHosts', 4, 3],
    ['AlarmsInternalAlb5xx', 17, 1],
    ['AlarmsSessionManager5xxRate', 12, 1],
    ['AlarmsSessionManagerRestarts', 7, 1],
    ['AlarmsGpuUtilizationPinned', 88, 9],
    ['AlarmsTritonPodsPending', 1, 33],
  ])('%s at %d over %d period(s)', (prefix, threshold, periods) => {
    expect(byPrefix(prefix)).toMatchObject({ Threshold: threshold, EvaluationPeriods: periods });
  });

  it('and the Prometheus rules too', () => {
    const [rules] = Object.values(
      custom.inference.findResources('AWS::APS::RuleGroupsNamespace'),
    ) as [Json];
    expect(rules.Properties.Data).toContain('> 750');
    expect(rules.Properties.Data).toContain('>= 9');
  });

  it('and the NAT gateway alarms of the network stack', () => {
    const network = Object.values(alarmsOf(custom.network));
    const on = (metric: string) => network.filter((a) => a.MetricName === metric);
    expect(on('ErrorPortAllocation').map((a) => a.Threshold)).toEqual([2]);
    expect(on('PacketsDropCount').map((a) => a.Threshold)).toEqual([500]);
  });
});
