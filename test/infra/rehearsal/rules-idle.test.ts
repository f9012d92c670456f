/**
 * The dev stage's Triton at zero replicas: the rehearsal follows one request through the
 * scraper, KEDA and Karpenter on the stage's own values, and each broken link fails it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { stageConfig, synth } from '../support.ts';
import { type ClusterModel, clusterFromTemplates, type K8sObject } from './cluster.ts';
import { idlePaths, idleWorkloadsWakeAndSleep, simulateIdle } from './rules-idle.ts';

function model(stage: string): ClusterModel {
  return clusterFromTemplates(Object.values(synth(stageConfig(stage)).templates));
}

/** A copy of `cluster` with `change` applied to every object of `kind`. */
function broken(cluster: ClusterModel, kind: string, change: (o: K8sObject) => void): ClusterModel {
  const copy = structuredClone(cluster) as ClusterModel;
  for (const { object } of copy.objects) if (object.kind === kind) change(object);
  return copy;
}

const demandOf = (o: K8sObject) =>
  (o.spec.triggers as K8sObject[]).find((t) => t.name === 'demand') as K8sObject;

describe('Triton at zero replicas in dev', () => {
  let dev: ClusterModel;
  beforeAll(() => {
    dev = model('dev');
  });

  it('wakes within a scrape and a poll of the first request, sleeps after the idle period', () => {
    const [path, ...others] = idlePaths(dev);
    expect(others).toEqual([]);
    expect(path).toMatchObject({ workload: 'axon/triton', problems: [] });
    // 30 s scrapes and 30 s polls: the increase is seen at the second scrape after the request.
    expect(path?.wakeSeconds).toBeGreaterThan(0);
    expect(path?.wakeSeconds).toBeLessThanOrEqual(30 + 30 + 30);
    // The 2-minute query window empties, then the 15-minute cooldown runs out.
    expect(path?.zeroSeconds).toBeGreaterThanOrEqual(15 * 60);
    expect(path?.zeroSeconds).toBeLessThanOrEqual(2 * 60 + 15 * 60 + 30);
    // Karpenter then removes the empty GPU node.
    expect(path?.nodeEmptySeconds).toBe(15 * 60);
  });

  it('fails without a trigger that reads demand', () => {
    const cut = broken(dev, 'ScaledObject', (o) => {
      o.spec.triggers = o.spec.triggers.filter((t: K8sObject) => t.name !== 'demand');
    });
    expect(idleWorkloadsWakeAndSleep(cut)).toEqual([
      expect.stringMatching(/no trigger reads a demand counter/),
    ]);
  });

  it('fails when the counter is not one the session manager exports', () => {
    const cut = broken(dev, 'ScaledObject', (o) => {
      const demand = demandOf(o);
      demand.metadata.query = demand.metadata.query.replace('model_demand', 'model_requests');
    });
    expect(idleWorkloadsWakeAndSleep(cut)).toEqual([
      expect.stringMatching(/job "session-manager" exports no axon_sm_model_requests_total/),
    ]);
  });

  it('fails when an empty query result stops KEDA instead of reading as no demand', () => {
    const cut = broken(dev, 'ScaledObject', (o) => {
      demandOf(o).metadata.ignoreNullValues = 'false';
    });
    expect(idleWorkloadsWakeAndSleep(cut)).toEqual([expect.stringMatching(/never activates it/)]);
  });

  it('fails when the session manager would not wait for the wake', () => {
    const cut = broken(dev, 'Deployment', (o) => {
      for (const c of o.spec.template.spec.containers) {
        c.env = (c.env ?? []).filter((e: K8sObject) => e.name !== 'TRITON_WAKE_WAIT_MS');
      }
    });
    expect(idleWorkloadsWakeAndSleep(cut)).toEqual([
      expect.stringMatching(/no workload sets TRITON_WAKE_WAIT_MS/),
    ]);
  });

  it('fails when the GPU node would never be removed once empty', () => {
    const cut = broken(dev, 'NodePool', (o) => {
      o.spec.disruption.consolidateAfter = 'Never';
    });
    expect(idleWorkloadsWakeAndSleep(cut)).toEqual([
      expect.stringMatching(/never removes an empty node \(consolidateAfter Never\)/),
    ]);
  });
});

describe('simulateIdle', () => {
  const trigger = {
    metric: 'm_total',
    job: 'j',
    windowSeconds: 120,
    activationThreshold: 0,
    ignoreNullValues: true,
  };
  const timing = { scrapeSeconds: 30, pollSeconds: 30, cooldownSeconds: 600 };

  it('never activates when the threshold is the most the query can answer', () => {
    expect(simulateIdle({ trigger: { ...trigger, activationThreshold: 1 }, ...timing })).toEqual(
      {},
    );
  });

  it('never returns to zero within the horizon when the cooldown outlasts it', () => {
    const timeline = simulateIdle({ trigger, ...timing, cooldownSeconds: 10 * 3600 });
    expect(timeline.wakeSeconds).toBeDefined();
    expect(timeline.zeroSeconds).toBeUndefined();
  });
});

describe('stages that keep their minimum', () => {
  it('prod never scales Triton to zero', () => {
    const prod = model('prod');
    expect(idlePaths(prod)).toEqual([]);
    const scaled = prod.objects.find((a) => a.object.kind === 'ScaledObject')?.object;
    expect(scaled?.spec.minReplicaCount).toBe(2);
    expect(demandOf(scaled as K8sObject)).toBeUndefined();
  });
});
