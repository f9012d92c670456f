/**
 * The Lambda entry itself, built from its environment as in AWS (with dynalite, the suite's
 * Redis and a local upstream standing in for the AWS endpoints), fed ALB events.
 */
import type { ALBEvent, ALBResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKey } from '#authorizer/admin';
import { createTestTable, type Dynalite, startDynalite } from '../authorizer/support.ts';
import { FakeUpstream, testConfig, UPSTREAM_SECRET } from './support.ts';

describe('gateway Lambda handler', () => {
  let handler: (event: ALBEvent) => Promise<ALBResult>;
  let dynalite: Dynalite;
  let upstream: FakeUpstream;
  let key: string;

  beforeAll(async () => {
    dynalite = await startDynalite();
    upstream = await FakeUpstream.start();
    const { client, tableName } = await createTestTable(dynalite.endpoint);
    ({ key } = await createKey(client, tableName, { plan: 'free', config: testConfig }));
    Object.assign(process.env, {
      AXON_CONFIG: JSON.stringify(testConfig),
      AXON_KEYS_TABLE: tableName,
      AXON_DYNAMODB_ENDPOINT: dynalite.endpoint,
      AXON_REDIS_URL: inject('redisUrl'),
      AXON_UPSTREAM_URL: upstream.url,
      AXON_UPSTREAM_SECRET: UPSTREAM_SECRET,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    ({ handler } = await import('#gateway/handler'));
  });
  afterAll(async () => {
    await upstream.stop();
    await dynalite.stop();
  });

  const event = (headers: Record<string, string[]>): ALBEvent => ({
    requestContext: {
      elb: {
        targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:111111111111:targetgroup/axon/1',
      },
    },
    httpMethod: 'GET',
    path: '/v1/models',
    multiValueQueryStringParameters: {},
    multiValueHeaders: { 'x-forwarded-for': ['203.0.113.1'], ...headers },
    body: '',
    isBase64Encoded: false,
  });

  it('admits a valid key and forwards it as the principal', async () => {
    const result = await handler(event({ authorization: [`Bearer ${key}`] }));
    expect(result.statusCode).toBe(200);
    expect(result.multiValueHeaders?.['x-ratelimit-remaining-requests']).toEqual(['2']);
    expect(upstream.seen.at(-1)?.headers['x-axon-plan']).toBe('free');
  });

  it('refuses a credential sent twice, which only multi-value headers reveal', async () => {
    const result = await handler(event({ authorization: [`Bearer ${key}`, `Bearer ${key}`] }));
    expect(result.statusCode).toBe(401);
    expect(JSON.parse(result.body ?? '')).toMatchObject({ error: { code: 'invalid_api_key' } });
  });
});
