/**
 * The session manager as a Fastify plugin (fastify/demo layout): external plugins, then app
 * plugins, then routes. `buildApp` makes a ready instance from explicit options, so tests and
 * the local stack can run it in-process on port 0; server.ts builds those options from the
 * environment and only starts the process.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AxonError } from '@axon/runtime/errors';
import {
  type RedisClient,
  RedisConnection,
  type RedisNode,
  type RuntimeLog,
} from '@axon/runtime/redis';
import { type SecretProvider, staticSecret } from '@axon/runtime/secrets';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { GatewaySecret } from './core/gateway-secret.ts';
import { errorFields } from './core/log-fields.ts';
import { MemorySessionStore } from './core/memory-session-store.ts';
import { ModelCatalog, type ModelsConfig } from './core/models.ts';
import { type QuotasByPlan, quotasFor, type SessionQuotas } from './core/session-quotas.ts';
import { type SessionRepository, SessionStore } from './core/session-store.ts';
import { warmUpTokenizer } from './core/tokens.ts';
import { TritonClient } from './core/triton-client.ts';
import { type InferenceClient, type WakeOptions, WakingTriton } from './core/waking.ts';
import errorHandler from './plugins/error-handler.ts';
import metrics from './plugins/metrics.ts';
import healthRoutes from './routes/health.ts';
import v1Routes from './routes/v1/index.ts';

export interface AppOptions {
  /**
   * A Redis or Cluster client the caller owns (and closes); else one of the next two. With none
   * of the three, sessions are kept in memory (local stack without redis-server; not production).
   */
  redis?: RedisClient;
  /** `redis://` or `rediss://` URL. */
  redisUrl?: string;
  /** Redis Cluster seed nodes. */
  redisClusterNodes?: readonly RedisNode[];
  /** TLS for a `redis://` URL or cluster nodes. @default false */
  redisTls?: boolean;
  /** AUTH token, or where to read it (again, after WRONGPASS/NOAUTH). */
  redisPassword?: string | SecretProvider;
  /** The Redis ACL user to connect as; absent, the `default` user. */
  redisUsername?: string;
  /** Upper bound for one Redis command. @default 2000 */
  redisCommandTimeoutMs?: number;
  /** Base URL of Triton's HTTP endpoint, e.g. `http://triton:8000`. */
  tritonUrl: string;
  /** Value of `x-axon-gateway-secret` (at least 16 characters), or where to read it. */
  gatewaySecret: string | SecretProvider;
  /**
   * Where to read the gateway secret a rotation just replaced (AWSPREVIOUS), accepted alongside
   * the current one so gateway instances that read it before the rotation keep working.
   * @default - only the current value is accepted
   */
  gatewaySecretPrevious?: SecretProvider;
  /** Least time between two re-reads of the gateway secret after a mismatch. @default 30000 */
  gatewaySecretRefreshMs?: number;
  /** Idle TTL of sessions, and the lifetime of a stored response from its creation. @default 86400 */
  sessionTtlSeconds?: number;
  /**
   * Session quotas per plan (AXON_SESSION_QUOTAS); a plan not named here, and any field a plan
   * leaves out, gets DEFAULT_SESSION_QUOTAS. @default {}
   */
  sessionQuotas?: QuotasByPlan;
  /** Generate timeout; for streams, until the first event and between events. @default 60000 */
  inferenceTimeoutMs?: number;
  /** Per-model chat template, context window and default max_tokens. @default {} */
  models?: ModelsConfig;
  /** How long Triton's model index is reused. @default 5000 */
  modelsCacheMs?: number;
  /**
   * Triton may be scaled to zero: wait this long for it to wake before answering 503
   * `model_starting` (core/waking.ts). Needs `models` to name the served models.
   * @default - Triton always runs: an unreachable Triton is 503 `inference_unavailable` at once
   */
  wake?: WakeOptions;
  /** JSON logs to stdout, or to `stream` (`true` is level info). @default false */
  logger?: boolean | { level: string; stream?: { write(line: string): void } };
  /** Extra Fastify server options (server.ts sets HTTP timeouts here). */
  fastify?: Partial<FastifyServerOptions>;
}

export interface Services {
  triton: InferenceClient;
  catalog: ModelCatalog;
  sessions: SessionRepository;
  /** The session quotas of a plan (the `x-axon-plan` the gateway sent). */
  quotas(plan: string): SessionQuotas;
  /** Whether the session store answers (Redis PING; always true in memory). */
  storeReady(timeoutMs: number): Promise<boolean>;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export const BODY_LIMIT_BYTES = 1024 * 1024;
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's `x-request-id` when it is sane, else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const value = req.headers['x-request-id'];
  return typeof value === 'string' && SANE_REQUEST_ID.test(value) ? value : randomUUID();
}

const asProvider = (value: string | SecretProvider): SecretProvider =>
  typeof value === 'string' ? staticSecret(value) : value;

export default async function serviceApp(fastify: FastifyInstance, opts: AppOptions) {
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler);

  // External plugins
  await fastify.register(metrics);

  // App plugins
  await fastify.register(errorHandler);
  let closing = false;
  fastify.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) {
      reply.header('connection', 'close');
      throw new AxonError(
        503,
        'api_error',
        'shutting_down',
        'This instance is shutting down; retry the request.',
        {
          'retry-after': '1',
        },
      );
    }
  });
  fastify.addHook('preClose', async () => {
    closing = true;
  });
  // Closing waits for every connection; a keep-alive connection whose last request finished
  // after close began would otherwise hold the process until its idle timeout.
  fastify.addHook('onResponse', async (request) => {
    if (closing) request.raw.socket?.end();
  });

  const secret = new GatewaySecret(asProvider(opts.gatewaySecret), {
    ...(opts.gatewaySecretPrevious && { previous: opts.gatewaySecretPrevious }),
    ...(opts.gatewaySecretRefreshMs !== undefined && {
      minRefreshMs: opts.gatewaySecretRefreshMs,
    }),
  });
  await secret.load();
  warmUpTokenizer();

  const log = fastify.log;
  const client = new TritonClient({
    url: opts.tritonUrl,
    timeoutMs: opts.inferenceTimeoutMs ?? 60_000,
  });
  const triton = opts.wake ? new WakingTriton(client, opts.wake) : client;
  const { demand } = fastify.metrics;
  // Each served model's demand series starts at 0, so Prometheus sees the first request as an
  // increase (a series first seen at 1 shows no increase, and would not wake Triton).
  for (const model of Object.keys(opts.models?.models ?? {})) demand.inc({ model }, 0);
  const ttlSeconds = opts.sessionTtlSeconds ?? 86_400;
  const redis = await openRedis(opts, log);
  if (!redis) {
    log.warn(
      'no Redis configured: sessions live in this process only (a dev stack, not production)',
    );
  }
  const services: Services = {
    triton,
    catalog: new ModelCatalog(
      triton,
      opts.models ?? {},
      opts.modelsCacheMs ?? 5_000,
      Date.now,
      (model) => demand.inc({ model }),
    ),
    sessions: redis
      ? new SessionStore(redis.client, {
          ttlSeconds,
          onAuthError: () => redis.refreshPassword(true),
        })
      : new MemorySessionStore(ttlSeconds),
    quotas: (plan) => quotasFor(opts.sessionQuotas ?? {}, plan),
    storeReady: async (timeoutMs) => (redis ? redis.ping(timeoutMs) : true),
  };
  fastify.decorate('services', services);
  fastify.addHook('onClose', async () => {
    await Promise.allSettled([triton.close(), redis?.close()]);
  });

  // Routes
  await fastify.register(healthRoutes);
  await fastify.register(v1Routes, { prefix: '/v1', secret });
}

/** The connection's log lines through Fastify's pino logger (fields first, then the message). */
function redisLog(log: FastifyBaseLogger): RuntimeLog {
  return {
    info: (message, fields) => log.info(fields, message),
    warn: (message, fields) => log.warn(fields, message),
    error: (message, fields) => log.error(fields, message),
  };
}

/** The Redis connection the options ask for; none at all means the in-memory store. */
async function openRedis(
  opts: AppOptions,
  log: FastifyBaseLogger,
): Promise<RedisConnection | undefined> {
  if (opts.redis) return RedisConnection.wrap(opts.redis, redisLog(log));
  if (opts.redisUrl === undefined && opts.redisClusterNodes === undefined) return undefined;
  return RedisConnection.open({
    ...(opts.redisUrl !== undefined ? { url: opts.redisUrl } : {}),
    ...(opts.redisClusterNodes !== undefined ? { clusterNodes: opts.redisClusterNodes } : {}),
    tls: opts.redisTls ?? false,
    ...(opts.redisUsername !== undefined ? { username: opts.redisUsername } : {}),
    ...(opts.redisPassword !== undefined ? { password: asProvider(opts.redisPassword) } : {}),
    commandTimeoutMs: opts.redisCommandTimeoutMs ?? 2_000,
    // A session write would rather wait out a short reconnect than fail: the session store's
    // own deadline still bounds it.
    queueWhileDisconnected: true,
    retriesPerRequest: 2,
    log: redisLog(log),
  });
}

export function serverOptions(opts: Pick<AppOptions, 'logger' | 'fastify'>): FastifyServerOptions {
  return {
    logger: opts.logger
      ? {
          level: typeof opts.logger === 'object' ? opts.logger.level : 'info',
          redact: ['req.headers["x-axon-gateway-secret"]', 'req.headers.authorization'],
          // Name, code and scrubbed message of any logged error, never its stack (log-fields.ts).
          // Fastify's type wants a `stack` in the result; leaving it out is the point.
          serializers: { err: errorFields as unknown as (e: Error) => never },
          ...(typeof opts.logger === 'object' && opts.logger.stream
            ? { stream: opts.logger.stream }
            : {}),
        }
      : false,
    bodyLimit: BODY_LIMIT_BYTES,
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Our own onRequest hook answers 503 in the envelope while closing.
    return503OnClosing: false,
    ...opts.fastify,
  };
}

/** A ready instance (not listening): call `listen({ port: 0 })` or `inject()` on it. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(options));
  try {
    await app.register(fp(serviceApp, { name: 'axon-session-manager' }), options);
    await app.ready();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}
