/**
 * Lua for the session store. Each script touches only keys of one API key, which share the hash
 * tag `{<keyId>}`, so each runs atomically on one node, also on Redis Cluster. Every write
 * refreshes the idle TTL of the session and of the key's index together.
 *
 * Quotas (session-quotas.ts) are checked inside the same script that writes, so a write either
 * fits and is stored whole, or is refused and stores nothing. What a key stores is kept in two
 * bookkeeping keys beside its index: `usage`, a hash of session id -> bytes plus the field
 * `~total` (session ids never start with `~`), and `expiry`, a sorted set of session id -> the
 * Redis time in ms when that session's idle TTL ends. A write first drops the entries of
 * sessions whose TTL has passed (at most EXPIRED_BATCH per call, each entry once), so counts
 * and totals follow expiry without any scan over the key's sessions. A session evicted early by
 * memory pressure still counts until its TTL would have ended: the error is on the safe side.
 *
 * Stored responses (response-store.ts) share this bookkeeping: their bytes are fields of `usage`
 * and their end of life a member of `expiry`, both under the response id (`resp_...`, which no
 * session id starts with). So one budget covers sessions and responses, and the same
 * `forget_expired` gives back an expired response's bytes. Sessions are counted on the index,
 * which holds sessions only, not on `expiry`.
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

/** Longest run of expired bookkeeping entries one write clears; the rest go on later writes. */
export const EXPIRED_BATCH = 100;

/**
 * Lua shared by the writing scripts. `forget_expired(index, usage, expiry, now)` drops the
 * entries of sessions whose idle TTL has passed; `now_ms()` is Redis's clock, the one its TTLs
 * run on.
 */
const BOOKKEEPING = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function forget_expired(index, usage, expiry, now)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, ${EXPIRED_BATCH})
  for _, sid in ipairs(gone) do
    local bytes = tonumber(redis.call('HGET', usage, sid) or '0')
    redis.call('HDEL', usage, sid)
    redis.call('HINCRBY', usage, '~total', -bytes)
    redis.call('ZREM', expiry, sid)
    redis.call('ZREM', index, sid)
  end
end
`;

/**
 * Create a session, within the key's quotas. A repeat of the same create (ioredis resends a
 * command whose reply a dropped connection lost) finds the session and changes nothing.
 * KEYS[1] session hash; KEYS[2] the key's index (sorted set, score 0, ordered by id);
 * KEYS[3] the key's usage hash; KEYS[4] the key's expiry set
 * ARGV[1] idle TTL in ms; ARGV[2] session id; ARGV[3] most sessions per key;
 * ARGV[4] most bytes per session; ARGV[5] most bytes per key; ARGV[6..] field, value pairs
 * Returns 1 when stored (or already there); -1 too many sessions; -3 the session alone is too
 * large; -4 the key's total would pass its budget.
 */
export const CREATE = script(`${BOOKKEEPING}
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local now = now_ms()
forget_expired(KEYS[2], KEYS[3], KEYS[4], now)
local bytes = 0
for i = 6, #ARGV do bytes = bytes + #ARGV[i] end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return -1 end
if bytes > tonumber(ARGV[4]) then return -3 end
local total = tonumber(redis.call('HGET', KEYS[3], '~total') or '0')
if total + bytes > tonumber(ARGV[5]) then return -4 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], bytes)
redis.call('HINCRBY', KEYS[3], '~total', bytes)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[1]), ARGV[2])
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
`);

/**
 * Read a session and its messages, and count the read as activity.
 * KEYS[1] session hash; KEYS[2] message list; KEYS[3] the key's index; KEYS[4] usage hash;
 * KEYS[5] expiry set
 * ARGV[1] idle TTL in ms; ARGV[2] session id
 * Returns false when the session does not exist, else {hash as flat array, messages,
 * the session's stored bytes, the key's stored bytes}.
 */
export const GET = script(`${BOOKKEEPING}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('ZADD', KEYS[5], 'XX', now_ms() + tonumber(ARGV[1]), ARGV[2])
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return {
  redis.call('HGETALL', KEYS[1]),
  redis.call('LRANGE', KEYS[2], 0, -1),
  tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0'),
  tonumber(redis.call('HGET', KEYS[4], '~total') or '0')
}
`);

/**
 * Append messages (a user turn and its answer) in one step, so concurrent turns never
 * interleave or overwrite each other, and never resurrect a deleted or expired session.
 * Idempotent per turn id: ioredis resends a command whose reply a dropped connection lost,
 * and the marker key makes that second run a no-op instead of a duplicated turn (checked
 * before the quotas, so a resend of a stored turn is never refused).
 * KEYS[1] session hash; KEYS[2] message list; KEYS[3] the key's index;
 * KEYS[4] the turn's marker (same hash tag); KEYS[5] usage hash; KEYS[6] expiry set
 * ARGV[1] idle TTL in ms; ARGV[2] how long the marker is kept, in ms; ARGV[3] session id;
 * ARGV[4] most messages per session; ARGV[5] most bytes per session; ARGV[6] most bytes per
 * key; ARGV[7..] messages as JSON
 * Returns the message count; -1 when the session does not exist; -2 too many messages;
 * -3 the session would be too large; -4 the key's total would pass its budget.
 */
export const APPEND = script(`${BOOKKEEPING}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[4]) == 1 then return redis.call('LLEN', KEYS[2]) end
local now = now_ms()
forget_expired(KEYS[3], KEYS[5], KEYS[6], now)
local added = 0
for i = 7, #ARGV do added = added + #ARGV[i] end
if redis.call('LLEN', KEYS[2]) + #ARGV - 6 > tonumber(ARGV[4]) then return -2 end
local own = tonumber(redis.call('HGET', KEYS[5], ARGV[3]) or '0')
if own + added > tonumber(ARGV[5]) then return -3 end
local total = tonumber(redis.call('HGET', KEYS[5], '~total') or '0')
if total + added > tonumber(ARGV[6]) then return -4 end
redis.call('SET', KEYS[4], '1', 'PX', ARGV[2])
local n = redis.call('RPUSH', KEYS[2], unpack(ARGV, 7))
redis.call('HSET', KEYS[5], ARGV[3], own + added)
redis.call('HINCRBY', KEYS[5], '~total', added)
redis.call('ZADD', KEYS[6], now + tonumber(ARGV[1]), ARGV[3])
for _, i in ipairs({1, 2, 3, 5, 6}) do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return n
`);

/**
 * Delete a session and give its bytes back to the key.
 * KEYS[1] session hash; KEYS[2] message list; KEYS[3] the key's index; KEYS[4] usage hash;
 * KEYS[5] expiry set
 * ARGV[1] session id
 * Returns 1 when the session existed, else 0.
 */
export const DELETE = script(`
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
local bytes = redis.call('HGET', KEYS[4], ARGV[1])
if bytes then
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('HINCRBY', KEYS[4], '~total', -tonumber(bytes))
end
redis.call('ZREM', KEYS[5], ARGV[1])
return existed
`);

/** The hash fields a listing returns: never the system prompt, so a page costs what its size says. */
export const LISTED_FIELDS = ['model', 'metadata', 'created_at', 'system_bytes'] as const;

/**
 * Read the listed fields of some sessions; drop index entries whose session has expired. Work is
 * bounded by the page: a few small fields per session, never a system prompt or a message.
 * KEYS[1] the key's index; KEYS[2..n] session hashes
 * ARGV[1..n-1] the session ids of KEYS[2..n], in the same order
 * Returns per session the values of LISTED_FIELDS in order (all false when it has expired).
 */
export const READ_MANY = script(`
local out = {}
for i = 2, #KEYS do
  local h = redis.call('HMGET', KEYS[i], '${LISTED_FIELDS.join("', '")}')
  if not h[1] then redis.call('ZREM', KEYS[1], ARGV[i - 1]) end
  out[#out + 1] = h
end
return out
`);

/**
 * Which stored responses to drop so that `need` more bytes fit the key's budget: the ones whose
 * TTL ends first (responses live a fixed TTL from creation, so the oldest). It drops nothing
 * itself; the caller drops them with DROP_RESPONSES, whose keys it can then declare.
 * KEYS[1] the key's index; KEYS[2] usage hash; KEYS[3] expiry set
 * ARGV[1] bytes about to be written; ARGV[2] most bytes per key
 * Returns {1, ids...} when the write fits once those ids are dropped (no ids: it fits now), or
 * {0} when it would not fit even with every stored response dropped (then nothing should be).
 */
export const MAKE_ROOM = script(`${BOOKKEEPING}
forget_expired(KEYS[1], KEYS[2], KEYS[3], now_ms())
local total = tonumber(redis.call('HGET', KEYS[2], '~total') or '0')
local need = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local out = {1}
local offset = 0
while total + need > budget do
  local batch = redis.call('ZRANGE', KEYS[3], offset, offset + 99)
  if #batch == 0 then return {0} end
  for _, id in ipairs(batch) do
    if string.sub(id, 1, 5) == 'resp_' then
      out[#out + 1] = id
      total = total - tonumber(redis.call('HGET', KEYS[2], id) or '0')
      if total + need <= budget then return out end
    end
  end
  offset = offset + 100
end
return out
`);

/**
 * Store a response (JSON) for the response TTL, within the key's budget.
 * KEYS[1] the response's key; KEYS[2] the key's index; KEYS[3] usage hash; KEYS[4] expiry set
 * ARGV[1] TTL in ms; ARGV[2] response id; ARGV[3] most bytes per key; ARGV[4] the JSON
 * Returns 1 when stored; -4 when the key's total would pass its budget (make room, try again).
 */
export const STORE_RESPONSE = script(`${BOOKKEEPING}
local now = now_ms()
forget_expired(KEYS[2], KEYS[3], KEYS[4], now)
local bytes = #ARGV[4]
local total = tonumber(redis.call('HGET', KEYS[3], '~total') or '0')
if total + bytes > tonumber(ARGV[3]) then return -4 end
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[1])
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[1]), ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], bytes)
redis.call('HINCRBY', KEYS[3], '~total', bytes)
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
return 1
`);

/**
 * Drop stored responses and give their bytes back to the key.
 * KEYS[1] usage hash; KEYS[2] expiry set; KEYS[3..n] the responses' keys
 * ARGV[1..n-2] the response ids of KEYS[3..n], in the same order
 * Returns how many of the responses still existed.
 */
export const DROP_RESPONSES = script(`
local dropped = 0
for i = 3, #KEYS do
  local id = ARGV[i - 2]
  dropped = dropped + redis.call('DEL', KEYS[i])
  local bytes = redis.call('HGET', KEYS[1], id)
  if bytes then
    redis.call('HDEL', KEYS[1], id)
    redis.call('HINCRBY', KEYS[1], '~total', -tonumber(bytes))
  end
  redis.call('ZREM', KEYS[2], id)
end
return dropped
`);

/**
 * Remove one message of a session (a conversation item) and give its bytes back.
 * KEYS[1] session hash; KEYS[2] message list; KEYS[3] usage hash
 * ARGV[1] session id; ARGV[2] the message's stored JSON, exactly as stored
 * Returns 1 when removed; 0 when no such message; -1 when the session does not exist.
 */
export const DELETE_MESSAGE = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('LREM', KEYS[2], 1, ARGV[2]) == 0 then return 0 end
local own = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
redis.call('HSET', KEYS[3], ARGV[1], math.max(own - #ARGV[2], 0))
redis.call('HINCRBY', KEYS[3], '~total', -#ARGV[2])
return 1
`);

/**
 * Replace a session's metadata, within the quotas (the new JSON may be longer than the old).
 * KEYS[1] session hash; KEYS[2] usage hash
 * ARGV[1] session id; ARGV[2] most bytes per session; ARGV[3] most bytes per key;
 * ARGV[4] the metadata as JSON
 * Returns 1 when stored; -1 no such session; -3 the session would be too large; -4 the key's
 * total would pass its budget.
 */
export const SET_METADATA = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local old = redis.call('HGET', KEYS[1], 'metadata') or ''
local delta = #ARGV[4] - #old
local own = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if delta > 0 and own + delta > tonumber(ARGV[2]) then return -3 end
local total = tonumber(redis.call('HGET', KEYS[2], '~total') or '0')
if delta > 0 and total + delta > tonumber(ARGV[3]) then return -4 end
redis.call('HSET', KEYS[1], 'metadata', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], own + delta)
redis.call('HINCRBY', KEYS[2], '~total', delta)
return 1
`);

export const ALL_SCRIPTS = {
  CREATE,
  GET,
  APPEND,
  DELETE,
  READ_MANY,
  MAKE_ROOM,
  STORE_RESPONSE,
  DROP_RESPONSES,
  DELETE_MESSAGE,
  SET_METADATA,
};
