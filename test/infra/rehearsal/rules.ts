/**
 * The deploy rehearsal: checks of what a stage's templates ask a cluster to do that a real
 * cluster would reject or never finish. Each rule takes the cluster model and returns problems
 * (empty when a cluster would go along), each naming the object, what is wrong and the numbers.
 * The rules live in rules-*.ts by theme; this module lists them.
 */
import type { ClusterModel } from './cluster.ts';
import { idleWorkloadsWakeAndSleep } from './rules-idle.ts';
import { referencesResolve } from './rules-references.ts';
import {
  autoscaledWorkloadsLeaveReplicasAlone,
  disruptionBudgetsLetDrainsFinish,
  gpuRolloutsFinish,
} from './rules-rollouts.ts';
import { podsFitANode, poolsHoldTheirPodsAtMaximum } from './rules-scheduling.ts';
import { startupEnvironmentIsSet } from './rules-startup.ts';
import { schemaProblems } from './schemas.ts';

export type Rule = (cluster: ClusterModel) => string[];

/** Every applied object, and the scheduling fields of every chart's values, pass their schema. */
export const objectsMatchTheirSchemas: Rule = (cluster) => {
  const problems = cluster.objects.flatMap((a) =>
    schemaProblems(a.object).map((p) => `${a.source}: ${p}`),
  );
  for (const chart of cluster.charts) {
    // Charts are not rendered here; the pod placement values most charts take at the top level
    // are checked as the PodSpec fields they end up in. (Resources sit at chart-specific paths.)
    const { nodeSelector, tolerations, affinity } = chart.values;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: chart.release },
      spec: {
        containers: [{ name: chart.release }],
        ...(nodeSelector !== undefined && { nodeSelector }),
        ...(tolerations !== undefined && { tolerations }),
        ...(affinity !== undefined && { affinity }),
      },
    };
    for (const p of schemaProblems(pod)) {
      problems.push(`${chart.source} (chart ${chart.chart} values): ${p}`);
    }
  }
  return problems;
};

/** All rules, by the name the stage suite reports them under. */
export const RULES: Readonly<Record<string, Rule>> = {
  'objects match their schemas': objectsMatchTheirSchemas,
  'every pod fits a node of a pool it may run on': podsFitANode,
  'GPU rollouts finish with the nodes that will exist': gpuRolloutsFinish,
  'pools hold their pods at the autoscalers maximum': poolsHoldTheirPodsAtMaximum,
  'autoscaled workloads leave replicas to the autoscaler': autoscaledWorkloadsLeaveReplicasAlone,
  'disruption budgets let node drains finish': disruptionBudgetsLetDrainsFinish,
  'references point at objects and declared ports': referencesResolve,
  'startup environment is set': startupEnvironmentIsSet,
  'workloads at zero replicas wake on demand and sleep when idle': idleWorkloadsWakeAndSleep,
};

export {
  autoscaledWorkloadsLeaveReplicasAlone,
  disruptionBudgetsLetDrainsFinish,
  gpuRolloutsFinish,
  podsFitANode,
  poolsHoldTheirPodsAtMaximum,
  referencesResolve,
  startupEnvironmentIsSet,
};
