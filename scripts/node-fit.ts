/**
 * The "Node fit" section of docs/operations.md, computed from the code's own numbers: for every
 * stage file, every node type of every pool its templates ask for, the node's allocatable, each
 * DaemonSet that lands on it (the templates', the EKS add-ons' and the charts', as
 * lib/k8s/node-daemons.ts records them), the pods the templates place on the pool, and what is
 * left. The same model the deploy rehearsal checks (test/infra/rehearsal), so the docs say what
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
import { EKS_ADDON_VERSIONS, NVIDIA_DEVICE_PLUGIN, POOL_LABEL } from '../lib/k8s/versions.ts';
import { repoPath } from '../lib/paths.ts';
import {
  type ClusterModel,
  clusterFromTemplates,
  type Pool,
} from '../test/infra/rehearsal/cluster.ts';
import {
  autoscalerOf,
  freeOnNode,
  maxNodesOfType,
  nodeDaemons,
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
      return {
        workload: w,
        requests: podRequests(w.podSpec),
        min: autoscaler?.minReplicas ?? replicas,
        max: autoscaler?.maxReplicas ?? replicas,
      };
    });
}

function poolTitle(pool: Pool): string {
  const name = pool.labels[POOL_LABEL] ?? pool.name;
  const kind = pool.kind === 'nodegroup' ? 'managed node group' : 'Karpenter NodePool';
  const taints = pool.taints.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`).join(', ');
  return `pool \`${name}\` (${kind}${taints ? `, taint ${taints}` : ''})`;
}

function nodeTable(cluster: ClusterModel, pool: Pool, type: string): string[] {
  const node = allocatable(type);
  const free = freeOnNode(cluster, pool, type);
  const nodes = maxNodesOfType(pool, type);
  const pods = placedPods(cluster, pool, type);
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
  if (Number.isFinite(nodes) && pods.length > 0) {
    rows.push([
      `Free for pods on ${nodesOf(nodes)} (${pool.size})`,
      cpu(nodes * free.cpuMillicores),
      mem(nodes * free.memoryMiB),
    ]);
    let cpuLeft = nodes * free.cpuMillicores;
    let memoryLeft = nodes * free.memoryMiB;
    for (const p of pods) {
      const gpus = p.requests.gpus > 0 ? `, ${p.requests.gpus} GPU each` : '';
      rows.push([
        `Pod \`${p.workload.namespace}/${p.workload.name}\` × ${p.max} (replicas ${p.min}–${p.max}; ${cpu(p.requests.cpuMillicores)}, ${mem(p.requests.memoryMiB)}${gpus})`,
        less(p.max * p.requests.cpuMillicores, cpu),
        less(p.max * p.requests.memoryMiB, mem),
      ]);
      cpuLeft -= p.max * p.requests.cpuMillicores;
      memoryLeft -= p.max * p.requests.memoryMiB;
    }
    const short = cpuLeft < 0 || memoryLeft < 0 ? ' — **does not fit**' : '';
    rows.push([
      `**Headroom with every pod at its maximum**${short}`,
      signed(cpuLeft, cpu),
      signed(memoryLeft, mem),
    ]);
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

/** The whole section, heading included, ending with a newline. */
export function nodeFitSection(): string {
  const lines = [
    HEADING,
    '',
    '<!-- Generated by `npx tsx scripts/node-fit.ts --write` from the stage files, the templates and lib/k8s/node-daemons.ts; test/infra/node-fit.test.ts fails when it is stale. -->',
    '',
    ...wrap(
      "What each node of each stage has to give, and who takes it. A pod is scheduled only where its requests fit what the node can allocate less the requests of every DaemonSet pod on that node, so the DaemonSets the EKS add-ons and charts run count as much as the app's own pods: the CloudWatch agent and Fluent Bit tolerate every taint and so run on the GPU nodes too, beside the DCGM exporter that runs on NVIDIA types only. Triton's derived requests (`triton.cpuMillicores` and `triton.memoryMiB` left out) are what a node of the smallest GPU type leaves, rounded down to 100m and 256 MiB; synth refuses requests that do not fit.",
    ),
    '',
    ...wrap(
      'Allocatable follows the EKS AL2023 AMI (kube-reserved and the hard eviction threshold, lib/k8s/instance-types.ts). Not counted here: the Deployments of the add-ons and charts (CoreDNS, metrics-server, the CloudWatch agent operator, the AWS Load Balancer Controller, Karpenter, KEDA), which also run on the system nodes.',
    ),
    '',
    '### Where the DaemonSet numbers come from',
    '',
    ...sourcesTable(),
    '',
    ...wrap(
      'Each row in lib/k8s/node-daemons.ts holds the requests (the larger of the largest init container and the sum of the others), tolerations, node selector and affinity as read there. Pinning another add-on or chart version fails `test/infra/node-fit.test.ts` and the rehearsal until the rows are read again at that version.',
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
