/**
 * DataAlarms alone: five alarms per Redis node on that node's CacheClusterId, four on the
 * ApiKeys table, each to the topic, with the documented thresholds and their validation.
 */
import { Match } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { DataAlarms, type DataAlarmsProps } from '../../../lib/constructs/data-alarms.ts';
import { bareStack, template } from './support.ts';

const ALARM = 'AWS::CloudWatch::Alarm';

function build(overrides: Partial<DataAlarmsProps> = {}) {
  const { stack } = bareStack();
  const topic = new sns.Topic(stack, 'Topic');
  const apiKeys = dynamodb.Table.fromTableName(stack, 'Keys', 'ApiKeys');
  new DataAlarms(stack, 'Alarms', {
    topic,
    apiKeys,
    redisNodes: ['axon-001', 'axon-002'],
    ...overrides,
  });
  return template(stack);
}

type Alarm = { Properties: Record<string, unknown> & { Threshold: number } };

function alarmsOn(t: ReturnType<typeof build>, metricName: string): Alarm[] {
  return Object.values(
    t.findResources(ALARM, { Properties: { MetricName: metricName } }),
  ) as Alarm[];
}

describe('DataAlarms on the limiter cache', () => {
  const t = build({ limiterRedisNodes: ['limiter-001'] });

  it('watches every metric of each limiter node too, named as the limiter in the description', () => {
    for (const metric of [
      'EngineCPUUtilization',
      'DatabaseMemoryUsagePercentage',
      'Evictions',
      'ReplicationLag',
      'CurrConnections',
    ]) {
      const alarms = alarmsOn(t, metric);
      expect(
        alarms.map((a) => a.Properties.Dimensions),
        metric,
      ).toEqual([
        [{ Name: 'CacheClusterId', Value: 'axon-001' }],
        [{ Name: 'CacheClusterId', Value: 'axon-002' }],
        [{ Name: 'CacheClusterId', Value: 'limiter-001' }],
      ]);
      expect(alarms[2]?.Properties.AlarmDescription).toMatch(/^Limiter Redis node limiter-001:/);
    }
  });
});

describe('DataAlarms defaults', () => {
  const t = build();

  it.each([
    ['EngineCPUUtilization', 'Average', 80],
    ['DatabaseMemoryUsagePercentage', 'Maximum', 80],
    ['Evictions', 'Sum', 1],
    ['ReplicationLag', 'Maximum', 10],
    ['CurrConnections', 'Maximum', 5000],
  ])('alarms on %s (%s) of every Redis node at %d', (metric, statistic, threshold) => {
    const alarms = alarmsOn(t, metric);
    expect(alarms.map((a) => a.Properties.Dimensions)).toEqual([
      [{ Name: 'CacheClusterId', Value: 'axon-001' }],
      [{ Name: 'CacheClusterId', Value: 'axon-002' }],
    ]);
    for (const a of alarms) {
      expect(a.Properties).toMatchObject({
        Namespace: 'AWS/ElastiCache',
        Statistic: statistic,
        Period: 300,
        Threshold: threshold,
      });
    }
  });

  it('names the node in each Redis alarm description', () => {
    expect(alarmsOn(t, 'Evictions').map((a) => a.Properties.AlarmDescription)).toEqual([
      expect.stringMatching(/^Redis node axon-001: /),
      expect.stringMatching(/^Redis node axon-002: /),
    ]);
  });

  it('does not breach on a missing replication lag (the primary publishes none)', () => {
    for (const a of alarmsOn(t, 'ReplicationLag'))
      expect(a.Properties.TreatMissingData).toBe('notBreaching');
  });

  it('alarms on the first read or write throttle of the ApiKeys table', () => {
    for (const metric of ['ReadThrottleEvents', 'WriteThrottleEvents']) {
      expect(
        alarmsOn(t, metric).map((a) => [a.Properties.Dimensions, a.Properties.Threshold]),
      ).toEqual([[[{ Name: 'TableName', Value: 'ApiKeys' }], 1]]);
    }
  });

  it('alarms on throttled requests and system errors summed over the operations the app uses', () => {
    for (const [metric, id] of [
      ['ThrottledRequests', 'ApiKeysThrottledRequests'],
      ['SystemErrors', 'ApiKeysSystemErrors'],
    ] as const) {
      const [alarm] = Object.entries(t.findResources(ALARM))
        .filter(([logicalId]) => logicalId.startsWith(`Alarms${id}`))
        .map(
          ([, a]) =>
            a as {
              Properties: {
                Metrics: {
                  Id: string;
                  MetricStat?: {
                    Metric: { MetricName: string; Dimensions: { Name: string; Value: string }[] };
                  };
                }[];
                Threshold: number;
              };
            },
        );
      const operations = (alarm?.Properties.Metrics ?? [])
        .filter((m) => m.MetricStat?.Metric.MetricName === metric)
        .map((m) => m.MetricStat?.Metric.Dimensions.find((d) => d.Name === 'Operation')?.Value);
      expect(operations.sort()).toEqual(['GetItem', 'PutItem', 'Query', 'Scan', 'UpdateItem']);
      expect(alarm?.Properties.Threshold).toBe(1);
    }
  });

  it('sends every alarm to the topic when it fires and when it clears', () => {
    const all = Object.values(t.findResources(ALARM)) as Alarm[];
    expect(all).toHaveLength(2 * 5 + 4);
    for (const a of all) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
      expect(a.Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
    }
  });
});

describe('DataAlarms props', () => {
  it('applies each threshold', () => {
    const t = build({
      redisEngineCpuPercent: 60,
      redisMemoryPercent: 70,
      redisEvictionsPerFiveMinutes: 5,
      redisReplicationLagSeconds: 30,
      redisConnections: 900,
      dynamoThrottlesPerFiveMinutes: 3,
      dynamoSystemErrorsPerFiveMinutes: 4,
    });
    const threshold = (metric: string) => alarmsOn(t, metric)[0]?.Properties.Threshold;
    expect(
      [
        'EngineCPUUtilization',
        'DatabaseMemoryUsagePercentage',
        'Evictions',
        'ReplicationLag',
        'CurrConnections',
        'ReadThrottleEvents',
      ].map(threshold),
    ).toEqual([60, 70, 5, 30, 900, 3]);
    t.hasResourceProperties(ALARM, {
      AlarmDescription: Match.stringLikeRegexp('^ApiKeys table: DynamoDB answered 500s'),
      Threshold: 4,
    });
  });

  it('watches a cluster-mode group node by node', () => {
    const t = build({ redisNodes: ['axon-0001-001', 'axon-0001-002', 'axon-0002-001'] });
    expect(alarmsOn(t, 'CurrConnections')).toHaveLength(3);
  });
});

describe('DataAlarms validation', () => {
  it('refuses a percentage over 100', () => {
    expect(() => build({ redisMemoryPercent: 120 })).toThrow(
      /redisMemoryPercent must be a whole number from 1 to 100, got 120/,
    );
  });

  it('refuses a threshold below 1', () => {
    expect(() => build({ redisConnections: 0 })).toThrow(/redisConnections .* got 0/);
  });

  it('refuses more nodes than it can watch one by one', () => {
    const nodes = Array.from({ length: 41 }, (_, i) => `axon-${i}`);
    expect(() => build({ redisNodes: nodes })).toThrow(/1 to 40 Redis nodes one by one, got 41/);
  });

  it('counts the limiter cache nodes against the same ceiling', () => {
    const nodes = Array.from({ length: 38 }, (_, i) => `axon-${i}`);
    expect(() =>
      build({ redisNodes: nodes, limiterRedisNodes: ['l-001', 'l-002', 'l-003'] }),
    ).toThrow(/got 38 \(sessions\) \+ 3 \(limiter\)/);
  });

  it('refuses no node at all', () => {
    expect(() => build({ redisNodes: [] })).toThrow(/got 0/);
  });
});
