-- Shared helpers, prepended to every Proxide budget script.
--
-- Amounts are int64 nano-USD kept as decimal strings. Lua numbers are doubles, exact only
-- up to 2^53, so comparisons split a value into (billions, remainder): both parts stay
-- far below 2^53 for any int64. Counters are changed with HINCRBY, which is exact int64
-- arithmetic inside Redis; amounts are always passed to Redis as strings.
local B = 1000000000

local function split(s)
  if not s or s == '' or string.sub(s, 1, 1) == '-' then return 0, 0 end
  local n = #s
  if n <= 9 then return 0, tonumber(s) end
  return tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
end

-- sum_lt reports whether a + b < lim.
local function sum_lt(a, b, lim)
  local ah, al = split(a)
  local bh, bl = split(b)
  local lh, ll = split(lim)
  local h, l = ah + bh, al + bl
  if l >= B then h = h + 1; l = l - B end
  return h < lh or (h == lh and l < ll)
end

-- ge reports whether a >= b.
local function ge(a, b)
  local ah, al = split(a)
  local bh, bl = split(b)
  return ah > bh or (ah == bh and al >= bl)
end

-- sub_reserved takes amt off a reserved sum and drops the field at zero, so the hash
-- only holds periods with requests in flight (and never goes negative).
local function sub_reserved(rsv, field, amt)
  if amt == '0' then return end
  if redis.call('HINCRBY', rsv, field, '-' .. amt) <= 0 then
    redis.call('HDEL', rsv, field)
  end
end

-- release drops reservation id and frees its amount in the periods it was TAKEN in,
-- which are recorded with it: a settlement after midnight frees yesterday's reservation.
local function release(res, resx, rsv, id)
  local rec = redis.call('HGET', res, id)
  redis.call('HDEL', res, id)
  redis.call('ZREM', resx, id)
  if not rec then return end
  local amt, d, m = string.match(rec, '^(%d+)|([^|]*)|([^|]*)|')
  if amt then
    sub_reserved(rsv, 'd|' .. d, amt)
    sub_reserved(rsv, 'm|' .. m, amt)
  end
end

-- sweep releases reservations whose expiry (request clock, unix ms) is <= now. The batch
-- is bounded so one call never runs long; leftovers only make admission stricter.
local function sweep(res, resx, rsv, now)
  local ids = redis.call('ZRANGEBYSCORE', resx, '-inf', now, 'LIMIT', 0, 256)
  for i = 1, #ids do release(res, resx, rsv, ids[i]) end
end

-- touch extends key k's TTL to at least ms milliseconds (never shortens it).
local function touch(k, ms)
  local t = redis.call('PTTL', k)
  if t == -1 or (t >= 0 and t < tonumber(ms)) then
    redis.call('PEXPIRE', k, ms)
  end
end

local function get0(k, f)
  return redis.call('HGET', k, f) or '0'
end
