/**
 * The Usage table: the usage ledger as the exporter writes it (lambda/usage-export), one item per
 * API key, UTC hour and model with the hour's absolute totals. Billing data: on demand,
 * point-in-time recovery, deletion protection, retained when the stack goes away. The schema
 * comes from `USAGE_TABLE` (lambda/shared/names.ts), which the exporter and its tests use too.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { USAGE_TABLE } from '#shared/names';

export class UsageTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: USAGE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: USAGE_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }
}
