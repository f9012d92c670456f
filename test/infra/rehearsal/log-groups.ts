/**
 * Log groups AWS services create on their own when they are missing, with no retention: logs
 * kept forever and billed forever. The EKS control plane writes `/aws/eks/<cluster>/cluster`;
 * if that group does not exist when it first logs, EKS creates it without retention, and a
 * CloudFormation log group of the same name created afterwards fails ("already exists").
 * So the stack must create the group itself, with retention, and before the cluster.
 */
import type { Template } from 'aws-cdk-lib/assertions';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation resources are untyped JSON
type Resource = { Type: string; Properties?: any; DependsOn?: string | string[] };

/** Problems with the log groups the templates' EKS clusters will write to; empty when none. */
export function implicitLogGroupProblems(templates: readonly Template[]): string[] {
  const problems: string[] = [];
  for (const template of templates) {
    const resources: Record<string, Resource> = template.toJSON().Resources ?? {};
    const groups = new Map<string, [string, Resource]>();
    for (const [id, r] of Object.entries(resources)) {
      const name = r.Properties?.LogGroupName;
      if (r.Type === 'AWS::Logs::LogGroup' && typeof name === 'string') groups.set(name, [id, r]);
    }
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::EKS::Cluster') continue;
      const enabled = r.Properties?.Logging?.ClusterLogging?.EnabledTypes ?? [];
      if (enabled.length === 0) continue;
      const name = r.Properties?.Name;
      if (typeof name !== 'string') {
        problems.push(
          `${id}: EKS cluster logs ${enabled.map((t: { Type: string }) => t.Type).join(', ')} to /aws/eks/<name>/cluster, but its name is generated at deploy time, so the stack cannot create that log group first; EKS creates it with no retention (logs never expire). Give the cluster a fixed name and create the group before it`,
        );
        continue;
      }
      const groupName = `/aws/eks/${name}/cluster`;
      const group = groups.get(groupName);
      if (!group) {
        problems.push(
          `${id}: no AWS::Logs::LogGroup ${groupName} in its template; EKS would create it with no retention`,
        );
        continue;
      }
      const [groupId, groupResource] = group;
      if (groupResource.Properties?.RetentionInDays === undefined) {
        problems.push(`${groupId}: ${groupName} has no RetentionInDays, so its logs never expire`);
      }
      const dependsOn = [r.DependsOn ?? []].flat();
      if (!dependsOn.includes(groupId)) {
        problems.push(
          `${id}: does not depend on ${groupId} (${groupName}); CloudFormation may create the cluster first, EKS then creates the group itself and the stack's group fails as already existing`,
        );
      }
    }
  }
  return problems;
}
