/**
 * The limiter's one Lua script. A single EVALSHA checks every bucket of one identity and charges
 * them all or none, so a decision is atomic and costs one round trip. Time comes from Redis's
 * own `TIME`, never the caller, so gateways with skewed clocks still agree.
 *
 * State lives in ONE string key per identity, six doubles packed with Redis's built-in `struct`
 * library: request tokens and their timestamp, LLM tokens and theirs, the UTC day number and the
 * requests counted that day. One GET and one SET PX per decision keep the script within a few
 * microseconds of Redis time (a hash with HMGET/HSET/PEXPIRE per bucket cost three times as
 * much), and doubles round-trip exactly, with no decimal formatting.
 *
 * KEYS[1]  the identity's state, `<prefix>:{<id>}` (the hash tag pins it to one cluster slot)
 * KEYS[2]  only when a concurrency cap applies: the identity's leases, `<prefix>:{<id>}:leases`,
 *          a sorted set of lease id -> expiry (ms on Redis's clock); same hash tag, same slot
 *
 * ARGV[1]  eleven whole numbers separated by single spaces (one argument rather than eleven:
 *          argument encoding is a large share of a client's cost per call):
 *          1 operation: 0 = decide and charge, 1 = peek (decide, charge nothing),
 *            2 = settle (return the reservation, debit the usage, release the lease),
 *            3 = renew the lease
 *          2 requests to charge (decide/peek)
 *          3 LLM tokens to reserve at admission (decide/peek) or actually used (settle)
 *          4 requests per minute (request bucket refill rate)
 *          5 burst (request bucket capacity)
 *          6 LLM tokens per minute; 0 disables the token bucket
 *          7 LLM token burst (token bucket capacity)
 *          8 requests per UTC day; 0 disables the quota
 *          9 settle: the LLM tokens reserved at admission, given back before the usage is debited
 *         10 most requests in flight at once; 0 disables the cap (and KEYS[2], ARGV[2])
 *         11 lease lifetime in ms: a lease not released or renewed within it expires by itself
 * ARGV[2]  only when a concurrency cap applies: the lease id (made by the gateway, never user
 *          input)
 *
 * Reply (integers; Redis truncates Lua numbers, so the script floors and ceils itself):
 *   {allowed, req_remaining, req_retry_ms, req_reset_ms,
 *             tok_remaining, tok_retry_ms, tok_reset_ms,
 *             day_remaining, day_retry_ms, day_reset_ms,
 *             conc_remaining, conc_retry_ms}
 *   A bucket's retry_ms is 0 when it admits; a disabled bucket reports zeros. Callers make sure
 *   a cost never exceeds its bucket's capacity (such a request could never be admitted).
 *   Renew answers {1} when the lease was still live and now lives another lease lifetime, else
 *   {0}.
 *
 * Reservation: a decision reserves the request's worst case (prompt estimate plus its completion
 * cap) and is admitted only when the token bucket holds all of it; settlement gives the
 * reservation back and debits what was used, so the bucket may go below zero only by usage
 * beyond the reservation. A reservation of zero (internal callers) keeps the older rule: the
 * bucket must be above zero.
 *
 * Refill is continuous: tokens = min(capacity, tokens + elapsed * rate), elapsed clamped at zero
 * so a Redis failover to a node whose clock is behind never drains a bucket. A missing key is
 * full buckets and an unused day, which is why every write sets the key to expire when that
 * becomes true again: idle keys vanish. The lease set expires with its newest lease.
 */
import { createHash } from 'node:crypto';

export const TOKEN_BUCKET_LUA = `
local floor, ceil = math.floor, math.ceil
local a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11 = string.match(ARGV[1],
  '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)$')
if not a11 then return redis.error_reply('ERR token bucket: malformed arguments') end
local op, req_cost, tok_cost, tok_held = tonumber(a1), tonumber(a2), tonumber(a3), tonumber(a9)
local req_rate, req_cap = tonumber(a4) / 60000, tonumber(a5)
local tok_rate, tok_cap = tonumber(a6) / 60000, tonumber(a7)
local day_limit = tonumber(a8)
local conc_max, lease_ttl = tonumber(a10), tonumber(a11)

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
-- Lease scores are whole milliseconds, so they print exactly whatever the Lua number format.
local now_ms = floor(now)

if op == 3 then
  local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
  if score and tonumber(score) > now_ms then
    redis.call('ZADD', KEYS[2], now_ms + lease_ttl, ARGV[2])
    redis.call('PEXPIRE', KEYS[2], lease_ttl)
    return {1}
  end
  return {0}
end

local req, req_ts, tok, tok_ts, day, used = req_cap, 0, tok_cap, 0, -1, 0
local packed = redis.call('GET', KEYS[1])
if packed then req, req_ts, tok, tok_ts, day, used = struct.unpack('<dddddd', packed) end

-- Refill (helpers are inlined: a Lua function defined in a script is a new closure per call).
local elapsed = now - req_ts
if elapsed > 0 then req = req + elapsed * req_rate end
if req > req_cap then req = req_cap end
-- A plan without a token bucket leaves the stored one untouched, for the day it gets one again.
if tok_rate > 0 then
  elapsed = now - tok_ts
  if elapsed > 0 then tok = tok + elapsed * tok_rate end
  if tok > tok_cap then tok = tok_cap end
  tok_ts = now
end
local today = floor(now / 86400000)
if day ~= today then used = 0 end
local day_reset = 0
if day_limit > 0 then day_reset = ceil((today + 1) * 86400000 - now) end

local allowed = true
local req_retry, tok_retry, day_retry = 0, 0, 0
local in_flight, conc_retry = 0, 0
if op == 2 then
  -- Give the reservation back, debit the usage; a refund never fills past capacity.
  if tok_rate > 0 then
    tok = tok + tok_held - tok_cost
    if tok > tok_cap then tok = tok_cap end
  end
  if conc_max > 0 then
    redis.call('ZREM', KEYS[2], ARGV[2])
    in_flight = redis.call('ZCOUNT', KEYS[2], '(' .. now_ms, '+inf')
  end
else
  -- Wait until a bucket holds the cost; one more ms where floating point rounds short of it.
  if req < req_cost then
    req_retry = ceil((req_cost - req) / req_rate)
    if req + req_retry * req_rate < req_cost then req_retry = req_retry + 1 end
  end
  if tok_rate > 0 then
    if tok_cost > 0 and tok < tok_cost then
      tok_retry = ceil((tok_cost - tok) / tok_rate)
      if tok + tok_retry * tok_rate < tok_cost then tok_retry = tok_retry + 1 end
    elseif tok_cost == 0 and tok <= 0 then
      tok_retry = floor(-tok / tok_rate) + 1
    end
  end
  if day_limit > 0 and used + req_cost > day_limit then day_retry = day_reset end
  -- Live leases only: a lease past its expiry belongs to a gateway that died mid-request.
  -- When one ends is unknown (answers end when they end), so the wait is one second.
  if conc_max > 0 then
    in_flight = redis.call('ZCOUNT', KEYS[2], '(' .. now_ms, '+inf')
    if in_flight >= conc_max then conc_retry = 1000 end
  end
  allowed = req_retry == 0 and tok_retry == 0 and day_retry == 0 and conc_retry == 0
  if allowed and op == 0 then
    req = req - req_cost
    if tok_rate > 0 then tok = tok - tok_cost end
    if day_limit > 0 then used = used + req_cost end
    if conc_max > 0 then
      redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
      redis.call('ZADD', KEYS[2], now_ms + lease_ttl, ARGV[2])
      redis.call('PEXPIRE', KEYS[2], lease_ttl)
      in_flight = in_flight + 1
    end
  end
end

local req_reset = ceil((req_cap - req) / req_rate)
local tok_left, tok_reset = 0, 0
if tok_rate > 0 then tok_left, tok_reset = floor(tok), ceil((tok_cap - tok) / tok_rate) end

-- Write only what changed: a denial or a peek charges nothing. The key lives until every
-- bucket is full again and, while requests are counted for today, until the day is over.
if (allowed and op == 0) or (op == 2 and tok_rate > 0) then
  local ttl = req_reset
  if tok_reset > ttl then ttl = tok_reset end
  if used > 0 and day_reset + 60000 > ttl then ttl = day_reset + 60000 end
  ttl = ttl + 1000
  if ttl > 10000000000 then ttl = 10000000000 end
  redis.call('SET', KEYS[1], struct.pack('<dddddd', req, now, tok, tok_ts, today, used), 'PX', ttl)
end

local day_left = 0
if day_limit > 0 then day_left = day_limit - used end
local conc_left = 0
if conc_max > 0 then conc_left = conc_max - in_flight end
return {allowed and 1 or 0, floor(req), req_retry, req_reset,
  tok_left, tok_retry, tok_reset, day_left, day_retry, day_reset, conc_left, conc_retry}
`;

/** SHA1 of the script, as Redis computes it for EVALSHA and SCRIPT LOAD. */
export const TOKEN_BUCKET_SHA = createHash('sha1').update(TOKEN_BUCKET_LUA).digest('hex');

export const Op = { decide: 0, peek: 1, settle: 2, renew: 3 } as const;
