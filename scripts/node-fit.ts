/**
 * The "Node fit" section of docs/operations.md, computed from the code's own numbers: for every
 * stage file, every node type of every pool its templates ask for, the node's allocatable, each
 * DaemonSet that lands on it (the templates', the EKS add-ons' and the charts', as
 * lib/k8s/node-daemons.ts records them), the pods the templates place on the pool, the
 * Deployments the add-ons and charts place there (lib/k8s/system-workloads.ts), what is left at
 * every pod's maximum and what is left while the app's Deployments roll out at that maximum. The same model the deploy rehearsal checks (test/infra/rehearsal), so the docs say what
 * the tests prove.
 *
 *   npx tsx scripts/node-fit.ts           print the section
 *   npx tsx scripts/node-fit.ts --write   replace it in docs/operations.md (or append it)
 *
 * test/infra/node-fit.test.ts fails when the section in docs/operations.md differs from this.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { allocatable } from '../lib/k8s/instance-types.ts';
import { type NodeDaemonFacts, nodeDaemonFacts } from '../lib/k8s/node-daemons.ts';
import {
  PINNED_CHARTS,
  type SystemWorkloadFacts,
  systemWorkloadFacts,
} from '../lib/k8s/system-workloads.ts';
import { EKS_ADDON_VERSIONS, NVIDIA_DEVICE_PLUGIN, POOL_LABEL } from '../lib/k8s/versions.ts';
import { repoPath } from '../lib/paths.ts';
import {
  type ClusterModel,
  clusterFromTemplates,
  type K8sObject,
  type Pool,
} from '../test/infra/rehearsal/cluster.ts';
import {
  autoscalerOf,
  freeOnNode,
  maxNodesOfType,
  nodeDaemons,
  type OutsideDeployment,
  onlyOn,
  outsideDeployments,
  placeableTypes,
  placementProblem,
  podRequests,
  type Resources,
  type Workload,
  workloads,
} from '../test/infra/rehearsal/workloads.ts';
import { stageConfig, synth } from '../test/infra/support.ts';

export const HEADING = '## Node fit';
export const DOC = repoPath('docs', 'operations.md');

/** The stage files config/stages holds, by name. */
export function stages(): string[] {
  return readdirSync(repoPath('config', 'stages'))
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.replace(/\.json$/, ''))
    .sort();
}

/** A paragraph broken into lines of at most `width` characters, as the rest of the docs are. */
function wrap(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

const cpu = (m: number) => `${m}m`;
const mem = (mib: number) => `${Number.isInteger(mib) ? mib : mib.toFixed(1)} Mi`;
const less = (n: number, unit: (x: number) => string) => (n === 0 ? unit(0) : `−${unit(n)}`);
const signed = (n: number, unit: (x: number) => string) => (n < 0 ? `−${unit(-n)}` : unit(n));
const nodesOf = (n: number) => (n === 1 ? '1 node' : `${n} nodes`);

interface Placed {
  readonly workload: Workload;
  readonly requests: Resources;
  readonly min: number;
  readonly max: number;
  /** Extra pods a rollout at `max` runs (the RollingUpdate's maxSurge). */
  readonly surge: number;
}

/**
 * Extra pods a Deployment's rollout runs at `replicas`: its RollingUpdate maxSurge (default 25%,
 * a percentage rounded up, as the deployment controller does); none for Recreate or other kinds.
 */
export function rolloutSurge(object: K8sObject, replicas: number): number {
  if (object.kind !== 'Deployment') return 0;
  const strategy = object.spec?.strategy ?? {};
  if (strategy.type === 'Recreate') return 0;
  const maxSurge = String(strategy.rollingUpdate?.maxSurge ?? '25%');
  return maxSurge.endsWith('%')
    ? Math.ceil((Number(maxSurge.slice(0, -1)) * replicas) / 100)
    : Number(maxSurge);
}

/** The pods the templates may schedule on nodes of `type` in `pool`, with their replica range. */
function placedPods(cluster: ClusterModel, pool: Pool, type: string): Placed[] {
  return workloads(cluster)
    .filter(
      (w) =>
        w.kind !== 'DaemonSet' &&
        placementProblem(w.podSpec, pool) === undefined &&
        placeableTypes(w.podSpec, pool).includes(type),
    )
    .map((w) => {
      const autoscaler = autoscalerOf(cluster, w);
      const fixed = w.kind === 'Deployment' || w.kind === 'StatefulSet';
      const replicas = fixed ? (w.applied.object.spec?.replicas ?? 1) : 1;
      const max = autoscaler?.maxReplicas ?? replicas;
      return {
        workload: w,
        requests: podRequests(w.podSpec),
        min: autoscaler?.minReplicas ?? replicas,
        max,
        surge: rolloutSurge(w.applied.object, max),
      };
    });
}

/** What nodes of `type` in `pool` hold, at every pod's maximum and during a rollout there. */
export interface PoolFit {
  /** Allocatable of one node less its DaemonSets. */
  readonly free: Resources;
  /** Most nodes of the type the pool can have (Infinity for an unlimited NodePool). */
  readonly nodes: number;
  readonly pods: readonly Placed[];
  /** The add-ons' and charts' Deployments that may run on this pool only, on this type. */
  readonly outside: readonly OutsideDeployment[];
  /** Free on `nodes` nodes less every pod at its maximum (perfect packing). */
  readonly headroom: { readonly cpuMillicores: number; readonly memoryMiB: number };
  /** `headroom` less one rollout's surge pods of every templates' Deployment. */
  readonly duringRollout: { readonly cpuMillicores: number; readonly memoryMiB: number };
}

export function poolFit(cluster: ClusterModel, pool: Pool, type: string): PoolFit {
  const free = freeOnNode(cluster, pool, type);
  const nodes = maxNodesOfType(pool, type);
  const pods = placedPods(cluster, pool, type);
  const outside = outsideDeployments(cluster).filter(
    (d) => onlyOn(cluster, d.podSpec, pool) && placeableTypes(d.podSpec, pool).includes(type),
  );
  const sum = (items: { n: number; r: Resources }[]) =>
    items.reduce(
      (a, { n, r }) => ({
        cpuMillicores: a.cpuMillicores + n * r.cpuMillicores,
        memoryMiB: a.memoryMiB + n * r.memoryMiB,
      }),
      { cpuMillicores: 0, memoryMiB: 0 },
    );
  const atMax = sum([
    ...pods.map((p) => ({ n: p.max, r: p.requests })),
    ...outside.map((d) => ({ n: d.replicas, r: d.requests })),
  ]);
  const surge = sum(pods.map((p) => ({ n: p.surge, r: p.requests })));
  const headroom = {
    cpuMillicores: nodes * free.cpuMillicores - atMax.cpuMillicores,
    memoryMiB: nodes * free.memoryMiB - atMax.memoryMiB,
  };
  return {
    free,
    nodes,
    pods,
    outside,
    headroom,
    duringRollout: {
      cpuMillicores: headroom.cpuMillicores - surge.cpuMillicores,
      memoryMiB: headroom.memoryMiB - surge.memoryMiB,
    },
  };
}

function poolTitle(pool: Pool): string {
  const name = pool.labels[POOL_LABEL] ?? pool.name;
  const kind = pool.kind === 'nodegroup' ? 'managed node group' : 'Karpenter NodePool';
  const taints = pool.taints.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`).join(', ');
  return `pool \`${name}\` (${kind}${taints ? `, taint ${taints}` : ''})`;
}

function nodeTable(cluster: ClusterModel, pool: Pool, type: string): string[] {
  const node = allocatable(type);
  const fit = poolFit(cluster, pool, type);
  const { free, nodes, pods, outside } = fit;
  const rows: string[][] = [
    ['Allocatable on one node', cpu(node.cpuMillicores), mem(node.memoryMiB)],
  ];
  for (const d of nodeDaemons(cluster, pool, type)) {
    rows.push([
      `DaemonSet \`${d.name}\` (${d.source})`,
      less(d.requests.cpuMillicores, cpu),
      less(d.requests.memoryMiB, mem),
    ]);
  }
  rows.push(['**Free for pods on one node**', cpu(free.cpuMillicores), mem(free.memoryMiB)]);
  if (pods.length > 0) {
    const one = pods.reduce(
      (a, p) => ({
        cpu: a.cpu + p.requests.cpuMillicores,
        memory: a.memory + p.requests.memoryMiB,
      }),
      { cpu: 0, memory: 0 },
    );
    const each = pods.map((p) => `\`${p.workload.namespace}/${p.workload.name}\``).join(' + ');
    rows.push([
      `Headroom on one node beside one ${each}`,
      signed(free.cpuMillicores - one.cpu, cpu),
      signed(free.memoryMiB - one.memory, mem),
    ]);
  }
  if (Number.isFinite(nodes) && pods.length + outside.length > 0) {
    rows.push([
      `Free for pods on ${nodesOf(nodes)} (${pool.size})`,
      cpu(nodes * free.cpuMillicores),
      mem(nodes * free.memoryMiB),
    ]);
    for (const p of pods) {
      const gpus = p.requests.gpus > 0 ? `, ${p.requests.gpus} GPU each` : '';
      rows.push([
        `Pod \`${p.workload.namespace}/${p.workload.name}\` × ${p.max} (replicas ${p.min}–${p.max}; ${cpu(p.requests.cpuMillicores)}, ${mem(p.requests.memoryMiB)}${gpus})`,
        less(p.max * p.requests.cpuMillicores, cpu),
        less(p.max * p.requests.memoryMiB, mem),
      ]);
    }
    for (const d of outside) {
      const distinct = d.distinctNodes ? '; a node each' : '';
      rows.push([
        `Deployment \`${d.name}\` × ${d.replicas} (${d.source}; ${cpu(d.requests.cpuMillicores)}, ${mem(d.requests.memoryMiB)}${distinct})`,
        less(d.replicas * d.requests.cpuMillicores, cpu),
        less(d.replicas * d.requests.memoryMiB, mem),
      ]);
    }
    const { headroom, duringRollout } = fit;
    const short = headroom.cpuMillicores < 0 || headroom.memoryMiB < 0 ? ' — **does not fit**' : '';
    rows.push([
      `**Headroom with every pod at its maximum**${short}`,
      signed(headroom.cpuMillicores, cpu),
      signed(headroom.memoryMiB, mem),
    ]);
    const surging = pods.filter((p) => p.surge > 0);
    if (surging.length > 0) {
      for (const p of surging) {
        rows.push([
          `Rollout at the maximum: \`${p.workload.namespace}/${p.workload.name}\` + ${p.surge} (maxSurge)`,
          less(p.surge * p.requests.cpuMillicores, cpu),
          less(p.surge * p.requests.memoryMiB, mem),
        ]);
      }
      const tight =
        duringRollout.cpuMillicores < 0 || duringRollout.memoryMiB < 0 ? ' — **does not fit**' : '';
      rows.push([
        `**Headroom while they roll out at their maximum**${tight}`,
        signed(duringRollout.cpuMillicores, cpu),
        signed(duringRollout.memoryMiB, mem),
      ]);
    }
  }
  return [
    `| \`${type}\`, ${poolTitle(pool)} | CPU | Memory |`,
    '| --- | ---: | ---: |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** The DaemonSet sources in use: the rows for the pinned add-on and chart versions. */
function sourcesTable(): string[] {
  const used = new Map<NodeDaemonFacts, string>();
  for (const addons of Object.values(EKS_ADDON_VERSIONS)) {
    for (const [name, version] of Object.entries(addons)) {
      const facts = nodeDaemonFacts('eks-addon', name, version);
      if (facts) used.set(facts, `EKS add-on \`${name}\` ${version}`);
    }
  }
  const plugin = nodeDaemonFacts(
    'helm-chart',
    NVIDIA_DEVICE_PLUGIN.chart,
    NVIDIA_DEVICE_PLUGIN.version,
  );
  if (plugin) used.set(plugin, `chart \`${plugin.name}\` ${NVIDIA_DEVICE_PLUGIN.version}`);
  const rows = [...used].map(([facts, what]) => {
    const read = facts.readFrom
      .map((s) => `[${s.repo}@${s.ref}](https://github.com/${s.repo}/tree/${s.commit})`)
      .join(', ');
    const evidence = facts.evidence === 'exact' ? 'read at that version' : 'best public source';
    return `| ${what} | ${facts.daemonSets.map((d) => `\`${d.name}\``).join(', ')} | ${read} | ${evidence} |`;
  });
  return [
    '| Installed as | DaemonSets | Read from | Evidence |',
    '| --- | --- | --- | --- |',
    ...rows,
  ];
}

/** The Deployment sources in use: the rows for the pinned add-on and chart versions. */
function deploymentSourcesTable(): string[] {
  const used = new Map<SystemWorkloadFacts, { what: string; version: string }>();
  for (const addons of Object.values(EKS_ADDON_VERSIONS)) {
    for (const [name, version] of Object.entries(addons)) {
      const facts = systemWorkloadFacts('eks-addon', name, version);
      if (facts) used.set(facts, { what: `EKS add-on \`${name}\` ${version}`, version });
    }
  }
  for (const { chart, version } of PINNED_CHARTS) {
    const facts = systemWorkloadFacts('helm-chart', chart, version);
    if (facts) used.set(facts, { what: `chart \`${chart}\` ${version}`, version });
  }
  const rows = [...used].map(([facts, { what }]) => {
    const read = facts.readFrom
      .map((s) => `[${s.repo}@${s.ref}](https://github.com/${s.repo}/tree/${s.commit})`)
      .join(', ');
    const evidence = facts.evidence === 'exact' ? 'read at that version' : 'best public source';
    return `| ${what} | ${facts.deployments.map((d) => `\`${d.name}\``).join(', ')} | ${read} | ${evidence} |`;
  });
  return [
    '| Installed as | Deployments | Read from | Evidence |',
    '| --- | --- | --- | --- |',
    ...rows,
  ];
}

/** The whole section, heading included, ending with a newline. */
export function nodeFitSection(): string {
  const lines = [
    HEADING,
    '',
    '<!-- Generated by `npx tsx scripts/node-fit.ts --write` from the stage files, the templates, lib/k8s/node-daemons.ts and lib/k8s/system-workloads.ts; test/infra/node-fit.test.ts fails when it is stale. -->',
    '',
    ...wrap(
      "What each node of each stage has to give, and who takes it. A pod is scheduled only where its requests fit what the node can allocate less the requests of every DaemonSet pod on that node, so the DaemonSets the EKS add-ons and charts run count as much as the app's own pods: the CloudWatch agent and Fluent Bit tolerate every taint and so run on the GPU nodes too, beside the DCGM exporter that runs on NVIDIA types only. Triton's derived requests (`triton.cpuMillicores` and `triton.memoryMiB` left out) are what a node of the smallest GPU type leaves, rounded down to 100m and 256 MiB; synth refuses requests that do not fit.",
    ),
    '',
    ...wrap(
      "The Deployments of the add-ons and charts (CoreDNS, metrics-server, the CloudWatch agent operator, the AWS Load Balancer Controller, Karpenter, KEDA) run on the system nodes beside the app's pods, each counted at its replicas (the chart's or add-on's default, or the app's values) where its node selector, tolerations and node affinity land it; none tolerates the GPU taint. Karpenter's two controllers need a node each (a required anti-affinity on the node name).",
    ),
    '',
    ...wrap(
      "Every system pool keeps room, with every pod at its maximum, for a rollout at that maximum: the app's Deployments roll out one extra pod at a time (maxSurge 1), and `test/infra/node-fit.test.ts` fails a stage whose system nodes cannot hold that pod of each beside everything else. A managed node group without a node autoscaler has exactly `desiredSize` nodes. When a stage does not fit, the fixes are one more node (`eks.systemNodes.desiredSize`, within `maxSize`; an m7i.large is about $74 a month on demand), a larger type, or a lower `maxReplicas`; each shipped stage file's `$comment` says which it chose. Allocatable follows the EKS AL2023 AMI (kube-reserved and the hard eviction threshold, lib/k8s/instance-types.ts).",
    ),
    '',
    '### Where the DaemonSet numbers come from',
    '',
    ...sourcesTable(),
    '',
    ...wrap(
      'Each row in lib/k8s/node-daemons.ts holds the requests (the larger of the largest init container and the sum of the others), tolerations, node selector and affinity as read there. Pinning another add-on or chart version fails `test/infra/node-fit.test.ts` and the rehearsal until the rows are read again at that version.',
    ),
    '',
    '### Where the Deployment numbers come from',
    '',
    ...deploymentSourcesTable(),
    '',
    ...wrap(
      "Each row in lib/k8s/system-workloads.ts holds the chart's (or add-on's) default values its Deployment templates read (replicas, requests, node selector, tolerations, affinity, topology spread) and the paths they read them from, so a release's values apply as Helm applies them. The CoreDNS and metrics-server add-ons publish no manifest: their rows come from the closest public source, named there. Pinning another version fails the same tests.",
    ),
  ];
  for (const stage of stages()) {
    const cluster = clusterFromTemplates(Object.values(synth(stageConfig(stage)).templates));
    lines.push('', `### Stage \`${stage}\``);
    for (const pool of cluster.pools) {
      for (const type of pool.instanceTypes) lines.push('', ...nodeTable(cluster, pool, type));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The section of `doc` under HEADING (to the next `## ` heading), or undefined. */
export function sectionOf(doc: string): string | undefined {
  const start = doc.indexOf(`\n${HEADING}\n`);
  if (start < 0) return undefined;
  const next = doc.indexOf('\n## ', start + 1);
  return doc.slice(start + 1, next < 0 ? undefined : next + 1);
}

/** `doc` with its section replaced by `section`, or with `section` appended. */
export function withSection(doc: string, section: string): string {
  const current = sectionOf(doc);
  if (current === undefined) return `${doc.replace(/\n*$/, '\n')}\n${section}`;
  return doc.replace(current, section.endsWith('\n\n') ? section : `${section}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const section = nodeFitSection();
  if (process.argv.includes('--write')) {
    writeFileSync(DOC, withSection(readFileSync(DOC, 'utf8'), section));
    console.error(`wrote the "${HEADING.slice(3)}" section of ${DOC}`);
  } else {
    process.stdout.write(section);
  }
}
