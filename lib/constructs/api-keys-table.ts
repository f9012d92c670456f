/**
 * The ApiKeys table (the key store of lambda/authorizer and the key CLI). Only the SHA-256 of a
 * key is stored. On-demand, point-in-time recovery, retained when the stack goes away: losing it
 * would revoke every customer's key at once.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** The table's global secondary indexes (the key CLI and authorizer query them by name). */
export const API_KEYS_INDEXES = ['byKeyId', 'byOwner'] as const;

export interface ApiKeysTableProps {
  /** @default true: the table cannot be deleted until this is turned off */
  readonly deletionProtection?: boolean;
}

export class ApiKeysTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ApiKeysTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: 'keyHash', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // `show <keyId>` and `revoke <keyId>` look a key up by its public id.
    this.table.addGlobalSecondaryIndex({
      indexName: 'byKeyId',
      partitionKey: { name: 'keyId', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // `list --owner` pages an owner's keys newest first.
    this.table.addGlobalSecondaryIndex({
      indexName: 'byOwner',
      partitionKey: { name: 'owner', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'createdAt', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /**
   * Read on the table and its two indexes, named one by one (no `index/*` wildcard); the
   * gateway never writes keys.
   */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:Query',
        'dynamodb:DescribeTable',
      ],
      resourceArns: [
        this.table.tableArn,
        ...API_KEYS_INDEXES.map((index) => `${this.table.tableArn}/index/${index}`),
      ],
    });
  }
}
