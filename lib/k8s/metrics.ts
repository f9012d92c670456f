/**
 * The metrics pipeline's in-cluster parts: what the Amazon Managed Service for Prometheus
 * scraper collects, the read-only RBAC it needs to discover pods, and the KEDA chart values.
 */
import type { Manifest } from './common.ts';
import {
  CLOUDWATCH_OBSERVABILITY,
  KEDA,
  NAMESPACE,
  POOL_LABEL,
  SESSION_MANAGER,
  TRITON,
} from './versions.ts';

/** The Kubernetes user the scraper's access entry maps to (the name AWS documents). */
export const SCRAPER_USER = 'aps-collector-user';
const SCRAPER_ROLE = 'aps-collector-role';

/** The labels every series gets: which pod and namespace it came from. */
const POD_LABELS = [
  { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
  { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
];

/** Keeps the pods of one workload of the `axon` namespace, on one named container port. */
function axonJob(name: string, portName: string): Record<string, unknown> {
  return {
    job_name: name,
    kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [NAMESPACE] } }],
    relabel_configs: [
      {
        source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'],
        regex: name,
        action: 'keep',
      },
      {
        source_labels: ['__meta_kubernetes_pod_container_port_name'],
        regex: portName,
        action: 'keep',
      },
      ...POD_LABELS,
    ],
  };
}

/**
 * The DCGM exporter the CloudWatch observability add-on runs on every NVIDIA node. The add-on
 * serves it over TLS with a certificate from its own in-cluster CA, which the managed scraper
 * cannot be given, so the scrape encrypts but does not verify the peer; the target is found by
 * the Kubernetes API (its container and port), not by an address anyone could spoof from outside
 * the cluster's pod network.
 */
function dcgmJob(): Record<string, unknown> {
  return {
    job_name: CLOUDWATCH_OBSERVABILITY.dcgmExporterName,
    scheme: 'https',
    tls_config: { insecure_skip_verify: true },
    kubernetes_sd_configs: [
      { role: 'pod', namespaces: { names: [CLOUDWATCH_OBSERVABILITY.namespace] } },
    ],
    relabel_configs: [
      {
        source_labels: ['__meta_kubernetes_pod_container_name'],
        regex: CLOUDWATCH_OBSERVABILITY.dcgmExporterName,
        action: 'keep',
      },
      {
        source_labels: ['__meta_kubernetes_pod_container_port_number'],
        regex: String(CLOUDWATCH_OBSERVABILITY.dcgmExporterPort),
        action: 'keep',
      },
      { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'node' },
      ...POD_LABELS,
    ],
  };
}

/**
 * Prometheus scrape configuration (YAML is a superset of JSON, so JSON text is valid): Triton's
 * metrics port (`nv_*`, `vllm:*`: KEDA's signal and the Triton alert rules), the session
 * manager's `/metrics` on its HTTP port, and the DCGM exporter's GPU metrics, all found through
 * the Kubernetes API.
 */
export function scrapeConfiguration(): string {
  const config = {
    global: { scrape_interval: '30s', external_labels: { cluster_role: 'axon-inference' } },
    scrape_configs: [
      axonJob(TRITON.name, 'metrics'),
      axonJob(SESSION_MANAGER.name, 'http'),
      dcgmJob(),
    ],
  };
  return JSON.stringify(config, null, 2);
}

/** Read-only discovery rights of the managed scraper, bound to its mapped user. */
export function scraperRbac(): Manifest[] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: SCRAPER_ROLE },
      rules: [
        {
          apiGroups: [''],
          resources: ['nodes', 'nodes/proxy', 'nodes/metrics', 'services', 'endpoints', 'pods'],
          verbs: ['get', 'list', 'watch'],
        },
        {
          apiGroups: ['discovery.k8s.io'],
          resources: ['endpointslices'],
          verbs: ['get', 'list', 'watch'],
        },
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: SCRAPER_ROLE },
      subjects: [{ kind: 'User', name: SCRAPER_USER, apiGroup: 'rbac.authorization.k8s.io' }],
      roleRef: { kind: 'ClusterRole', name: SCRAPER_ROLE, apiGroup: 'rbac.authorization.k8s.io' },
    },
  ];
}

/** KEDA on the system nodes; its operator's AWS identity comes from EKS Pod Identity. */
export function kedaValues(): Record<string, unknown> {
  return {
    serviceAccount: { operator: { name: KEDA.operatorServiceAccount } },
    nodeSelector: { [POOL_LABEL]: 'system' },
    resources: {
      operator: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      metricServer: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      webhooks: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    },
  };
}
