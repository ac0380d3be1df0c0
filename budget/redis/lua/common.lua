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

-- sum_le reports whether a + b + c <= lim.
local function sum_le(a, b, c, lim)
  local ah, al = split(a)
  local bh, bl = split(b)
  local ch, cl = split(c)
  local lh, ll = split(lim)
  local h, l = ah + bh + ch, al + bl + cl
  while l >= B do h = h + 1; l = l - B end
  return h < lh or (h == lh and l <= ll)
end

-- A reservation record is "amount|day key|month key|expiry ms|kind|model|day keep|month keep".
-- kind 'p' marks a pending charge (a background response, a batch): it is CHARGED when it
-- expires unseen; '' is a request in flight, whose sidecar renews its expiry while the
-- request lives, so it expires (and is released) only when that sidecar died. day keep
-- and month keep are the unix ms until which the period hashes must live. Records of
-- older versions have only the first four fields.
local function fields(rec)
  local f = {}
  for x in string.gmatch(rec .. '|', '([^|]*)|') do f[#f + 1] = x end
  return f
end

-- release drops reservation id and frees its amount in the periods it was TAKEN in,
-- which are recorded with it: a settlement after midnight frees yesterday's reservation.
-- It returns the record's fields, or nil when there was no such reservation.
local function release(res, resx, rsv, id)
  local rec = redis.call('HGET', res, id)
  redis.call('HDEL', res, id)
  redis.call('ZREM', resx, id)
  if not rec then return nil end
  local f = fields(rec)
  if f[1] and string.match(f[1], '^%d+$') then
    sub_reserved(rsv, 'd|' .. f[2], f[1])
    sub_reserved(rsv, 'm|' .. f[3], f[1])
  end
  return f
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

-- count adds the counters of one charge to a day hash: requests, estimated requests and
-- their cost, and the same per model.
local function count(day, model, amount, estimated)
  local mp = 'm|' .. model .. '|'
  redis.call('HINCRBY', day, 'req', 1)
  redis.call('HINCRBY', day, mp .. 'req', 1)
  if estimated then
    redis.call('HINCRBY', day, 'est', 1)
    redis.call('HINCRBY', day, mp .. 'est', 1)
  end
  if amount ~= '0' then
    redis.call('HINCRBY', day, mp .. 'cost', amount)
    if estimated then
      redis.call('HINCRBY', day, 'estc', amount)
      redis.call('HINCRBY', day, mp .. 'estc', amount)
    end
  end
end

-- charge_pending charges an expired pending reservation (fields f) to the periods it was
-- taken in, as an estimated charge, and remembers its id as settled. base is the client's
-- key prefix: the period hashes share its hash tag, so they live in the same slot. The
-- charge is appended to charged for the caller (the client index is written from Go).
local function charge_pending(base, done, id, f, now, charged)
  local amt, d, m, model = f[1], f[2], f[3], f[6]
  if not model or model == '' then model = 'unknown' end
  local dk, mk = base .. 'd:' .. d, base .. 'm:' .. m
  if amt ~= '0' then
    redis.call('HINCRBY', dk, 'spent', amt)
    redis.call('HINCRBY', mk, 'spent', amt)
  end
  count(dk, model, amt, true)
  local n = tonumber(now)
  if f[7] and tonumber(f[7]) and tonumber(f[7]) > n then touch(dk, tonumber(f[7]) - n) end
  if f[8] and tonumber(f[8]) and tonumber(f[8]) > n then touch(mk, tonumber(f[8]) - n) end
  redis.call('ZADD', done, now, id)
  charged[#charged + 1] = {id, amt, model, d, m, get0(dk, 'spent'), get0(mk, 'spent')}
end

-- sweep expires reservations whose expiry (request clock, unix ms) is <= now: in-flight
-- ones are released, pending ones charged. The batch is bounded so one call never runs
-- long; leftovers only make admission stricter. It returns the pending charges made.
local function sweep(res, resx, rsv, done, now)
  local charged = {}
  local base = string.sub(res, 1, -4) -- res is base .. 'res'
  local ids = redis.call('ZRANGEBYSCORE', resx, '-inf', now, 'LIMIT', 0, 256)
  for i = 1, #ids do
    local f = release(res, resx, rsv, ids[i])
    if f and f[5] == 'p' then charge_pending(base, done, ids[i], f, now, charged) end
  end
  return charged
end
