/**
 * The limiter's one Lua script. A single EVALSHA checks every bucket of one identity and charges
 * them all or none, so a decision is atomic and costs one round trip. Time comes from Redis's
 * own `TIME`, never the caller, so gateways with skewed clocks still agree.
 *
 * The script is the cost of a decision on a Redis every gateway shares, so it does only what
 * must happen atomically and leaves the rest to the client (each part measured with `INFO
 * commandstats`, see docs/benchmarks.md). Its argument arrives as packed doubles, read with one
 * `struct.unpack` (0.4 µs; `string.match` with eleven captures cost 2.3 µs, a JSON array read
 * with `cjson` 1.3 µs). It answers the buckets' raw state as packed doubles, from which the
 * client derives remaining counts, waits and resets with the same arithmetic (`decision.ts`):
 * doubles in both languages, so the figures are the ones the script would have computed. A
 * `Buffer` argument would send ioredis down a slower path (2 µs more client CPU per call than a
 * string), so the client writes the whole command as one prebuilt buffer (script-command.ts).
 *
 * State lives in ONE string key per identity, seven doubles packed with Redis's built-in
 * `struct` library: request tokens and their timestamp, LLM tokens and theirs, the UTC day
 * number, the requests counted that day, and when the key expires (ms, Redis clock). One GET and
 * one SET per decision (a hash with HMGET/HSET/PEXPIRE per bucket cost three times as much);
 * doubles round-trip exactly, with no decimal formatting. The SET keeps the key's TTL when that
 * already outlasts the buckets (setting an expiry is a third of a SET's cost), so a key may live
 * past the moment its buckets are full by as long as its longest recent wait, which is harmless:
 * a full bucket and a missing key decide the same. A six-double value (written before the
 * expiry was kept) reads as one whose expiry is unknown. A key under a budget holds ten doubles:
 * the seven, then the nano-dollars spent on the UTC day of the seventh's day number, the UTC
 * month (year * 12 + month - 1) and the nano-dollars spent in it. Once ten, a key stays ten
 * (a decision without a budget keeps the spend for the day the budget is back); six or seven
 * read as nothing spent.
 *
 * KEYS[1]  the identity's state, `<prefix>:{<id>}` (the hash tag pins it to one cluster slot)
 * KEYS[2]  only when a concurrency cap applies: the identity's leases, `<prefix>:{<id>}:leases`,
 *          a sorted set of lease id -> expiry (ms on Redis's clock); same hash tag, same slot
 *
 * Not declared, because its name depends on Redis's clock, which the caller cannot know: the
 * usage ledger of the hour, `<KEYS[1]>:u:<hour>` (hour = Redis ms / 3600000, floored), a hash
 * of `<field>:<model>` -> whole number. Written only by a settlement that books usage. It shares
 * KEYS[1]'s hash tag, so it lives in the same cluster slot, which is all Redis Cluster asks of
 * a key a script touches (and what lets the ledger ride on the settlement's one EVALSHA).
 *
 * ARGV[1]  88 bytes: eleven little-endian doubles, each a whole number >= 0 (the client checks):
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
 *          or 152 bytes: those eleven and eight more, for budgets and the usage ledger (the
 *          88-byte form is the hot path and stays as short as it was):
 *         12 nano-dollars a key may spend per UTC day; 0: no daily budget
 *         13 nano-dollars per UTC month; 0: no monthly budget (with neither, nothing is spent)
 *         14 decide/peek: the request's worst-case cost, reserved against both budgets;
 *            settle: its actual cost, spent (and booked in the ledger)
 *         15 settle: the cost reserved at admission, given back before the actual one is spent
 *         16, 17, 18 settle: input, output and cached input tokens, for the ledger
 *         19 settle: 1 to book the request in the usage ledger under the model in the last ARGV
 *          Any other length is refused with an error reply.
 * ARGV[2]  only when a concurrency cap applies: the lease id (made by the gateway, never user
 *          input)
 * ARGV[last] only when the 19th double is 1: the ledger's model name, one of the stage's price
 *          table or "other" (the gateway maps it, so a caller cannot grow the hash)
 *
 * Reply to decide, peek and settle: 48 bytes, six little-endian doubles
 *   allowed (1 or 0; settle always 1), request tokens, LLM tokens (both refilled, and charged
 *   when admitted), requests counted today, leases in flight (0 without a cap), Redis's time in
 *   ms. A disabled bucket's figures are meaningless and not read. Callers make sure a cost never
 *   exceeds its bucket's capacity (such a request could never be admitted). To a 152-byte
 *   argument: 64 bytes, the six and the nano-dollars spent today and this month, after the call.
 *
 * Budgets: a decision with a cost is admitted only when the cost fits in what is left of every
 * budget, and then reserves it; settlement gives the reservation back and spends the actual
 * cost. So requests in flight together can never be admitted past a budget; only usage beyond
 * a reservation can take the spend past it. A cost of 0 (a route that does not reach the model)
 * is never refused by a budget. A spend never goes below zero: a request admitted before
 * midnight and settled after gives nothing back to the new day and spends its cost there.
 *
 * Usage ledger: a settlement with the 19th double 1 adds 1 to `req:<model>` and the tokens and
 * nano-dollars to `in:`, `out:`, `cached:` and `cost:<model>` (zeros are not written) in the
 * hour's hash, on Redis's clock, so an hour that has ended never changes again (the exporter
 * relies on it). The first request of a model in an hour gives the hash a week to live: the
 * exporter deletes it once DynamoDB has it, and the week bounds memory if the exporter is down.
 * Reply to renew: the integer 1 when the lease was still live and now lives another lease
 *   lifetime, else 0.
 *
 * Reservation: a decision reserves the request's worst case (prompt estimate plus its completion
 * cap) and is admitted only when the token bucket holds all of it; settlement gives the
 * reservation back and debits what was used, so the bucket may go below zero only by usage
 * beyond the reservation. A reservation of zero (internal callers) keeps the older rule: the
 * bucket must be above zero.
 *
 * Refill is continuous: tokens = min(capacity, tokens + elapsed * rate), elapsed clamped at zero
 * so a Redis failover to a node whose clock is behind never drains a bucket. A missing key is
 * full buckets and an unused day, which is why every write makes sure the key expires no
 * earlier than when that becomes true again: idle keys vanish. The lease set expires with its
 * newest lease.
 */
import { createHash } from 'node:crypto';

export const TOKEN_BUCKET_LUA = `
local arg = ARGV[1]
local size = arg and #arg or 0
if size ~= 88 and size ~= 152 then
  return redis.error_reply('ERR token bucket: malformed arguments')
end
local op, req_cost, tok_cost, req_rate, req_cap, tok_rate, tok_cap, day_limit, tok_held,
  conc_max, lease_ttl = struct.unpack('<ddddddddddd', arg)
-- Budgets and the usage ledger: only in the long form, so the short one pays nothing for them.
local long = size == 152
local day_budget, month_budget, cost, cost_held, tok_in, tok_out, tok_cached, book =
  0, 0, 0, 0, 0, 0, 0, 0
if long then
  day_budget, month_budget, cost, cost_held, tok_in, tok_out, tok_cached, book =
    struct.unpack('<dddddddd', arg, 89)
end
local budgeted = day_budget > 0 or month_budget > 0

local clock = redis.call('TIME')
local now = clock[1] * 1000 + clock[2] / 1000
-- Lease scores are whole milliseconds, so they print exactly whatever the Lua number format.
local now_ms = math.floor(now)

if op == 3 then
  local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
  if score and tonumber(score) > now_ms then
    redis.call('ZADD', KEYS[2], now_ms + lease_ttl, ARGV[2])
    redis.call('PEXPIRE', KEYS[2], lease_ttl)
    return 1
  end
  return 0
end

local req, req_ts, tok, tok_ts, day, used, expires = req_cap, 0, tok_cap, 0, -1, 0, 0
-- Spend (ten-double keys only): today's, the month's number and the month's.
local spent_day, month, spent_month = 0, -1, 0
local wide = budgeted
local packed = redis.call('GET', KEYS[1])
if packed then
  local stored = #packed
  if stored == 56 then
    req, req_ts, tok, tok_ts, day, used, expires = struct.unpack('<ddddddd', packed)
  elseif stored == 80 then
    req, req_ts, tok, tok_ts, day, used, expires, spent_day, month, spent_month =
      struct.unpack('<dddddddddd', packed)
    wide = true
  else
    req, req_ts, tok, tok_ts, day, used = struct.unpack('<dddddd', packed)
  end
end

-- Refill (helpers are inlined: a Lua function defined in a script is a new closure per call).
req_rate = req_rate / 60000
local elapsed = now - req_ts
if elapsed > 0 then req = req + elapsed * req_rate end
if req > req_cap then req = req_cap end
-- A plan without a token bucket leaves the stored one untouched, for the day it gets one again.
if tok_rate > 0 then
  tok_rate = tok_rate / 60000
  elapsed = now - tok_ts
  if elapsed > 0 then tok = tok + elapsed * tok_rate end
  if tok > tok_cap then tok = tok_cap end
  tok_ts = now
end
local today = math.floor(now / 86400000)
if day ~= today then
  used = 0
  spent_day = 0
end
-- The UTC month of today (days to civil date, H. Hinnant's algorithm, on years that start in
-- March) as year * 12 + month - 1, and the day number of its first day.
local month_start = 0
if wide then
  local era = math.floor((today + 719468) / 146097)
  local doe = today + 719468 - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local this_month = (yoe + era * 400) * 12 + mp + 2
  month_start = today - doy + math.floor((153 * mp + 2) / 5)
  if month ~= this_month then
    month = this_month
    spent_month = 0
  end
end

local allowed, in_flight = 1, 0
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
  -- The reserved cost back (never below zero: it may belong to a day or month that is over),
  -- the actual cost spent.
  if budgeted then
    spent_day = spent_day - cost_held
    if spent_day < 0 then spent_day = 0 end
    spent_day = spent_day + cost
    spent_month = spent_month - cost_held
    if spent_month < 0 then spent_month = 0 end
    spent_month = spent_month + cost
  end
  if book == 1 then
    local ledger = KEYS[1] .. ':u:' .. math.floor(now / 3600000)
    local model = ARGV[#ARGV]
    if redis.call('HINCRBY', ledger, 'req:' .. model, 1) == 1 then
      redis.call('EXPIRE', ledger, 604800)
    end
    -- '%d', not the number itself: Redis would write a large one with an exponent.
    if tok_in > 0 then redis.call('HINCRBY', ledger, 'in:' .. model, string.format('%d', tok_in)) end
    if tok_out > 0 then
      redis.call('HINCRBY', ledger, 'out:' .. model, string.format('%d', tok_out))
    end
    if tok_cached > 0 then
      redis.call('HINCRBY', ledger, 'cached:' .. model, string.format('%d', tok_cached))
    end
    if cost > 0 then redis.call('HINCRBY', ledger, 'cost:' .. model, string.format('%d', cost)) end
  end
else
  -- Every bucket must hold the cost (how long to wait is the client's arithmetic).
  if req < req_cost then allowed = 0 end
  if tok_rate > 0 then
    if tok_cost > 0 then
      if tok < tok_cost then allowed = 0 end
    elseif tok <= 0 then
      allowed = 0
    end
  end
  if day_limit > 0 and used + req_cost > day_limit then allowed = 0 end
  -- Every budget must hold the whole worst-case cost; a request that costs nothing passes.
  if budgeted and cost > 0 then
    if day_budget > 0 and spent_day + cost > day_budget then allowed = 0 end
    if month_budget > 0 and spent_month + cost > month_budget then allowed = 0 end
  end
  -- Live leases only: a lease past its expiry belongs to a gateway that died mid-request, and
  -- goes before the count (cheaper than counting by score, and the set stays small).
  if conc_max > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
    in_flight = redis.call('ZCARD', KEYS[2])
    if in_flight >= conc_max then allowed = 0 end
  end
  if allowed == 1 and op == 0 then
    req = req - req_cost
    if tok_rate > 0 then tok = tok - tok_cost end
    if day_limit > 0 then used = used + req_cost end
    if budgeted then
      spent_day = spent_day + cost
      spent_month = spent_month + cost
    end
    if conc_max > 0 then
      redis.call('ZADD', KEYS[2], now_ms + lease_ttl, ARGV[2])
      redis.call('PEXPIRE', KEYS[2], lease_ttl)
      in_flight = in_flight + 1
    end
  end
end

-- Write only what changed: a denial or a peek charges nothing. The key must live until every
-- bucket is full again and, while requests are counted for today, until the day is over; while
-- money is spent this month, until a day or so past its end (32 days from its first).
if (allowed == 1 and op == 0) or (op == 2 and (tok_rate > 0 or budgeted)) then
  local ttl = (req_cap - req) / req_rate
  if tok_rate > 0 and (tok_cap - tok) / tok_rate > ttl then ttl = (tok_cap - tok) / tok_rate end
  local day_end = (today + 1) * 86400000 - now + 60000
  if used > 0 and day_end > ttl then ttl = day_end end
  if spent_month > 0 and (month_start + 32) * 86400000 - now > ttl then
    ttl = (month_start + 32) * 86400000 - now
  end
  -- The TTL set before still covers that, with a margin for the millisecond Redis rounds the
  -- expiry to: keep it. Otherwise one second more, at most 10^10 ms (a plan refilling slower).
  local keep = now + ttl + 100 < expires
  if not keep then
    ttl = math.ceil(ttl) + 1000
    if ttl > 10000000000 then ttl = 10000000000 end
    expires = now + ttl
  end
  local value
  if wide then
    value = struct.pack('<dddddddddd', req, now, tok, tok_ts, today, used, expires, spent_day,
      month, spent_month)
  else
    value = struct.pack('<ddddddd', req, now, tok, tok_ts, today, used, expires)
  end
  if keep then
    redis.call('SET', KEYS[1], value, 'KEEPTTL')
  else
    redis.call('SET', KEYS[1], value, 'PX', ttl)
  end
end

if long then
  return struct.pack('<dddddddd', allowed, req, tok, used, in_flight, now, spent_day, spent_month)
end
return struct.pack('<dddddd', allowed, req, tok, used, in_flight, now)
`;

/** SHA1 of the script, as Redis computes it for EVALSHA and SCRIPT LOAD. */
export const TOKEN_BUCKET_SHA = createHash('sha1').update(TOKEN_BUCKET_LUA).digest('hex');

export const Op = { decide: 0, peek: 1, settle: 2, renew: 3 } as const;

/** Bytes of the script's argument (eleven doubles) and of its reply (six doubles). */
export const ARGS_BYTES = 88;
export const REPLY_BYTES = 48;
/** The same with budgets and the usage ledger: nineteen doubles in, eight out. */
export const LONG_ARGS_BYTES = 152;
export const LONG_REPLY_BYTES = 64;
/** Seconds a usage ledger hash lives after the first request of a model in its hour. */
export const LEDGER_TTL_SECONDS = 604_800;
