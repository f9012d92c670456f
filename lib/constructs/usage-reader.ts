/**
 * Makes the gateway a reader of the Usage table for the admin API's usage and costs routes
 * (lambda/gateway/usage-api.ts): the table's name in `AXON_USAGE_TABLE`, the variable
 * lambda/gateway/setup.ts reads, and on that table only `dynamodb:Query` (one per key and range of
 * hours) and `dynamodb:GetItem` (the exporter's checkpoint, which says from which hour the
 * limiter's ledger is read live); no Scan, no write. Grant and variable go together.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '#shared/names';
import type { EnvironmentGrantee } from './bindable.ts';
import type { UsageTable } from './usage-table.ts';

export function bindUsageReader(usage: UsageTable, grantee: EnvironmentGrantee): iam.Grant {
  grantee.addEnvironment(ENV.usageTable, usage.tableName);
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['dynamodb:GetItem', 'dynamodb:Query'],
    resourceArns: [usage.table.tableArn],
  });
}
