/**
 * The Redis ACL users each component connects as, written once: the CDK app turns them into
 * ElastiCache RBAC users (`CfnUser` access strings) and test/lambda/shared/redis-acl.test.ts
 * creates the very same users on a real redis-server and runs the real limiter and session
 * store through them. A rule that the code outgrows (a new command in a Lua script, a new key
 * prefix) fails that test before it fails in AWS with NOPERM.
 *
 * Each user may touch only its own key prefix, and only with data commands: reads and writes on
 * its keys, its Lua scripts (Redis checks every `redis.call` inside a script against the same
 * rules, keys included), and the few connection commands the client sends on its own (`PING`,
 * `INFO` for ioredis's ready check, `CLUSTER SLOTS` for cluster mode). Everything that reaches
 * beyond one key (`KEYS`, `SCAN`, `FLUSHALL`, `CONFIG`, `DEBUG`, ...) is refused: `@dangerous`
 * and `@keyspace` go, and the per-key keyspace commands the code uses come back one by one.
 *
 * Like names.ts, this module imports nothing, so both a Lambda bundle and the CDK app can use it.
 */

/** Key prefixes, one per store; the stores' own defaults must match (the ACL test checks). */
export const REDIS_KEY_PREFIXES = {
  /** Token buckets and everything else the limiter keeps (lambda/token-bucket). */
  limiter: 'axon:rl:',
  /** Sessions and their quota bookkeeping (services/session-manager). */
  sessions: 'axon:sess:',
} as const;

/** Commands every component's data access needs, on its own keys only. */
const DATA_COMMANDS = [
  '-@all',
  '+@read',
  '+@write',
  // Whole-keyspace and administrative commands: gone, whatever category they are also in.
  '-@dangerous',
  '-@keyspace',
  // The keyspace commands that act on named keys, back again (their keys are still checked).
  '+del',
  '+unlink',
  '+exists',
  '+expire',
  '+pexpire',
  '+ttl',
  '+pttl',
  '+type',
  // Scripts: run (keys checked inside), and load, so EVALSHA's NOSCRIPT fallback works.
  '+eval',
  '+evalsha',
  '+script|load',
  '+script|exists',
  // What the client itself sends: health checks, ioredis's ready check, cluster topology.
  '+ping',
  '+info',
  '+cluster|slots',
  '+time',
].join(' ');

/** One component's Redis user. */
export interface RedisAclUser {
  /** The ACL user name the component connects with. */
  readonly userName: string;
  /** Its access string, in the syntax Redis's `ACL SETUSER` and ElastiCache RBAC both accept. */
  readonly accessString: string;
}

/** The gateway function: the limiter's keys, nothing else. */
export const GATEWAY_REDIS_USER: RedisAclUser = {
  userName: 'axon-gateway',
  accessString: `on ~${REDIS_KEY_PREFIXES.limiter}* ${DATA_COMMANDS}`,
};

/** The session manager: the sessions' keys, nothing else. */
export const SESSION_MANAGER_REDIS_USER: RedisAclUser = {
  userName: 'axon-session-manager',
  accessString: `on ~${REDIS_KEY_PREFIXES.sessions}* ${DATA_COMMANDS}`,
};

/**
 * ElastiCache requires a user named `default` in every user group; it is the one a client gets
 * without a user name. Switched off with no rights, so only the named users above get in.
 */
export const DISABLED_DEFAULT_REDIS_USER: RedisAclUser = {
  userName: 'default',
  accessString: 'off -@all',
};
