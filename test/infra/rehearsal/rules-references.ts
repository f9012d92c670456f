/** Reference rules: every name and port an object points at exists. */
import type { K8sObject } from './cluster.ts';
import type { Rule } from './rules.ts';
import { namespaceOf, selects, workloads } from './workloads.ts';

const BUILT_IN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
  'PriorityClass',
  'PersistentVolume',
  'CustomResourceDefinition',
  'NodePool',
  'EC2NodeClass',
  'ClusterTriggerAuthentication',
]);

function portsOf(podSpec: K8sObject): K8sObject[] {
  return (podSpec.containers ?? []).flatMap((c: K8sObject) => c.ports ?? []);
}

function declares(ports: readonly K8sObject[], port: unknown): boolean {
  return ports.some((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port));
}

/**
 * Every reference points at something that exists, on a port a container declares: namespaces,
 * service accounts, Service selectors and target ports, TargetGroupBinding service and port,
 * probe ports, PDB and NetworkPolicy selectors and ports, HPA/ScaledObject targets, KEDA
 * authentication, NodePool classes.
 */
export const referencesResolve: Rule = (cluster) => {
  const problems: string[] = [];
  const all = cluster.objects.map((a) => a.object);
  const named = (kind: string, namespace: string | undefined, name: unknown) =>
    all.find(
      (o) =>
        o.kind === kind &&
        o.metadata?.name === name &&
        (namespace === undefined || namespaceOf(o) === namespace),
    );
  const pods = workloads(cluster);
  const namespaces = new Set([
    ...BUILT_IN_NAMESPACES,
    ...all.filter((o) => o.kind === 'Namespace').map((o) => o.metadata?.name),
    ...cluster.charts.map((c) => c.namespace),
  ]);

  for (const { source, object: o } of cluster.objects) {
    const what = `${source}: ${o.kind} ${namespaceOf(o)}/${o.metadata?.name}`;
    const ns = namespaceOf(o);
    if (!CLUSTER_SCOPED.has(o.kind) && !namespaces.has(ns)) {
      problems.push(`${what}: namespace ${ns} is never created`);
    }
    if (o.kind === 'Service' && o.spec?.selector) {
      const targets = pods.filter(
        (w) => w.namespace === ns && selects(o.spec.selector, w.podLabels),
      );
      if (targets.length === 0) {
        problems.push(
          `${what}: selector ${JSON.stringify(o.spec.selector)} matches no workload's pods`,
        );
      }
      for (const port of o.spec.ports ?? []) {
        const target = port.targetPort ?? port.port;
        for (const w of targets) {
          if (!declares(portsOf(w.podSpec), target)) {
            problems.push(
              `${what}: port ${port.name ?? port.port} targets ${JSON.stringify(target)}, which no container of ${w.kind} ${w.name} declares`,
            );
          }
        }
      }
    }
    if (o.kind === 'TargetGroupBinding') {
      const ref = o.spec?.serviceRef ?? {};
      const service = named('Service', ns, ref.name);
      if (!service)
        problems.push(`${what}: serviceRef names Service ${ref.name}, which is not applied`);
      else if (
        !(service.spec?.ports ?? []).some(
          (p: K8sObject) => p.port === ref.port || p.name === ref.port,
        )
      ) {
        problems.push(
          `${what}: serviceRef port ${JSON.stringify(ref.port)} is not a port of Service ${ref.name}`,
        );
      }
    }
    if (o.kind === 'PodDisruptionBudget') {
      const selector = o.spec?.selector?.matchLabels;
      if (!pods.some((w) => w.namespace === ns && selects(selector, w.podLabels))) {
        problems.push(`${what}: selector ${JSON.stringify(selector)} matches no workload's pods`);
      }
    }
    if (o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject') {
      const ref = o.spec?.scaleTargetRef ?? {};
      const kind = ref.kind ?? 'Deployment';
      if (!named(kind, ns, ref.name)) {
        problems.push(`${what}: scaleTargetRef names ${kind} ${ref.name}, which is not applied`);
      }
    }
    if (o.kind === 'ScaledObject') {
      for (const trigger of o.spec?.triggers ?? []) {
        const auth = trigger.authenticationRef;
        if (!auth) continue;
        const kind = auth.kind ?? 'TriggerAuthentication';
        if (!named(kind, kind === 'TriggerAuthentication' ? ns : undefined, auth.name)) {
          problems.push(
            `${what}: trigger ${trigger.type} uses ${kind} ${auth.name}, which is not applied`,
          );
        }
      }
    }
    if (o.kind === 'NetworkPolicy') {
      // Under a default-deny policy, an allowance that selects nothing silently drops traffic.
      const selector = o.spec?.podSelector?.matchLabels;
      const guarded =
        Object.keys(selector ?? {}).length === 0
          ? pods.filter((w) => w.namespace === ns)
          : pods.filter((w) => w.namespace === ns && selects(selector, w.podLabels));
      if (guarded.length === 0) {
        problems.push(
          `${what}: podSelector ${JSON.stringify(selector)} matches no workload's pods`,
        );
      }
      for (const rule of o.spec?.ingress ?? []) {
        for (const peer of rule.from ?? []) {
          const from = peer.podSelector?.matchLabels;
          if (peer.namespaceSelector || !from || Object.keys(from).length === 0) continue;
          if (!pods.some((w) => w.namespace === ns && selects(from, w.podLabels))) {
            problems.push(
              `${what}: ingress from podSelector ${JSON.stringify(from)} matches no workload's pods`,
            );
          }
        }
        for (const { port } of rule.ports ?? []) {
          if (port === undefined || guarded.length === 0) continue;
          if (!guarded.some((w) => declares(portsOf(w.podSpec), port))) {
            problems.push(
              `${what}: allows port ${JSON.stringify(port)}, which no container of the pods it selects declares`,
            );
          }
        }
      }
    }
    if (o.kind === 'NodePool') {
      const ref = o.spec?.template?.spec?.nodeClassRef ?? {};
      if (!named(ref.kind, undefined, ref.name)) {
        problems.push(`${what}: nodeClassRef names ${ref.kind} ${ref.name}, which is not applied`);
      }
    }
  }

  for (const w of pods) {
    const what = `${w.applied.source}: ${w.kind} ${w.namespace}/${w.name}`;
    const account = w.podSpec.serviceAccountName;
    if (account && account !== 'default' && !named('ServiceAccount', w.namespace, account)) {
      problems.push(
        `${what}: serviceAccountName ${account} is not applied, so its pods are refused`,
      );
    }
    for (const c of [...(w.podSpec.initContainers ?? []), ...(w.podSpec.containers ?? [])]) {
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const p = c[probe];
        const port = p?.httpGet?.port ?? p?.tcpSocket?.port ?? p?.grpc?.port;
        if (port !== undefined && !declares(c.ports ?? [], port)) {
          problems.push(
            `${what}: container ${c.name} ${probe} uses port ${JSON.stringify(port)}, which the container does not declare`,
          );
        }
      }
    }
  }
  return problems;
};
