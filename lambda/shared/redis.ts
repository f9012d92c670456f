/**
 * One Redis connection per process, tuned for a rate limiter in a request path:
 * - no offline queue and no per-request retries: while Redis is away a command fails at once
 *   instead of waiting in a queue, so the limiter's failure mode decides within its timeout;
 * - a command timeout, so a slow Redis is a fast error;
 * - reconnects by itself with a capped backoff, so decisions go back to Redis when it returns;
 * - the AUTH token is re-read (Secrets Manager in AWS) when Redis answers WRONGPASS or NOAUTH,
 *   which is how a rotated token reaches running instances without a restart.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Log } from './logger.ts';

export type RedisClient = Redis | Cluster;

export interface RedisSettings {
  /** `redis://[:password@]host:port` or `rediss://` for TLS (single node). */
  readonly url?: string;
  /** Cluster mode: the configuration endpoint or seed nodes. */
  readonly clusterNodes?: readonly { host: string; port: number }[];
  readonly tls?: boolean;
  /** Longest a command may take before it fails. */
  readonly commandTimeoutMs: number;
  /** Current AUTH token; called at start and again whenever Redis rejects the one in use. */
  readonly password?: () => Promise<string | undefined>;
  readonly log?: Log;
}

const AUTH_ERROR = /^(WRONGPASS|NOAUTH)/;

export function isAuthError(err: unknown): boolean {
  return err instanceof Error && AUTH_ERROR.test(err.message);
}

/** Reconnect quickly at first, then every second at most: Redis failovers take seconds. */
function retryStrategy(times: number): number {
  return Math.min(25 * 2 ** Math.min(times, 6), 1000);
}

export class RedisConnection {
  private refreshing?: Promise<void>;
  private lastRefresh = 0;

  private constructor(
    readonly client: RedisClient,
    private readonly settings: RedisSettings,
  ) {
    client.on('error', (err: Error) => {
      if (isAuthError(err)) void this.refreshPassword();
      else settings.log?.debug('redis connection error', { error: err.message });
    });
  }

  /** Connects with the current password; resolves once ready or after `readyTimeoutMs`. */
  static async open(settings: RedisSettings, readyTimeoutMs = 1000): Promise<RedisConnection> {
    const password = settings.password ? await settings.password() : undefined;
    const common: RedisOptions = {
      commandTimeout: settings.commandTimeoutMs,
      connectTimeout: Math.max(1000, settings.commandTimeoutMs * 10),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy,
      ...(password !== undefined && { password }),
      ...(settings.tls && { tls: {} }),
    };
    let client: RedisClient;
    if (settings.clusterNodes?.length) {
      const options: ClusterOptions = {
        enableOfflineQueue: false,
        clusterRetryStrategy: retryStrategy,
        slotsRefreshTimeout: Math.max(1000, settings.commandTimeoutMs * 10),
        redisOptions: common,
        // ElastiCache TLS certificates name the endpoint, not the node IPs.
        ...(settings.tls && { dnsLookup: (address, callback) => callback(null, address) }),
      };
      client = new Cluster([...settings.clusterNodes], options);
    } else if (settings.url) {
      client = new Redis(settings.url, common);
    } else {
      throw new Error('Redis settings need a url or clusterNodes');
    }
    const connection = new RedisConnection(client, settings);
    await connection.ready(readyTimeoutMs);
    return connection;
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
   * way), waits for the re-read and the reconnect and resolves true, so the caller runs the
   * command once more; for any other error resolves false at once, so a dead Redis costs no
   * waiting. Callers keep the client for their fast path and consult this only on failure.
   */
  async recoverable(err: unknown): Promise<boolean> {
    if (!this.settings.password || !(isAuthError(err) || this.refreshing)) return false;
    await this.refreshPassword();
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
   * Re-reads the password (at most once a second), reconnects with it and resolves once the
   * client is ready again or the wait runs out.
   */
  refreshPassword(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    const provider = this.settings.password;
    if (!provider || Date.now() - this.lastRefresh < 1000) return Promise.resolve();
    this.lastRefresh = Date.now();
    this.refreshing = (async () => {
      try {
        this.setPassword(await provider());
        this.settings.log?.warn('redis rejected the AUTH token; re-read it and reconnecting');
        this.client.disconnect(true);
        await this.ready(this.settings.commandTimeoutMs * 10);
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

  private setPassword(password: string | undefined): void {
    if (this.client instanceof Cluster) {
      this.client.options.redisOptions = { ...this.client.options.redisOptions, password };
      for (const node of this.client.nodes()) node.options.password = password;
    } else {
      this.client.options.password = password;
    }
  }

  async close(): Promise<void> {
    this.client.disconnect(false);
  }
}

/**
 * Redis settings from the environment, or undefined when none is configured:
 * - `AXON_REDIS_URL`: a full `redis://` or `rediss://` URL (local runs; may carry a password);
 * - or `AXON_REDIS_ENDPOINT` (`host:port`), `AXON_REDIS_TLS=1`, `AXON_REDIS_CLUSTER=1`, and
 *   `AXON_REDIS_AUTH_SECRET_ARN` (the AUTH token in Secrets Manager), as the CDK app sets them.
 */
export function redisSettingsFromEnv(
  env: NodeJS.ProcessEnv,
  commandTimeoutMs: number,
  password?: (secretArn: string) => () => Promise<string | undefined>,
  log?: Log,
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
  if (secretArn && !password)
    throw new Error('AXON_REDIS_AUTH_SECRET_ARN is set but no secret reader was given');
  return {
    ...(env.AXON_REDIS_CLUSTER === '1'
      ? { clusterNodes: [{ host, port: Number(port) }] }
      : { url: `${tls ? 'rediss' : 'redis'}://${host}:${port}` }),
    tls,
    commandTimeoutMs,
    ...(secretArn && password && { password: password(secretArn) }),
    ...(log && { log }),
  };
}
