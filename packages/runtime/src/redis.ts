/**
 * One Redis connection per process, for the limiter in the Lambdas and the session store in the
 * session manager: a single node (`redis://`, `rediss://`) or a Redis Cluster (ElastiCache
 * cluster mode).
 *
 * - A command timeout, so a slow Redis is a fast error; reconnects by itself with a capped
 *   backoff, so work goes back to Redis when it returns.
 * - No offline queue and no per-request retries unless asked: while Redis is away a command
 *   fails at once, so the limiter's failure mode decides within its timeout. The session
 *   manager asks for both, since a session write would rather wait a moment than fail.
 * - The AUTH token comes from a `SecretProvider`. ElastiCache rotates it (ROTATE: old and new
 *   both valid; SET: only the new one); a connection made after that with the old token gets
 *   WRONGPASS. On such a reply, from a command or from a connect attempt on any cluster node,
 *   the provider is read again and the new token is put where ioredis takes it on its next
 *   connect, so a rotated token reaches running processes without a restart.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { SecretProvider } from './secrets.ts';

export type RedisClient = Redis | Cluster;

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/**
 * What the connection logs: outages, recoveries and token re-reads, never a token. Powertools'
 * Logger fits as it is; a pino logger needs its arguments swapped.
 */
export interface RuntimeLog {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

export interface RedisSettings {
  /** `redis://[:password@]host:port`, or `rediss://` for TLS; exclusive with `clusterNodes`. */
  readonly url?: string;
  /** Cluster mode: the configuration endpoint or seed nodes; exclusive with `url`. */
  readonly clusterNodes?: readonly RedisNode[];
  /** TLS for cluster nodes (ElastiCache in-transit encryption). @default false */
  readonly tls?: boolean;
  /** Longest a command may take before it fails. */
  readonly commandTimeoutMs: number;
  /**
   * The Redis ACL user to connect as (ElastiCache RBAC); absent: the `default` user, as with a
   * plain AUTH token. Fixed for the connection's life: only its password rotates.
   */
  readonly username?: string;
  /** The AUTH token; read at open and again whenever Redis rejects the one in use. */
  readonly password?: () => Promise<string | undefined>;
  /**
   * Commands sent while the connection is down wait for the reconnect (still bounded by the
   * command timeout) instead of failing at once.
   * @default false
   */
  readonly queueWhileDisconnected?: boolean;
  /** How often ioredis resends a command whose connection dropped. @default 0 */
  readonly retriesPerRequest?: number;
  /** Least time between two reads of the password provider. @default 1000 */
  readonly minRefreshIntervalMs?: number;
  readonly log?: RuntimeLog;
}

const AUTH_ERROR = /^(WRONGPASS|NOAUTH)\b/;

/** Whether Redis refused the credentials (as opposed to being down or slow). */
export function isAuthError(err: unknown): boolean {
  const message = (err as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && AUTH_ERROR.test(message);
}

/** Reconnect quickly at first, then every second at most: Redis failovers take seconds. */
function retryStrategy(times: number): number {
  return Math.min(25 * 2 ** Math.min(times, 6), 1000);
}

export class RedisConnection {
  private refreshing?: Promise<void>;
  private lastRefreshAt = 0;
  private password: string | undefined;

  private constructor(
    /** The ioredis client; callers keep it for their fast path. */
    readonly client: RedisClient,
    private readonly settings: Partial<RedisSettings>,
    password: string | undefined,
    /** false for a client the caller passed in and closes itself. */
    private readonly owned: boolean,
  ) {
    this.password = password;
    // One line per outage, not one per reconnect attempt.
    let down = false;
    const onError = (err: Error) => {
      if (isAuthError(err)) {
        void this.refreshPassword(false);
        return;
      }
      if (!down) settings.log?.warn('redis connection lost', { error: err.message });
      down = true;
    };
    client.on('error', onError);
    // A cluster reports its nodes' failures as 'node error', an AUTH refused by a node it has
    // just met among them; 'error' only carries the cluster's own.
    if (client instanceof Cluster) client.on('node error', onError);
    client.on('ready', () => {
      if (down) settings.log?.info('redis connection back', {});
      down = false;
    });
  }

  /** Connects with the current password; resolves once ready or after `readyTimeoutMs`. */
  static async open(settings: RedisSettings, readyTimeoutMs = 1000): Promise<RedisConnection> {
    if (!settings.url === !settings.clusterNodes?.length) {
      throw new Error('Redis settings need exactly one of a url or cluster nodes');
    }
    const password = settings.password ? await settings.password() : undefined;
    const queue = settings.queueWhileDisconnected ?? false;
    const common: RedisOptions = {
      commandTimeout: settings.commandTimeoutMs,
      connectTimeout: Math.max(1000, settings.commandTimeoutMs * 10),
      enableOfflineQueue: queue,
      maxRetriesPerRequest: settings.retriesPerRequest ?? 0,
      retryStrategy,
      ...(settings.username !== undefined && { username: settings.username }),
      ...(password !== undefined && { password }),
      ...(settings.tls && { tls: {} }),
    };
    let client: RedisClient;
    if (settings.clusterNodes?.length) {
      const options: ClusterOptions = {
        enableOfflineQueue: queue,
        clusterRetryStrategy: retryStrategy,
        slotsRefreshTimeout: Math.max(1000, settings.commandTimeoutMs * 10),
        redisOptions: common,
        // ElastiCache's TLS certificates name the configuration endpoint, not the node IPs.
        ...(settings.tls && { dnsLookup: (address, callback) => callback(null, address) }),
      };
      client = new Cluster([...settings.clusterNodes], options);
    } else {
      client = new Redis(settings.url as string, common);
    }
    const connection = new RedisConnection(client, settings, password, true);
    await connection.ready(readyTimeoutMs);
    return connection;
  }

  /** Uses a client someone else created and will close (tests, the local stack). */
  static wrap(client: RedisClient, log?: RuntimeLog): RedisConnection {
    return new RedisConnection(client, log ? { log } : {}, undefined, false);
  }

  /** Waits until the client is ready, at most `timeoutMs`; never throws. */
  async ready(timeoutMs: number): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.once('ready', onReady);
    });
  }

  /**
   * After a failed command: when Redis rejected our credentials (or a re-read is already under
   * way), waits for the re-read and any reconnect and resolves true, so the caller runs the
   * command once more; for any other error resolves false at once, so a dead Redis costs no
   * waiting. Callers keep the client for their fast path and consult this only on failure.
   */
  async recoverable(err: unknown): Promise<boolean> {
    if (!this.settings.password || !(isAuthError(err) || this.refreshing)) return false;
    await this.refreshPassword(true);
    return true;
  }

  /** Runs a command, once more after `recoverable` says a rotated token was the problem. */
  async run<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      return await command(this.client);
    } catch (err) {
      if (!(await this.recoverable(err))) throw err;
      return command(this.client);
    }
  }

  /**
   * Reads the token again and makes every later connect use it. `reconnect` also drops the live
   * connections when the token changed (a command was refused on one); after a refused connect
   * ioredis reconnects by itself. Concurrent callers share one read. Within
   * `minRefreshIntervalMs` of the last read the token in hand is the freshest there is, so
   * callers just retry with it and the secret store is not hammered while it and Redis disagree.
   * Never rejects: a failed read is logged and the token in hand stays.
   */
  refreshPassword(reconnect = true): Promise<void> {
    const provider = this.settings.password;
    if (!provider) return Promise.resolve();
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.lastRefreshAt < (this.settings.minRefreshIntervalMs ?? 1000)) {
      return Promise.resolve();
    }
    this.lastRefreshAt = Date.now();
    this.refreshing = (async () => {
      try {
        const next = await provider();
        const changed = next !== this.password;
        this.password = next;
        this.applyPassword(next);
        this.settings.log?.warn('redis rejected the AUTH token; re-read it from its source', {
          changed,
        });
        if (reconnect && changed) {
          this.client.disconnect(true);
          await this.ready((this.settings.commandTimeoutMs ?? 1000) * 10);
        }
      } catch (err) {
        this.settings.log?.error('could not re-read the redis AUTH token', {
          error: (err as Error).message,
        });
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private applyPassword(password: string | undefined): void {
    if (this.client instanceof Cluster) {
      // Mutated in place, never replaced: the cluster's connection pool holds this very object
      // and builds the connection to every node it meets later (a new master, a slot moved
      // after a MOVED, a node back from a failover) from it.
      this.client.options.redisOptions ??= {};
      this.client.options.redisOptions.password = password;
      for (const node of this.client.nodes('all')) node.options.password = password;
    } else {
      this.client.options.password = password;
    }
  }

  /** PING with a deadline, for readiness probes; never throws. */
  async ping(timeoutMs = 1000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await Promise.race([
        this.client.ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('ping timed out')), timeoutMs);
        }),
      ]);
      return reply === 'PONG';
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes a connection this object opened; a wrapped client is left to its owner. */
  async close(): Promise<void> {
    if (!this.owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/**
 * Redis settings from the Lambdas' environment, or undefined when none is configured:
 * - `AXON_REDIS_URL`: a full `redis://` or `rediss://` URL (local runs; may carry a password);
 * - or `AXON_REDIS_ENDPOINT` (`host:port`), `AXON_REDIS_TLS=1`, `AXON_REDIS_CLUSTER=1`, and
 *   `AXON_REDIS_AUTH_SECRET_ARN` (the AUTH token in Secrets Manager), as the CDK app sets them.
 */
export function redisSettingsFromEnv(
  env: NodeJS.ProcessEnv,
  commandTimeoutMs: number,
  password?: (secretArn: string) => SecretProvider,
  log?: RuntimeLog,
): RedisSettings | undefined {
  if (env.AXON_REDIS_URL) return { url: env.AXON_REDIS_URL, commandTimeoutMs, ...(log && { log }) };
  const endpoint = env.AXON_REDIS_ENDPOINT;
  if (!endpoint) return undefined;
  const match = /^([^:\s]+):(\d{1,5})$/.exec(endpoint);
  if (!match)
    throw new Error(`AXON_REDIS_ENDPOINT must be host:port, got ${JSON.stringify(endpoint)}`);
  const [, host = '', port = ''] = match;
  const tls = env.AXON_REDIS_TLS === '1';
  const secretArn = env.AXON_REDIS_AUTH_SECRET_ARN;
  const username = env.AXON_REDIS_USERNAME;
  if (secretArn && !password)
    throw new Error('AXON_REDIS_AUTH_SECRET_ARN is set but no secret reader was given');
  return {
    ...(env.AXON_REDIS_CLUSTER === '1'
      ? { clusterNodes: [{ host, port: Number(port) }] }
      : { url: `${tls ? 'rediss' : 'redis'}://${host}:${port}` }),
    tls,
    commandTimeoutMs,
    ...(username && { username }),
    ...(secretArn && password && { password: password(secretArn) }),
    ...(log && { log }),
  };
}
