/**
 * Lua for the session store. Each script touches only keys of one API key, which share the hash
 * tag `{<keyId>}`, so each runs atomically on one node, also on Redis Cluster. Every write
 * refreshes the idle TTL of the session and of the key's index together.
 */
import { createHash } from 'node:crypto';

export interface Script {
  readonly lua: string;
  /** SHA1 of `lua`, what EVALSHA takes (a test checks Redis computes the same). */
  readonly sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Create a session.
 * KEYS[1] session hash; KEYS[2] the key's index (sorted set, score 0, ordered by id)
 * ARGV[1] idle TTL in ms; ARGV[2] session id; ARGV[3..] field, value pairs of the hash
 */
export const CREATE = script(`
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
`);

/**
 * Read a session and its messages, and count the read as activity.
 * KEYS[1] session hash; KEYS[2] message list; KEYS[3] the key's index
 * ARGV[1] idle TTL in ms
 * Returns false when the session does not exist, else {hash as flat array, messages}.
 */
export const GET = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
`);

/**
 * Append messages (a user turn and its answer) in one step, so concurrent turns never
 * interleave or overwrite each other, and never resurrect a deleted or expired session.
 * Idempotent per turn id: ioredis resends a command whose reply a dropped connection lost,
 * and the marker key makes that second run a no-op instead of a duplicated turn.
 * KEYS[1] session hash; KEYS[2] message list; KEYS[3] the key's index;
 * KEYS[4] the turn's marker (same hash tag)
 * ARGV[1] idle TTL in ms; ARGV[2] how long the marker is kept, in ms; ARGV[3..] messages as JSON
 * Returns the message count, or -1 when the session does not exist.
 */
export const APPEND = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[2]) then
  return redis.call('LLEN', KEYS[2])
end
local n = redis.call('RPUSH', KEYS[2], unpack(ARGV, 3))
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return n
`);

/**
 * Delete a session.
 * KEYS[1] session hash; KEYS[2] message list; KEYS[3] the key's index
 * ARGV[1] session id
 * Returns 1 when the session existed, else 0.
 */
export const DELETE = script(`
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return existed
`);

/**
 * Read the hashes of listed sessions; drop index entries whose session has expired.
 * KEYS[1] the key's index; KEYS[2..n] session hashes
 * ARGV[1..n-1] the session ids of KEYS[2..n], in the same order
 * Returns one flat hash array per session (empty when it has expired).
 */
export const READ_MANY = script(`
local out = {}
for i = 2, #KEYS do
  local h = redis.call('HGETALL', KEYS[i])
  if #h == 0 then redis.call('ZREM', KEYS[1], ARGV[i - 1]) end
  out[#out + 1] = h
end
return out
`);

export const ALL_SCRIPTS = { CREATE, GET, APPEND, DELETE, READ_MANY };
