/** Startup rules: the processes the plane runs find the configuration they read at start. */
import { SESSION_MANAGER, TRITON } from '../../../lib/k8s/versions.ts';
import { ConfigError, loadServerConfig } from '../../../services/session-manager/src/config.ts';
import type { ClusterModel, K8sObject } from './cluster.ts';
import type { Rule } from './rules.ts';
import { namespaceOf, type Workload, workloads } from './workloads.ts';

/** Stands for a value read from a Secret or a field at runtime: present, content unknown. */
const FROM_ELSEWHERE = 'value-from-elsewhere';

/** A pod's environment as the process sees it; values from elsewhere become placeholders. */
function environmentOf(
  cluster: ClusterModel,
  namespace: string,
  container: K8sObject,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const map = source.configMapRef
      ? cluster.objects.find(
          (a) =>
            a.object.kind === 'ConfigMap' &&
            a.object.metadata?.name === source.configMapRef.name &&
            namespaceOf(a.object) === namespace,
        )?.object
      : undefined;
    for (const [key, value] of Object.entries<string>(map?.data ?? {}))
      env[`${source.prefix ?? ''}${key}`] = value;
  }
  for (const e of container.env ?? []) {
    // A value from a Secret or field is present at runtime; its content cannot be known here.
    env[e.name] = e.value ?? (e.valueFrom ? FROM_ELSEWHERE : '');
  }
  return env;
}

function deploymentNamed(cluster: ClusterModel, name: string): Workload | undefined {
  return workloads(cluster).find((w) => w.kind === 'Deployment' && w.name === name);
}

/**
 * Every environment variable the session manager and Triton need at startup is set. For the
 * session manager the check is its own startup code: the Deployment's environment goes through
 * `loadServerConfig`, which throws on a missing or malformed variable exactly as the pod would.
 * For Triton: the model repository argument, and an AWS region when that repository is on S3.
 */
export const startupEnvironmentIsSet: Rule = (cluster) => {
  const problems: string[] = [];
  const sessionManager = deploymentNamed(cluster, SESSION_MANAGER.name);
  if (!sessionManager) {
    problems.push(`no Deployment ${SESSION_MANAGER.name} is applied`);
  } else {
    const containers: K8sObject[] = sessionManager.podSpec.containers ?? [];
    const container =
      containers.find((c) => c.name === SESSION_MANAGER.name) ?? containers[0] ?? {};
    const env = environmentOf(cluster, sessionManager.namespace, container);
    try {
      loadServerConfig(env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // A complaint about the format ("X must be ...") of a value read at runtime cannot be
      // judged here; a missing or conflicting variable can.
      const unknowable =
        /\bmust\b/.test(error.message) &&
        Object.keys(env).some(
          (name) => env[name] === FROM_ELSEWHERE && new RegExp(`\\b${name}\\b`).test(error.message),
        );
      if (!unknowable)
        problems.push(
          `${sessionManager.applied.source}: Deployment ${SESSION_MANAGER.name} would exit at startup: ${error.message}`,
        );
    }
  }

  const triton = deploymentNamed(cluster, TRITON.name);
  if (!triton) {
    problems.push(`no Deployment ${TRITON.name} is applied`);
    return problems;
  }
  const what = `${triton.applied.source}: Deployment ${TRITON.name}`;
  const containers: K8sObject[] = triton.podSpec.containers ?? [];
  const server = containers.find((c) =>
    [c.image, ...(c.command ?? []), ...(c.args ?? [])].some((s) => /tritonserver/.test(String(s))),
  );
  if (!server) {
    problems.push(`${what}: no container runs tritonserver`);
    return problems;
  }
  const commandLine = [...(server.command ?? []), ...(server.args ?? [])].join(' ');
  const repository = /--model-repository(?:=|\s+)(\S+)/.exec(commandLine)?.[1];
  if (!repository) {
    problems.push(`${what}: tritonserver is started without --model-repository, so it exits`);
  }
  const env = environmentOf(cluster, triton.namespace, server);
  if (repository?.startsWith('s3://') && !env.AWS_REGION && !env.AWS_DEFAULT_REGION) {
    problems.push(
      `${what}: the model repository is on S3 (${repository}) but neither AWS_REGION nor AWS_DEFAULT_REGION is set`,
    );
  }
  return problems;
};
