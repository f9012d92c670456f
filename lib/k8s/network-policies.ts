/**
 * NetworkPolicies of the `axon` namespace, enforced by the VPC CNI's network policy agent
 * (vpc-cni add-on with `enableNetworkPolicy`). Ingress is denied by default; each allowance
 * names who may connect and on which port:
 * - the internal ALB (its subnets' CIDRs; it sends from its own ENIs) to the session manager;
 * - the session manager to Triton's HTTP and gRPC ports;
 * - the managed Prometheus scraper (its ENIs sit in the cluster subnets) to Triton's metrics port
 *   and the session manager's HTTP port, which serves `/metrics` (the DCGM exporter lives in the
 *   add-on's own namespace, which these policies do not cover);
 * - with the container edge: the public ALB (its public subnets' CIDRs) to the edge pods, and the
 *   edge pods to the session manager (they call its Service directly, not the internal ALB).
 * The kubelet's probes come from the node itself, which the agent always admits.
 *
 * Limit: pods take their IPs from the same private subnets as the ALB and the scraper, so an
 * ipBlock of those subnets also matches pods. The security groups stay the tight control (only
 * the ALB's group may reach pods on 8080); these policies stop everything else, e.g. any pod
 * reaching Triton directly or anything reaching ports the policies do not name.
 */
import { type Manifest, selector } from './common.ts';
import { GATEWAY_EDGE } from './gateway-edge.ts';
import { NAMESPACE, SESSION_MANAGER, TRITON } from './versions.ts';

export interface NetworkPolicyProps {
  /** CIDRs of the subnets the internal ALB sits in (may be CDK tokens). */
  readonly albCidrs: readonly string[];
  /** CIDRs of the subnets the Prometheus scraper's network interfaces sit in. */
  readonly scraperCidrs: readonly string[];
  /**
   * CIDRs of the subnets the public ALB sits in, when the stage runs the container edge.
   * @default - no edge: no edge rules
   */
  readonly publicAlbCidrs?: readonly string[];
}

function policy(name: string, spec: Record<string, unknown>): Manifest {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'axon' } },
    spec,
  };
}

const tcp = (port: number) => ({ protocol: 'TCP', port });

export function networkPolicies(p: NetworkPolicyProps): Manifest[] {
  return [
    policy('default-deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] }),
    policy('alb-to-session-manager', {
      podSelector: { matchLabels: selector(SESSION_MANAGER.name) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: p.albCidrs.map((cidr) => ({ ipBlock: { cidr } })),
          ports: [tcp(SESSION_MANAGER.port)],
        },
      ],
    }),
    policy('session-manager-to-triton', {
      podSelector: { matchLabels: selector(TRITON.name) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: selector(SESSION_MANAGER.name) } }],
          ports: [tcp(TRITON.httpPort), tcp(TRITON.grpcPort)],
        },
      ],
    }),
    policy('scraper-to-metrics', {
      podSelector: { matchLabels: selector(TRITON.name) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: p.scraperCidrs.map((cidr) => ({ ipBlock: { cidr } })),
          ports: [tcp(TRITON.metricsPort)],
        },
      ],
    }),
    // The same port as the ALB's: the session manager serves /metrics next to the API. The
    // shared-secret check guards /v1 only; /metrics holds counts, never prompts or keys.
    policy('scraper-to-session-manager-metrics', {
      podSelector: { matchLabels: selector(SESSION_MANAGER.name) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: p.scraperCidrs.map((cidr) => ({ ipBlock: { cidr } })),
          ports: [tcp(SESSION_MANAGER.port)],
        },
      ],
    }),
    ...(p.publicAlbCidrs ? edgePolicies(p.publicAlbCidrs) : []),
  ];
}

function edgePolicies(publicAlbCidrs: readonly string[]): Manifest[] {
  return [
    policy('public-alb-to-gateway-edge', {
      podSelector: { matchLabels: selector(GATEWAY_EDGE.name) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: publicAlbCidrs.map((cidr) => ({ ipBlock: { cidr } })),
          ports: [tcp(GATEWAY_EDGE.port)],
        },
      ],
    }),
    policy('gateway-edge-to-session-manager', {
      podSelector: { matchLabels: selector(SESSION_MANAGER.name) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: selector(GATEWAY_EDGE.name) } }],
          ports: [tcp(SESSION_MANAGER.port)],
        },
      ],
    }),
  ];
}
