/**
 * The Redis connection: one node (`redis://`, `rediss://`) or a cluster (ElastiCache cluster
 * mode), with the AUTH token from a SecretProvider. ElastiCache rotates the token (ROTATE, then
 * SET), after which a reconnect with the old token gets WRONGPASS. On such a reply the
 * connection reads the provider again, puts the new token where ioredis takes it on the next
 * connect, and reconnects; callers retry the command once (see SessionStore).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { SecretProvider } from './secrets.ts';

export type RedisClient = Redis | Cluster;

export interface ClusterNode {
  host: string;
  port: number;
}

export interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RedisConnectOptions {
  /** `redis://[:password@]host:port` or `rediss://...` (TLS). */
  url?: string;
  /** Cluster seed nodes; exclusive with `url`. */
  clusterNodes?: readonly ClusterNode[];
  /** TLS for `redis://` URLs and cluster nodes (ElastiCache in-transit encryption). */
  tls?: boolean;
  /** The AUTH token, read at connect and again after WRONGPASS/NOAUTH. */
  password?: SecretProvider;
  /** Upper bound for one command, queued or sent. @default 2000 */
  commandTimeoutMs?: number;
  /** Least time between two reads of the provider. @default 1000 */
  minRefreshIntervalMs?: number;
  log: Log;
}

export function isAuthError(error: unknown): boolean {
  const message = (error as { message?: unknown })?.message;
  return typeof message === 'string' && /^(WRONGPASS|NOAUTH)\b/.test(message);
}

export class RedisConnection {
  private refreshing?: Promise<void>;
  private lastRefreshAt = 0;

  private constructor(
    readonly client: RedisClient,
    private readonly options: RedisConnectOptions,
    private password: string | undefined,
    /** false for a client the caller passed in and keeps closing itself. */
    private readonly owned = true,
  ) {
    // One line per outage, not one per reconnect attempt.
    let down = false;
    const onError = (error: Error) => {
      if (isAuthError(error)) {
        void this.refreshAuth(false).catch(() => undefined);
        return;
      }
      if (!down) options.log.warn({ err: { message: error.message } }, 'redis connection lost');
      down = true;
    };
    client.on('error', onError);
    client.on('ready', () => {
      if (down) options.log.info({}, 'redis connection back');
      down = false;
    });
    // A cluster reports its nodes' failures (an AUTH refused on one node) as 'node error'.
    if (client instanceof Cluster) client.on('node error', onError);
  }

  /** Uses a client someone else created and will close (tests, the local stack). */
  static wrap(client: RedisClient, log: Log): RedisConnection {
    return new RedisConnection(client, { log }, undefined, false);
  }

  static async open(options: RedisConnectOptions): Promise<RedisConnection> {
    if (!options.url === !options.clusterNodes) {
      throw new Error(
        'Redis needs exactly one of a URL (REDIS_URL) or cluster nodes (REDIS_CLUSTER_NODES)',
      );
    }
    const password = options.password ? await options.password() : undefined;
    const common: RedisOptions = {
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      maxRetriesPerRequest: 2,
      ...(password !== undefined ? { password } : {}),
      ...(options.tls ? { tls: {} } : {}),
    };
    const client = options.url
      ? new Redis(options.url, common)
      : new Cluster([...(options.clusterNodes ?? [])], {
          redisOptions: common,
          // ElastiCache's TLS certificates name the configuration endpoint, not node IPs.
          ...(options.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
          slotsRefreshTimeout: 2_000,
        });
    return new RedisConnection(client, options, password);
  }

  /**
   * Reads the token again and makes the next connect use it. `reconnect` drops a live
   * connection too (a command got NOAUTH on it); after a failed AUTH ioredis reconnects itself.
   * Concurrent callers share one refresh. Within minRefreshIntervalMs of the last read the token
   * in hand is the freshest there is, so callers just retry with it (and the secret store is not
   * hammered while Redis and the secret disagree).
   */
  refreshAuth(reconnect: boolean): Promise<void> {
    if (!this.options.password) return Promise.resolve();
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.lastRefreshAt < (this.options.minRefreshIntervalMs ?? 1_000)) {
      return Promise.resolve();
    }
    this.lastRefreshAt = Date.now();
    this.refreshing = (async () => {
      const next = await (this.options.password as SecretProvider)();
      const changed = next !== this.password;
      this.password = next;
      this.applyPassword(next);
      this.options.log.warn(
        { changed },
        'redis rejected the AUTH token; re-read it from its source',
      );
      if (reconnect && changed) this.client.disconnect(true);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private applyPassword(password: string): void {
    if (this.client instanceof Cluster) {
      // Mutated in place: the cluster's connection pool holds this very object and builds
      // connections to new or returning nodes from it.
      this.client.options.redisOptions ??= {};
      this.client.options.redisOptions.password = password;
      for (const node of this.client.nodes('all')) node.options.password = password;
    } else {
      this.client.options.password = password;
    }
  }

  /** PING with a deadline, for readiness. */
  async ping(timeoutMs = 1_000): Promise<boolean> {
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

  async close(): Promise<void> {
    if (!this.owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
