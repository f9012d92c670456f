/**
 * The ApiKeys table (the key store of lambda/authorizer and the key CLI). Only the SHA-256 of a
 * key is stored. On-demand, point-in-time recovery, retained when the stack goes away: losing it
 * would revoke every customer's key at once. The schema comes from `API_KEYS_TABLE` in
 * lambda/shared/names.ts, which the runtime's queries and the local table use too.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { API_KEYS_TABLE, ENV, KEY_RECORD_ATTRIBUTES } from '#shared/names';
import type { EnvironmentGrantee } from './bindable.ts';

export interface ApiKeysTableProps {
  /** @default true - the table cannot be deleted until this is turned off */
  readonly deletionProtection?: boolean;
}

const { byKeyId, byOwner } = API_KEYS_TABLE.indexes;

export class ApiKeysTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ApiKeysTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: API_KEYS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // `show <keyId>` and `revoke <keyId>` look a key up by its public id.
    this.table.addGlobalSecondaryIndex({
      indexName: byKeyId.name,
      partitionKey: { name: byKeyId.partitionKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // `list --owner` pages an owner's keys newest first.
    this.table.addGlobalSecondaryIndex({
      indexName: byOwner.name,
      partitionKey: { name: byOwner.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: byOwner.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /**
   * Makes `fn` a reader of the keys: read on the table and its indexes, and the table's name in
   * `AXON_KEYS_TABLE`, the variable lambda/authorizer/setup.ts reads. Grant and variable go
   * together, so a function can never get one without the other.
   */
  bindReader(fn: EnvironmentGrantee): iam.Grant {
    fn.addEnvironment(ENV.keysTable, this.tableName);
    return this.grantRead(fn);
  }

  /**
   * What the gateway needs: read (`bindReader`, the authorizer), and the admin API's writes
   * (`grantKeyAdmin`), which include the authorizer's last-used stamp.
   */
  bindGateway(fn: EnvironmentGrantee): void {
    this.bindReader(fn);
    this.grantKeyAdmin(fn);
  }

  /**
   * The admin API's writes (lambda/gateway/organization-api.ts over lambda/authorizer/admin.ts):
   * `PutItem` (create, rotate) and `UpdateItem` (revoke, update, the last-used stamp) on the
   * table only, restricted to the key record's own attributes (`KEY_RECORD_ATTRIBUTES`), and
   * `Scan` (the list routes). No `DeleteItem`: deleting a key revokes it, the record stays.
   */
  grantKeyAdmin(grantee: iam.IGrantable): iam.Grant {
    const write = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resourceArns: [this.table.tableArn],
      conditions: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...KEY_RECORD_ATTRIBUTES] },
        StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'ALL_NEW'] },
      },
    });
    return write.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['dynamodb:Scan'],
        resourceArns: [this.table.tableArn],
      }),
    );
  }

  /**
   * `UpdateItem` on the table restricted to the key and `lastUsedAt` (the authorizer's
   * conditional stamp, lambda/authorizer/key-store.ts `touch`), returning nothing: whoever holds
   * only this can neither change a key's plan, models or status nor read anything through it.
   */
  grantLastUsed(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:UpdateItem'],
      resourceArns: [this.table.tableArn],
      conditions: {
        'ForAllValues:StringEquals': {
          'dynamodb:Attributes': [API_KEYS_TABLE.partitionKey, 'lastUsedAt'],
        },
        StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE'] },
      },
    });
  }

  /**
   * Read on the table and its two indexes, named one by one (no `index/*` wildcard); a reader
   * alone never writes keys.
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
        ...[byKeyId.name, byOwner.name].map((index) => `${this.table.tableArn}/index/${index}`),
      ],
    });
  }
}
