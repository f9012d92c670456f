/**
 * The API Gateway entry points, imported for real with their environment: dynalite as the key
 * table, the global test Redis as the failed-auth limiter. Events are shaped as API Gateway
 * sends them (REST keeps header case and has multiValueHeaders; HTTP API 2.0 lowercases).
 */
import type {
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
} from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createKey, revokeKey } from '#authorizer/admin';
import { generateKey } from '#authorizer/key-format';
import { parseConfig } from '#shared/config';
import { createTestTable, type Dynalite, LogCapture, startDynalite } from './support.ts';

type Handlers = typeof import('#authorizer/handler');

const CONFIG = {
  plans: { free: { requestsPerMinute: 60, burst: 10 } },
  auth: { cacheTtlSeconds: 1, failuresPerMinutePerAddress: 3 },
};
const METHOD_ARN =
  'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/v1/chat/completions';

let db: Dynalite;
let handlers: Handlers;
let table: Awaited<ReturnType<typeof createTestTable>>;
const logs = new LogCapture();
const saved = { ...process.env };

beforeAll(async () => {
  logs.start();
  db = await startDynalite();
  table = await createTestTable(db.endpoint);
  Object.assign(process.env, {
    AXON_KEYS_TABLE: table.tableName,
    AXON_DYNAMODB_ENDPOINT: db.endpoint,
    AXON_CONFIG: JSON.stringify(CONFIG),
    AXON_REDIS_URL: inject('redisUrl'),
  });
  vi.resetModules();
  handlers = await import('#authorizer/handler');
});

afterAll(async () => {
  process.env = saved;
  logs.stop();
  await db.stop();
});

const newKey = () =>
  createKey(table.client, table.tableName, { config: parseConfig(CONFIG), plan: 'free' });
let addresses = 0;
const freshAddress = () => `198.51.100.${++addresses}`;

function httpEvent(
  headers: Record<string, string>,
  sourceIp = freshAddress(),
): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: METHOD_ARN,
    identitySource: [headers.authorization ?? ''],
    routeKey: 'POST /v1/chat/completions',
    rawPath: '/v1/chat/completions',
    rawQueryString: '',
    cookies: [],
    headers,
    requestContext: { http: { sourceIp } },
  } as unknown as APIGatewayRequestAuthorizerEventV2;
}

function restEvent(
  multiValueHeaders: Record<string, string[]>,
  sourceIp = freshAddress(),
): APIGatewayRequestAuthorizerEvent {
  const headers = Object.fromEntries(
    Object.entries(multiValueHeaders).map(([k, v]) => [k, v.at(-1)]),
  );
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    resource: '/v1/chat/completions',
    path: '/v1/chat/completions',
    httpMethod: 'POST',
    headers,
    multiValueHeaders,
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: { identity: { sourceIp } },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

describe('HTTP API handler (payload 2.0, simple responses)', () => {
  it('authorizes a valid key with its id and plan as context', async () => {
    const { key, keyId } = await newKey();
    expect(await handlers.httpApiHandler(httpEvent({ authorization: `Bearer ${key}` }))).toEqual({
      isAuthorized: true,
      context: { keyId, plan: 'free' },
    });
  });

  it('refuses a missing, malformed, unknown or revoked key', async () => {
    const { key, keyId } = await newKey();
    await revokeKey(table.client, table.tableName, keyId);
    const cases: Record<string, string>[] = [
      {},
      { authorization: 'Basic x' },
      { authorization: `Bearer ${generateKey()}` },
      { authorization: `Bearer ${key}` },
    ];
    for (const headers of cases) {
      expect(await handlers.httpApiHandler(httpEvent(headers))).toEqual({ isAuthorized: false });
    }
  });

  it('refuses comma-joined duplicate Authorization headers', async () => {
    const { key } = await newKey();
    const event = httpEvent({ authorization: `Bearer ${key},Bearer ${key}` });
    expect(await handlers.httpApiHandler(event)).toEqual({ isAuthorized: false });
  });
});

describe('REST API handler (REQUEST authorizer)', () => {
  it('allows the called method for a valid key, with the key id as principal', async () => {
    const { key, keyId } = await newKey();
    expect(await handlers.restApiHandler(restEvent({ Authorization: [`bearer ${key}`] }))).toEqual({
      principalId: keyId,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN }],
      },
      context: { keyId, plan: 'free', owner: 'default' },
    });
  });

  it('answers Unauthorized (API Gateway 401) for bad keys and for two Authorization headers', async () => {
    const { key } = await newKey();
    const cases: Record<string, string[]>[] = [
      {},
      { AUTHORIZATION: ['Token x'] },
      { authorization: [`Bearer ${key}`, `Bearer ${key}`] },
    ];
    for (const headers of cases) {
      await expect(handlers.restApiHandler(restEvent(headers))).rejects.toThrow(/^Unauthorized$/);
    }
  });

  it('denies with too_many_auth_failures in the context once the source address spent its failures', async () => {
    const sourceIp = freshAddress();
    for (let i = 0; i < 3; i++) {
      await expect(
        handlers.restApiHandler(restEvent({ authorization: ['Bearer x'] }, sourceIp)),
      ).rejects.toThrow('Unauthorized');
    }
    const result = await handlers.restApiHandler(
      restEvent({ authorization: ['Bearer x'] }, sourceIp),
    );
    expect(result.policyDocument.Statement[0]).toMatchObject({
      Effect: 'Deny',
      Resource: METHOD_ARN,
    });
    expect(result.context).toEqual({ code: 'too_many_auth_failures', retryAfter: '20' });
  });
});

describe('handler module init', () => {
  it('fails the cold start when AXON_KEYS_TABLE or AXON_CONFIG is missing, naming it', async () => {
    for (const [name, pattern] of [
      ['AXON_KEYS_TABLE', /AXON_KEYS_TABLE is not set/],
      ['AXON_CONFIG', /AXON_CONFIG is not set/],
    ] as const) {
      const value = process.env[name];
      delete process.env[name];
      vi.resetModules();
      await expect(import('#authorizer/handler')).rejects.toThrow(pattern);
      process.env[name] = value;
    }
  });
});
