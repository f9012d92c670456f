/**
 * Helpers for cdk-nag v3 acknowledgements. cdk-nag names a finding on a wildcard or managed
 * policy by the flattened CloudFormation value (e.g. `<LogicalId.Arn>:*`); `finding` computes that
 * name from the same token the construct used, so an acknowledgement names exactly one finding
 * and follows logical-id changes instead of breaking on them.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/** The finding name cdk-nag gives to `value` (a string that may hold tokens) in `scope`'s stack. */
export function finding(scope: IConstruct, value: string): string {
  return flattenCfnReference(Stack.of(scope).resolve(value));
}

/** Acknowledges one rule or one finding (`AwsSolutions-IAM5[Resource::…]`) on `scope`. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}
