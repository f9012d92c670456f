/**
 * The one way lib/ acknowledges a cdk-nag finding: `acknowledge(scope, id, reason)`. It writes
 * the same `Validations` metadata cdk-nag v3 reads, but a reason is a required argument, so
 * test/infra/nag.test.ts can hold every acknowledgement to a real reason and catch stale ones.
 *
 * cdk-nag is used through its public API only (`from 'cdk-nag'`); its internal helpers are not
 * part of its contract and may move in any release.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The finding name cdk-nag gives to `value` (a string that may hold tokens) in `scope`'s stack,
 * for acknowledging one wildcard or managed-policy finding (`AwsSolutions-IAM5[Resource::…]`).
 * cdk-nag names such a finding after the resolved CloudFormation value with each intrinsic
 * written out flat: `Ref` as `<Id>`, `Fn::GetAtt` as `<Id.Attr>`, `Fn::Join` joined, `Fn::Sub`
 * and `Fn::ImportValue` as their argument, `${X}` in a string as `<X>`. Computing the name from the
 * same token the construct used keeps the acknowledgement right when a logical ID changes.
 */
export function finding(scope: IConstruct, value: string): string {
  return flat(Stack.of(scope).resolve(value));
}

function flat(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replaceAll('${', '<').replaceAll('}', '>');
  if (node !== null && typeof node === 'object' && !Array.isArray(node)) {
    const o = node as Record<string, unknown>;
    if (o['Fn::Join']) {
      const [delimiter, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(flat).join(delimiter);
    }
    if (o['Fn::Sub']) return flat(o['Fn::Sub']);
    if (o['Fn::GetAtt']) {
      const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
      return `<${flat(resource)}.${flat(attribute)}>`;
    }
    if (o['Fn::ImportValue']) return flat(o['Fn::ImportValue']);
    if (o.Ref) return `<${flat(o.Ref)}>`;
  }
  return JSON.stringify(node);
}

/**
 * Acknowledges one rule, or one finding of a rule (`AwsSolutions-IAM5[Resource::…]`), on `scope`
 * and what lies under it. `reason` is what a reviewer reads: say why the finding is acceptable
 * here, not that it is.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}
