/**
 * Scale to zero, rehearsed: a workload whose ScaledObject allows 0 replicas must come back on
 * the first request and go again once idle. KEDA and Prometheus cannot run here, so their
 * documented semantics are simulated on the stage's own values: the scrape interval of the
 * managed scraper, the trigger's query window and activation threshold, KEDA's pollingInterval
 * and cooldownPeriod, Karpenter's consolidateAfter. The metric the trigger reads must be one the
 * scraped workload really exports (the session manager's own metric registry is asked).
 */
import { createMetrics } from '../../../services/session-manager/src/plugins/metrics.ts';
import type { ClusterModel, K8sObject } from './cluster.ts';
import type { Rule } from './rules.ts';
import { placementProblem, workloads } from './workloads.ts';

/** Metric names each scrape job's workload exports, read from the workload's own code. */
const EXPORTED: Readonly<Record<string, () => readonly string[]>> = {
  'session-manager': () =>
    createMetrics()
      .registry.getMetricsAsArray()
      .map((m) => m.name),
};

/** A counter's increase over a window, read by KEDA's prometheus trigger. */
interface DemandTrigger {
  readonly metric: string;
  readonly job: string;
  readonly windowSeconds: number;
  readonly activationThreshold: number;
  readonly ignoreNullValues: boolean;
}

const DEMAND_QUERY = /increase\(([a-zA-Z_:][a-zA-Z0-9_:]*)\{job="([^"]+)"\}\[(\d+)([sm])\]\)/;

function demandTrigger(trigger: K8sObject): DemandTrigger | undefined {
  if (trigger.type !== 'prometheus') return undefined;
  const match = DEMAND_QUERY.exec(trigger.metadata?.query ?? '');
  if (!match) return undefined;
  const [, metric = '', job = '', amount = '0', unit] = match;
  return {
    metric,
    job,
    windowSeconds: Number(amount) * (unit === 'm' ? 60 : 1),
    activationThreshold: Number(trigger.metadata?.activationThreshold ?? 0),
    ignoreNullValues: trigger.metadata?.ignoreNullValues === 'true',
  };
}

export interface IdleTimeline {
  /** Seconds from the first request until KEDA sets 1 replica; undefined: never. */
  readonly wakeSeconds?: number;
  /** Seconds from that request (the only one) until KEDA sets 0 replicas; undefined: never. */
  readonly zeroSeconds?: number;
}

/**
 * One request at `requestAt` into an idle system. The counter is exported at 0 before it (the
 * session manager starts every served model's series at 0), scraped every `scrapeSeconds`;
 * KEDA polls every `pollSeconds`, activates above the threshold, and returns to 0 once the
 * trigger has been inactive for `cooldownSeconds`. A query without two samples in its window is
 * null: 0 with ignoreNullValues, an error (no scaling at all) without.
 */
export function simulateIdle(p: {
  trigger: DemandTrigger;
  scrapeSeconds: number;
  pollSeconds: number;
  cooldownSeconds: number;
  requestAt?: number;
  horizonSeconds?: number;
}): IdleTimeline {
  const requestAt = p.requestAt ?? 17;
  const horizon = p.horizonSeconds ?? 6 * 3600;
  const samples: [number, number][] = [];
  let replicas = 0;
  let lastActive = Number.NEGATIVE_INFINITY;
  let wakeSeconds: number | undefined;
  for (let t = 0; t <= horizon; t++) {
    if (t % p.scrapeSeconds === 0) samples.push([t, t >= requestAt ? 1 : 0]);
    if (t % p.pollSeconds !== 3 % p.pollSeconds) continue;
    const inWindow = samples.filter(([at]) => at > t - p.trigger.windowSeconds && at <= t);
    const first = inWindow[0];
    const last = inWindow.at(-1);
    let value: number;
    if (inWindow.length < 2 || !first || !last) {
      if (!p.trigger.ignoreNullValues) return {};
      value = 0;
    } else {
      value = Math.min(Math.max(last[1] - first[1], 0), 1);
    }
    if (value > p.trigger.activationThreshold) {
      lastActive = t;
      if (replicas === 0) {
        replicas = 1;
        wakeSeconds = t - requestAt;
      }
    } else if (replicas > 0 && t - lastActive >= p.cooldownSeconds) {
      return { ...(wakeSeconds !== undefined && { wakeSeconds }), zeroSeconds: t - requestAt };
    }
  }
  return wakeSeconds === undefined ? {} : { wakeSeconds };
}

export interface IdlePath extends IdleTimeline {
  readonly workload: string;
  /** Karpenter's consolidateAfter of the pool the workload runs in, in seconds. */
  readonly nodeEmptySeconds?: number;
  readonly problems: readonly string[];
}

function seconds(duration: unknown): number | undefined {
  const match = /^(\d+)(s|m|h)$/.exec(String(duration));
  if (!match) return undefined;
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as 's' | 'm' | 'h'];
}

/** The path from 0 to 1 replica and back of every workload that may scale to zero. */
export function idlePaths(cluster: ClusterModel): IdlePath[] {
  const all = workloads(cluster);
  return cluster.objects
    .map((a) => a.object)
    .filter((o) => o.kind === 'ScaledObject' && o.spec?.minReplicaCount === 0)
    .map((scaled) => {
      const name = `${scaled.metadata?.namespace}/${scaled.spec?.scaleTargetRef?.name}`;
      const problems: string[] = [];
      const fail = (what: string) =>
        problems.push(`ScaledObject ${scaled.metadata?.name}: ${what}`);
      const triggers: K8sObject[] = scaled.spec?.triggers ?? [];
      const demand = triggers.map(demandTrigger).find((t) => t !== undefined);
      if (!demand) {
        fail(
          'minReplicaCount is 0 but no trigger reads a demand counter (a prometheus query of increase(<counter>{job="..."}[window])): at 0 replicas nothing would ever wake it',
        );
        return { workload: name, problems };
      }
      if (!cluster.scrape?.jobs.includes(demand.job)) {
        fail(`its demand query reads job "${demand.job}", which the scraper does not collect`);
      }
      const exported = EXPORTED[demand.job]?.();
      if (!exported) {
        fail(`no way to check that job "${demand.job}" exports ${demand.metric}`);
      } else if (!exported.includes(demand.metric)) {
        fail(
          `job "${demand.job}" exports no ${demand.metric} (it has ${exported.filter((m) => m.startsWith('axon_')).join(', ')})`,
        );
      }
      const timeline = simulateIdle({
        trigger: demand,
        scrapeSeconds: cluster.scrape?.intervalSeconds ?? 60,
        pollSeconds: scaled.spec?.pollingInterval ?? 30,
        cooldownSeconds: scaled.spec?.cooldownPeriod ?? 300,
      });
      if (timeline.wakeSeconds === undefined) {
        fail('in the simulation the first request never activates it (0 replicas stay 0)');
      } else if (timeline.zeroSeconds === undefined) {
        fail('in the simulation it never returns to 0 replicas after the last request');
      }
      const target = all.find(
        (w) => w.kind === 'Deployment' && `${w.namespace}/${w.name}` === name,
      );
      const pool = target && cluster.pools.find((p) => !placementProblem(target.podSpec, p));
      const nodePool = cluster.objects.find(
        (a) => a.object.kind === 'NodePool' && a.object.metadata?.name === pool?.name,
      )?.object;
      const disruption = nodePool?.spec?.disruption ?? {};
      const nodeEmptySeconds = seconds(disruption.consolidateAfter);
      if (!nodePool) {
        fail(`${name} runs in no Karpenter NodePool, so its node would stay when it scales to 0`);
      } else if (nodeEmptySeconds === undefined) {
        fail(
          `NodePool ${nodePool.metadata?.name} never removes an empty node (consolidateAfter ${disruption.consolidateAfter}): the GPU node would outlive the pod`,
        );
      }
      const waiting = all.some((w) =>
        (w.podSpec.containers ?? []).some((c: K8sObject) =>
          (c.env ?? []).some((e: K8sObject) => e.name === 'TRITON_WAKE_WAIT_MS'),
        ),
      );
      if (!waiting) {
        fail(
          'no workload sets TRITON_WAKE_WAIT_MS: the session manager would answer 503 at once instead of waiting for the wake',
        );
      }
      return {
        workload: name,
        ...timeline,
        ...(nodeEmptySeconds !== undefined && { nodeEmptySeconds }),
        problems,
      };
    });
}

/** Every workload that may scale to zero wakes on demand and goes again once idle. */
export const idleWorkloadsWakeAndSleep: Rule = (cluster) =>
  idlePaths(cluster).flatMap((path) => path.problems);
