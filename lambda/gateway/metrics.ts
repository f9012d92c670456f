/**
 * What the gateway counts. The alarms of GatewayStack watch these names, so they are an
 * interface shared with lib/ through `#shared/names` (`GATEWAY_METRICS`).
 */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { GatewayMetric } from '#shared/names';

export type { GatewayMetric } from '#shared/names';

export interface GatewayMetrics {
  count(metric: GatewayMetric, dimensions?: Record<string, string>): void;
  /** Milliseconds a rate-limit decision took, Redis round trip included. */
  decisionLatency(ms: number): void;
}

/** CloudWatch EMF through Powertools; `publishStoredMetrics` flushes once per invocation. */
export function powertoolsMetrics(metrics: Metrics): GatewayMetrics {
  return {
    count(metric, dimensions) {
      metrics.addMetric(metric, MetricUnit.Count, 1);
      if (dimensions) {
        // A per-code breakdown beside the total the alarm watches.
        const single = metrics.singleMetric();
        single.addDimensions(dimensions);
        single.addMetric(`${metric}ByCode`, MetricUnit.Count, 1);
      }
    },
    decisionLatency(ms) {
      metrics.addMetric('RateLimitLatency', MetricUnit.Milliseconds, ms);
    },
  };
}

/** Decision latencies kept per flush by `AggregatedMetrics`: one EMF line's worth. */
export const LATENCY_SAMPLES = 100;

/**
 * For a long-running process (the container edge): counts add up in memory and leave as one
 * datapoint per metric (and per code) at each `flush`, instead of one Powertools call per count
 * per request, which a CPU profile of the edge at 500 requests/s put at ~9 µs each (Powertools
 * also reads the environment on every call). The alarms and the dashboard read these counters'
 * Sum, which aggregation keeps exact. Decision latencies keep a uniform sample of at most
 * `LATENCY_SAMPLES` per flush (reservoir sampling), enough for the percentiles they are read for.
 */
export class AggregatedMetrics implements GatewayMetrics {
  private readonly counts = new Map<
    string,
    { metric: GatewayMetric; dimensions: Record<string, string> | undefined; n: number }
  >();
  private latencies: number[] = [];
  private latencyCount = 0;

  constructor(private readonly metrics: Metrics) {}

  count(metric: GatewayMetric, dimensions?: Record<string, string>): void {
    this.add(metric, metric, undefined);
    if (dimensions) {
      const key = `${metric}|${Object.entries(dimensions)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`;
      this.add(key, metric, dimensions);
    }
  }

  decisionLatency(ms: number): void {
    this.latencyCount++;
    if (this.latencies.length < LATENCY_SAMPLES) {
      this.latencies.push(ms);
      return;
    }
    const slot = Math.floor(Math.random() * this.latencyCount);
    if (slot < LATENCY_SAMPLES) this.latencies[slot] = ms;
  }

  /** Publishes what was counted since the last flush (nothing when nothing was). */
  flush(): void {
    for (const { metric, dimensions, n } of this.counts.values()) {
      if (!dimensions) {
        this.metrics.addMetric(metric, MetricUnit.Count, n);
        continue;
      }
      const single = this.metrics.singleMetric();
      single.addDimensions(dimensions);
      single.addMetric(`${metric}ByCode`, MetricUnit.Count, n);
    }
    for (const ms of this.latencies) {
      this.metrics.addMetric('RateLimitLatency', MetricUnit.Milliseconds, ms);
    }
    this.counts.clear();
    this.latencies = [];
    this.latencyCount = 0;
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }

  private add(
    key: string,
    metric: GatewayMetric,
    dimensions: Record<string, string> | undefined,
  ): void {
    const entry = this.counts.get(key);
    if (entry) entry.n++;
    else this.counts.set(key, { metric, dimensions, n: 1 });
  }
}

/** Keeps counts in memory: the local stack's `/metrics`-free runs and tests read them. */
export class CountingMetrics implements GatewayMetrics {
  readonly counts = new Map<string, number>();
  readonly latencies: number[] = [];

  count(metric: GatewayMetric, dimensions?: Record<string, string>): void {
    const key = dimensions
      ? `${metric}{${Object.entries(dimensions)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}}`
      : metric;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (dimensions) this.counts.set(metric, (this.counts.get(metric) ?? 0) + 1);
  }

  decisionLatency(ms: number): void {
    this.latencies.push(ms);
  }
}
