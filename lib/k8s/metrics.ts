/**
 * The metrics pipeline's in-cluster parts: what the Amazon Managed Service for Prometheus
 * scraper collects, the read-only RBAC it needs to discover pods, and the KEDA chart values.
 */
import type { Manifest } from './common.ts';
import { KEDA, NAMESPACE, POOL_LABEL, TRITON } from './versions.ts';

/** The Kubernetes user the scraper's access entry maps to (the name AWS documents). */
export const SCRAPER_USER = 'aps-collector-user';
const SCRAPER_ROLE = 'aps-collector-role';

/**
 * Prometheus scrape configuration (YAML is a superset of JSON, so JSON text is valid): Triton's
 * metrics port on the pods of the `axon` namespace, found through the Kubernetes API.
 */
export function scrapeConfiguration(): string {
  const config = {
    global: { scrape_interval: '30s', external_labels: { cluster_role: 'axon-inference' } },
    scrape_configs: [
      {
        job_name: TRITON.name,
        kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [NAMESPACE] } }],
        relabel_configs: [
          {
            source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'],
            regex: TRITON.name,
            action: 'keep',
          },
          {
            source_labels: ['__meta_kubernetes_pod_container_port_name'],
            regex: 'metrics',
            action: 'keep',
          },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
        ],
      },
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
