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
