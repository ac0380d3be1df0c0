-- Settle: replace a reservation with the actual cost, record stats, fire thresholds,
-- remember context sizes.
-- KEYS: 1 res, 2 resx, 3 rsv, 4 done, 5 day hash, 6 month hash, then one key per
--       remembered context
-- ARGV (the settleArg* constants of redis.go): 1 id, 2 now ms, 3 actual, 4 failed '1'/'0',
--       5 estimated '1'/'0', 6 model, 7 prompt, 8 cached, 9 completion, 10 reasoning
--       tokens, 11 day key, 12 month key, 13 day ttl ms, 14 month ttl ms, 15 settled ttl
--       ms, 16 '1' to settle only a reservation that exists (a held background response
--       or batch), 17 n thresholds, then n triples (kind 'd'/'m', mark field, amount),
--       then one pair per remembered context (tokens, ttl ms)
-- Returns {status, day spent, day reserved, month spent, month reserved, {fired i…},
-- charged}; status (settleStatus* in redis.go) 0 duplicate (nothing changed), 1 settled,
-- 2 nothing held under id (nothing changed).
local res, resx, rsv, done, day, month = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local A_ID, A_NOW, A_ACTUAL, A_FAILED, A_EST, A_MODEL, A_DAY, A_MONTH = 1, 2, 3, 4, 5, 6, 11, 12
local A_DAYTTL, A_MONTHTTL, A_DONETTL, A_ONLYHELD, A_NMARKS = 13, 14, 15, 16, 17
local id, now, actual = ARGV[A_ID], ARGV[A_NOW], ARGV[A_ACTUAL]
local df, mf = 'd|' .. ARGV[A_DAY], 'm|' .. ARGV[A_MONTH]

local charged = sweep(res, resx, rsv, done, now)

if redis.call('ZSCORE', done, id) then
  return {0, get0(day, 'spent'), get0(rsv, df), get0(month, 'spent'), get0(rsv, mf), {}, charged}
end
if ARGV[A_ONLYHELD] == '1' and redis.call('HEXISTS', res, id) == 0 then
  return {2, get0(day, 'spent'), get0(rsv, df), get0(month, 'spent'), get0(rsv, mf), {}, charged}
end

release(res, resx, rsv, id)

if actual ~= '0' then
  redis.call('HINCRBY', day, 'spent', actual)
  redis.call('HINCRBY', month, 'spent', actual)
end
local mp = 'm|' .. ARGV[A_MODEL] .. '|'
count(day, ARGV[A_MODEL], actual, ARGV[A_EST] == '1')
if ARGV[A_FAILED] == '1' then
  redis.call('HINCRBY', day, 'fail', 1)
  redis.call('HINCRBY', day, mp .. 'fail', 1)
end
local counters = {{'p', ARGV[7]}, {'c', ARGV[8]}, {'o', ARGV[9]}, {'r', ARGV[10]}}
for i = 1, #counters do
  if counters[i][2] ~= '0' then
    redis.call('HINCRBY', day, mp .. counters[i][1], counters[i][2])
  end
end

local ds, ms = get0(day, 'spent'), get0(month, 'spent')
-- Each threshold fires once per period: HSETNX of its mark succeeds only the first time.
local fired = {}
local n = tonumber(ARGV[A_NMARKS])
for i = 1, n do
  local b = A_NMARKS + (i - 1) * 3
  local h, s = day, ds
  if ARGV[b + 1] == 'm' then h, s = month, ms end
  if ge(s, ARGV[b + 3]) and redis.call('HSETNX', h, ARGV[b + 2], now) == 1 then
    fired[#fired + 1] = i
  end
end

-- Remembered contexts: how many tokens a stored response (or conversation) now holds,
-- so the next turn that refers to it is estimated from it.
local r = A_NMARKS + n * 3
for k = 7, #KEYS do
  redis.call('SET', KEYS[k], ARGV[r + 1], 'PX', ARGV[r + 2])
  r = r + 2
end

-- Remember the id long enough to recognise a late duplicate, forget older ones.
redis.call('ZADD', done, now, id)
redis.call('ZREMRANGEBYSCORE', done, '-inf', '(' .. (tonumber(now) - tonumber(ARGV[A_DONETTL])))
touch(done, ARGV[A_DONETTL])
touch(day, ARGV[A_DAYTTL])
touch(month, ARGV[A_MONTHTTL])

return {1, ds, get0(rsv, df), ms, get0(rsv, mf), fired, charged}
