import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { implicitLogGroupProblems } from './log-groups.ts';

const LOGGING = { ClusterLogging: { EnabledTypes: [{ Type: 'api' }, { Type: 'audit' }] } };

function templateOf(resources: Record<string, unknown>): Template {
  return Template.fromJSON({ Resources: resources });
}

const group = (name: string, retention?: number) => ({
  Type: 'AWS::Logs::LogGroup',
  Properties: { LogGroupName: name, ...(retention && { RetentionInDays: retention }) },
});

describe('log groups EKS would otherwise create itself', () => {
  it('accepts a named cluster that depends on its control-plane group with retention', () => {
    const template = templateOf({
      Logs: group('/aws/eks/axon-dev/cluster', 90),
      Cluster: {
        Type: 'AWS::EKS::Cluster',
        Properties: { Name: 'axon-dev', Logging: LOGGING },
        DependsOn: ['Logs'],
      },
    });
    expect(implicitLogGroupProblems([template])).toEqual([]);
  });

  it('refuses a cluster whose name CloudFormation generates', () => {
    const template = templateOf({
      Cluster: { Type: 'AWS::EKS::Cluster', Properties: { Logging: LOGGING } },
    });
    expect(implicitLogGroupProblems([template])).toEqual([
      expect.stringMatching(/name is generated at deploy time.*no retention/),
    ]);
  });

  it('refuses a missing group, a group without retention and a cluster created before it', () => {
    const named = { Type: 'AWS::EKS::Cluster', Properties: { Name: 'c', Logging: LOGGING } };
    expect(implicitLogGroupProblems([templateOf({ Cluster: named })])).toEqual([
      expect.stringMatching(/no AWS::Logs::LogGroup \/aws\/eks\/c\/cluster/),
    ]);
    expect(
      implicitLogGroupProblems([
        templateOf({ Logs: group('/aws/eks/c/cluster'), Cluster: { ...named, DependsOn: 'Logs' } }),
      ]),
    ).toEqual([expect.stringMatching(/has no RetentionInDays/)]);
    expect(
      implicitLogGroupProblems([
        templateOf({ Logs: group('/aws/eks/c/cluster', 7), Cluster: named }),
      ]),
    ).toEqual([expect.stringMatching(/does not depend on Logs/)]);
  });

  it('ignores a cluster that sends no control-plane logs', () => {
    const template = templateOf({ Cluster: { Type: 'AWS::EKS::Cluster', Properties: {} } });
    expect(implicitLogGroupProblems([template])).toEqual([]);
  });
});
