/**
 * ApiKeysTable alone: its default, the schema taken from the shared names, and `bindReader`,
 * which grants read and names the table to a function in one call.
 */
import { Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { describe, it } from 'vitest';
import { API_KEYS_TABLE, ENV } from '#shared/names';
import { ApiKeysTable } from '../../../lib/constructs/api-keys-table.ts';
import { AxonFunction } from '../../../lib/constructs/axon-function.ts';
import { FIXTURES } from '../support.ts';
import { bareStack, template } from './support.ts';

const TABLE = 'AWS::DynamoDB::Table';

describe('ApiKeysTable defaults', () => {
  it('is protected from deletion', () => {
    const { stack } = bareStack();
    new ApiKeysTable(stack, 'Keys');
    template(stack).hasResourceProperties(TABLE, { DeletionProtectionEnabled: true });
  });
});

describe('ApiKeysTable props', () => {
  it('lets deletion protection be turned off', () => {
    const { stack } = bareStack();
    new ApiKeysTable(stack, 'Keys', { deletionProtection: false });
    template(stack).hasResourceProperties(TABLE, { DeletionProtectionEnabled: false });
  });
});

describe('ApiKeysTable schema', () => {
  it('is keyed and indexed by the names the runtime queries with', () => {
    const { stack } = bareStack();
    new ApiKeysTable(stack, 'Keys');
    const { byKeyId, byOwner } = API_KEYS_TABLE.indexes;
    template(stack).hasResourceProperties(TABLE, {
      KeySchema: [{ AttributeName: API_KEYS_TABLE.partitionKey, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: byKeyId.name,
          KeySchema: [{ AttributeName: byKeyId.partitionKey, KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: byOwner.name,
          KeySchema: [
            { AttributeName: byOwner.partitionKey, KeyType: 'HASH' },
            { AttributeName: byOwner.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });
});

describe('ApiKeysTable.bindReader', () => {
  const { stack, vpc } = bareStack();
  const table = new ApiKeysTable(stack, 'Keys');
  const reader = new AxonFunction(stack, 'Reader', {
    entry: FIXTURES.gatewayEntry,
    description: 'reads keys',
    vpc,
    securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
  });
  table.bindReader(reader);
  const t = template(stack);
  const id = Object.keys(t.findResources(TABLE))[0] ?? '';
  const arn = { 'Fn::GetAtt': [id, 'Arn'] };
  const index = (name: string) => ({ 'Fn::Join': ['', [arn, `/index/${name}`]] });

  it('names the table in the variable the authorizer reads', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.keysTable]: { Ref: id } }) },
    });
  });

  it('grants read on the table and each index by name, and no write', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'dynamodb:BatchGetItem',
              'dynamodb:DescribeTable',
              'dynamodb:GetItem',
              'dynamodb:Query',
            ],
            Resource: [
              arn,
              index(API_KEYS_TABLE.indexes.byKeyId.name),
              index(API_KEYS_TABLE.indexes.byOwner.name),
            ],
          },
        ],
      },
    });
  });
});
