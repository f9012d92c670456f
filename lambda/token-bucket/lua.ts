/**
 * The limiter's one Lua script. A single EVALSHA checks every bucket of one identity and charges
 * them all or none, so a decision is atomic and costs one round trip. Time comes from Redis's
 * own `TIME`, never the caller, so gateways with skewed clocks still agree.
 *
 * KEYS (all share the identity's hash tag, so they live in one cluster slot):
 *   KEYS[1]  request bucket  hash {t = tokens (float), ts = last update (ms, Redis clock)}
 *   KEYS[2]  LLM-token bucket, same shape
 *   KEYS[3]  daily quota     hash {d = UTC day number, n = requests counted that day}
 *
 * ARGV:
 *   ARGV[1]  operation: 0 = decide and charge, 1 = peek (decide, charge nothing), 2 = settle
 *   ARGV[2]  requests per minute (request bucket refill rate)
 *   ARGV[3]  burst (request bucket capacity)
 *   ARGV[4]  requests to charge (decide/peek)
 *   ARGV[5]  LLM tokens per minute; 0 disables the token bucket
 *   ARGV[6]  LLM token burst (token bucket capacity)
 *   ARGV[7]  LLM tokens to charge at admission (decide/peek) or to debit (settle)
 *   ARGV[8]  requests per UTC day; 0 disables the quota
 *
 * Reply (integers; Redis truncates Lua numbers, so the script floors and ceils itself):
 *   {allowed, req_remaining, req_retry_ms, req_reset_ms,
 *             tok_remaining, tok_retry_ms, tok_reset_ms,
 *             day_remaining, day_retry_ms, day_reset_ms}
 *   A bucket's retry_ms is 0 when it admits; a disabled bucket reports zeros. Callers make sure
 *   a cost never exceeds its bucket's capacity (such a request could never be admitted).
 *
 * Refill is continuous: tokens = min(capacity, tokens + elapsed * rate), elapsed clamped at zero
 * so a Redis failover to a node whose clock is behind never drains a bucket. A missing key is a
 * full bucket, which is why every write sets a TTL of "time until full": idle keys vanish.
 */
import { createHash } from 'node:crypto';

export const TOKEN_BUCKET_LUA = `
local op = tonumber(ARGV[1])
local req_rate = tonumber(ARGV[2]) / 60000
local req_cap = tonumber(ARGV[3])
local req_cost = tonumber(ARGV[4])
local tok_rate = tonumber(ARGV[5]) / 60000
local tok_cap = tonumber(ARGV[6])
local tok_cost = tonumber(ARGV[7])
local day_limit = tonumber(ARGV[8])

local MAX_TTL_MS = 10000000000

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000

local function level(key, cap, rate)
  local state = redis.call('HMGET', key, 't', 'ts')
  local tokens, ts = tonumber(state[1]), tonumber(state[2])
  if tokens == nil or ts == nil then return cap end
  local elapsed = now - ts
  if elapsed < 0 then elapsed = 0 end
  tokens = tokens + elapsed * rate
  if tokens > cap then tokens = cap end
  return tokens
end

local function wait_ms(tokens, need, rate)
  if tokens >= need then return 0 end
  local ms = math.ceil((need - tokens) / rate)
  if tokens + ms * rate < need then ms = ms + 1 end
  return ms
end

local function store(key, tokens, cap, rate)
  redis.call('HSET', key, 't', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', key, math.min(math.ceil((cap - tokens) / rate) + 1000, MAX_TTL_MS))
end

if op == 2 then
  if tok_rate > 0 then
    local tokens = level(KEYS[2], tok_cap, tok_rate) - tok_cost
    store(KEYS[2], tokens, tok_cap, tok_rate)
    return {1, 0, 0, 0, math.floor(tokens), 0, math.ceil((tok_cap - tokens) / tok_rate), 0, 0, 0}
  end
  return {1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
end

local req = level(KEYS[1], req_cap, req_rate)
local req_retry = wait_ms(req, req_cost, req_rate)

local tok, tok_retry = 0, 0
if tok_rate > 0 then
  tok = level(KEYS[2], tok_cap, tok_rate)
  if tok_cost > 0 then
    tok_retry = wait_ms(tok, tok_cost, tok_rate)
  elseif tok <= 0 then
    tok_retry = math.floor(-tok / tok_rate) + 1
  end
end

local day, used, day_retry, day_reset = 0, 0, 0, 0
if day_limit > 0 then
  day = math.floor(now / 86400000)
  day_reset = math.ceil((day + 1) * 86400000 - now)
  local state = redis.call('HMGET', KEYS[3], 'd', 'n')
  if tonumber(state[1]) == day then used = tonumber(state[2]) or 0 end
  if used + req_cost > day_limit then day_retry = day_reset end
end

local allowed = req_retry == 0 and tok_retry == 0 and day_retry == 0
if allowed and op == 0 then
  req = req - req_cost
  store(KEYS[1], req, req_cap, req_rate)
  if tok_rate > 0 and tok_cost > 0 then
    tok = tok - tok_cost
    store(KEYS[2], tok, tok_cap, tok_rate)
  end
  if day_limit > 0 then
    used = used + req_cost
    redis.call('HSET', KEYS[3], 'd', day, 'n', used)
    redis.call('PEXPIRE', KEYS[3], day_reset + 60000)
  end
end

local tok_reset = 0
if tok_rate > 0 then tok_reset = math.ceil((tok_cap - tok) / tok_rate) end
return {allowed and 1 or 0,
  math.floor(req), req_retry, math.ceil((req_cap - req) / req_rate),
  math.floor(tok), tok_retry, tok_reset,
  day_limit - used, day_retry, day_reset}
`;

/** SHA1 of the script, as Redis computes it for EVALSHA and SCRIPT LOAD. */
export const TOKEN_BUCKET_SHA = createHash('sha1').update(TOKEN_BUCKET_LUA).digest('hex');

export const Op = { decide: 0, peek: 1, settle: 2 } as const;
