/**
 * A gateway assembled from real parts for tests: the authorizer on dynalite, the limiter on the
 * suite's redis-server, and a real HTTP server on a free port standing in for the session
 * manager (the end-to-end tests use the real one), whose answers each test can script.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RedisConnection } from '@axon/runtime/redis';
import type { SecretProvider } from '@axon/runtime/secrets';
import { createKey } from '#authorizer/admin';
import { authorizerFromEnv } from '#authorizer/setup';
import { Gateway, leaseTtlMs } from '#gateway/gateway';
import type { GatewayRequest, Headers } from '#gateway/http';
import { CountingMetrics } from '#gateway/metrics';
import { OrganizationApi } from '#gateway/organization-api';
import { Pricing } from '#gateway/pricing';
import { MAX_RESPONSE_BYTES } from '#gateway/setup';
import { Upstream } from '#gateway/upstream';
import type { UsageSource } from '#gateway/usage-api';
import { type AxonConfig, parseConfig } from '#shared/config';
import { limiterFromEnv } from '#token-bucket/setup';
import { createTestTable, type Dynalite, startDynalite } from '../authorizer/support.ts';

export const UPSTREAM_SECRET = 'test-upstream-secret-7d1f';

export const testConfig: AxonConfig = parseConfig({
  plans: {
    free: { requestsPerMinute: 60, burst: 3, tokensPerMinute: 1000 },
    pro: { requestsPerMinute: 6000, burst: 1000 },
  },
  rateLimiter: { failureMode: 'open', redisTimeoutMs: 200 },
  auth: { cacheTtlSeconds: 30, failuresPerMinutePerAddress: 50 },
});

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Script = (req: SeenRequest, res: ServerResponse) => unknown;

/** The session manager's stand-in: records what it receives, answers as the test says. */
export class FakeUpstream {
  readonly seen: SeenRequest[] = [];
  script: Script = (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, path: req.url }));
  };
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeUpstream> {
    let self: FakeUpstream | undefined;
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      self?.seen.push(seen);
      await self?.script(seen, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new FakeUpstream(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** What a fresh gateway instance (a new Lambda container) is given for its upstream secret. */
export interface InstanceOptions {
  secret: string;
  readSecret?: SecretProvider;
}

export interface Fixture {
  gateway: Gateway;
  /** The limiter's Redis connection, when the fixture has one (tests that kill a gateway). */
  redis?: RedisConnection;
  /** Another gateway instance sharing this one's authorizer, limiter and upstream URL. */
  instance(options: InstanceOptions): Gateway;
  metrics: CountingMetrics;
  upstream: FakeUpstream;
  dynalite: Dynalite;
  /** The gateway's key table, for tests that rotate, update or revoke keys. */
  table: { client: DynamoDBDocumentClient; tableName: string };
  /** A key of `plan` (default `free`), with its own `models` when given. */
  newKey(plan?: string, models?: readonly string[]): Promise<{ key: string; keyId: string }>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** What the admin API's usage and costs routes read; absent: they answer 503. */
  usage?: UsageSource;
  redisUrl?: string;
  /** A Redis Cluster node to reach the limiter's cluster through, instead of `redisUrl`. */
  redisCluster?: { host: string; port: number };
  config?: AxonConfig;
  upstreamUrl?: string;
  upstreamTimeoutMs?: number;
  maxResponseBytes?: number;
  maxBodyBytes?: number;
}

export async function startFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const config = options.config ?? testConfig;
  const dynalite = await startDynalite();
  const { client, tableName } = await createTestTable(dynalite.endpoint);
  const upstream = await FakeUpstream.start();
  const log = new Logger({ serviceName: 'gateway-test', logLevel: 'ERROR' });
  const env = {
    AXON_KEYS_TABLE: tableName,
    AXON_DYNAMODB_ENDPOINT: dynalite.endpoint,
    ...(options.redisUrl && { AXON_REDIS_URL: options.redisUrl }),
    ...(options.redisCluster && {
      AXON_REDIS_ENDPOINT: `${options.redisCluster.host}:${options.redisCluster.port}`,
      AXON_REDIS_CLUSTER: '1',
    }),
  };
  const metrics = new CountingMetrics();
  const { limiter, redis } = await limiterFromEnv(config, log, env, () =>
    metrics.count('RedisErrors'),
  );
  const authorizer = authorizerFromEnv({ config, failures: limiter, log, env });
  const instance = ({ secret, readSecret }: InstanceOptions) => {
    const forwarder = new Upstream({
      url: options.upstreamUrl ?? upstream.url,
      timeoutMs: options.upstreamTimeoutMs ?? 2000,
      secret,
      ...(readSecret && { readSecret }),
      maxResponseBytes: options.maxResponseBytes ?? MAX_RESPONSE_BYTES,
    });
    return new Gateway({
      authorizer,
      limiter,
      upstream: forwarder,
      metrics,
      log,
      leaseTtlMs: leaseTtlMs(config),
      pricing: new Pricing(config.prices),
      admin: new OrganizationApi({
        keys: { client, tableName },
        config,
        ...(options.usage && { usage: options.usage }),
      }),
      ...(options.maxBodyBytes !== undefined && { maxBodyBytes: options.maxBodyBytes }),
    });
  };
  return {
    gateway: instance({ secret: UPSTREAM_SECRET }),
    instance,
    ...(redis && { redis }),
    metrics,
    upstream,
    dynalite,
    table: { client, tableName },
    newKey: async (plan = 'free', models?: readonly string[]) =>
      createKey(client, tableName, { plan, config, ...(models && { models }) }),
    close: async () => {
      await redis?.close();
      await upstream.stop();
      await dynalite.stop();
    },
  };
}

export function request(
  method: string,
  path: string,
  headers: Record<string, string | string[]> = {},
  body: string | Buffer = '',
): GatewayRequest {
  const map: Headers = new Map();
  for (const [name, value] of Object.entries(headers)) map.set(name.toLowerCase(), [value].flat());
  const [pathOnly = '/', query = ''] = path.split('?');
  return { method, path: pathOnly, query, headers: map, body: Buffer.from(body) };
}

export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}`, 'x-forwarded-for': '198.51.100.7' };
}

export function json(body: Buffer): Record<string, unknown> {
  return JSON.parse(body.toString()) as Record<string, unknown>;
}
