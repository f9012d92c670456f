import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AggregatedMetrics, LATENCY_SAMPLES } from '#gateway/metrics';

interface EmfLine {
  _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [field: string]: unknown;
}

/** What a real Powertools `Metrics` prints (POWERTOOLS_DEV sends it through `console.log`). */
function capture() {
  const lines: EmfLine[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((text: unknown) => {
    lines.push(JSON.parse(String(text)) as EmfLine);
  });
  return { lines, spy };
}

const names = (line: EmfLine) =>
  line._aws.CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name));

describe('AggregatedMetrics (the container edge)', () => {
  let out: ReturnType<typeof capture>;
  let metrics: AggregatedMetrics;
  beforeEach(() => {
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    out = capture();
    metrics = new AggregatedMetrics(new Metrics({ namespace: 'Axon', serviceName: 'gateway' }));
  });
  afterEach(() => {
    out.spy.mockRestore();
    vi.unstubAllEnvs();
  });

  it('publishes nothing until it is flushed, then each counter once with its sum', () => {
    for (let i = 0; i < 5; i++) metrics.count('Admitted');
    metrics.count('Denied', { code: 'requests' });
    metrics.count('Denied', { code: 'requests' });
    metrics.count('Denied', { code: 'tokens' });
    expect(out.lines).toEqual([]);

    metrics.flush();
    const totals = out.lines.find((l) => names(l).includes('Admitted'));
    expect(totals).toMatchObject({ Admitted: 5, Denied: 3, service: 'gateway' });
    const byCode = out.lines.filter((l) => names(l).includes('DeniedByCode'));
    expect(byCode.map((l) => [l.code, l.DeniedByCode]).sort()).toEqual([
      ['requests', 2],
      ['tokens', 1],
    ]);
  });

  it('starts from zero after a flush, and a flush with nothing counted prints nothing', () => {
    metrics.count('Admitted');
    metrics.flush();
    out.lines.length = 0;
    metrics.flush();
    expect(out.lines).toEqual([]);
    metrics.count('Admitted');
    metrics.flush();
    expect(out.lines.find((l) => names(l).includes('Admitted'))).toMatchObject({ Admitted: 1 });
  });

  it('keeps a bounded sample of decision latencies, drawn from what was measured', () => {
    const measured = Array.from({ length: 10 * LATENCY_SAMPLES }, (_, i) => i + 0.5);
    for (const ms of measured) metrics.decisionLatency(ms);
    metrics.flush();
    const values = out.lines.flatMap((l) => {
      const v = l.RateLimitLatency;
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    }) as number[];
    expect(values).toHaveLength(LATENCY_SAMPLES);
    for (const v of values) expect(measured).toContain(v);
    // Sampled across the whole interval, not just the first values measured.
    expect(Math.max(...values)).toBeGreaterThan(LATENCY_SAMPLES);
  });
});
