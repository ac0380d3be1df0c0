-- Settle: replace a reservation with the actual cost, record stats, fire thresholds.
-- KEYS: 1 res, 2 resx, 3 rsv, 4 done, 5 day hash, 6 month hash
-- ARGV: 1 id, 2 now ms, 3 actual, 4 failed '1'/'0', 5 estimated '1'/'0', 6 model,
--       7 prompt, 8 cached, 9 completion, 10 reasoning tokens, 11 day key, 12 month key,
--       13 day ttl ms, 14 month ttl ms, 15 settled ttl ms, 16 n thresholds, then n triples
--       (kind 'd'/'m', mark field, amount)
-- Returns {status, day spent, day reserved, month spent, month reserved, {fired i…}};
-- status 0 duplicate (nothing changed), 1 settled.
local res, resx, rsv, done, day, month = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, now, actual = ARGV[1], ARGV[2], ARGV[3]
local df, mf = 'd|' .. ARGV[11], 'm|' .. ARGV[12]

sweep(res, resx, rsv, now)

if redis.call('ZSCORE', done, id) then
  return {0, get0(day, 'spent'), get0(rsv, df), get0(month, 'spent'), get0(rsv, mf), {}}
end

release(res, resx, rsv, id)

if actual ~= '0' then
  redis.call('HINCRBY', day, 'spent', actual)
  redis.call('HINCRBY', month, 'spent', actual)
end
redis.call('HINCRBY', day, 'req', 1)
local mp = 'm|' .. ARGV[6] .. '|'
redis.call('HINCRBY', day, mp .. 'req', 1)
if ARGV[4] == '1' then
  redis.call('HINCRBY', day, 'fail', 1)
  redis.call('HINCRBY', day, mp .. 'fail', 1)
end
if ARGV[5] == '1' then
  redis.call('HINCRBY', day, 'est', 1)
  redis.call('HINCRBY', day, mp .. 'est', 1)
end
local counters = {{'p', ARGV[7]}, {'c', ARGV[8]}, {'o', ARGV[9]}, {'r', ARGV[10]}, {'cost', actual}}
for i = 1, #counters do
  if counters[i][2] ~= '0' then
    redis.call('HINCRBY', day, mp .. counters[i][1], counters[i][2])
  end
end

local ds, ms = get0(day, 'spent'), get0(month, 'spent')
-- Each threshold fires once per period: HSETNX of its mark succeeds only the first time.
local fired = {}
local n = tonumber(ARGV[16])
for i = 1, n do
  local b = 16 + (i - 1) * 3
  local h, s = day, ds
  if ARGV[b + 1] == 'm' then h, s = month, ms end
  if ge(s, ARGV[b + 3]) and redis.call('HSETNX', h, ARGV[b + 2], now) == 1 then
    fired[#fired + 1] = i
  end
end

-- Remember the id long enough to recognise a late duplicate, forget older ones.
redis.call('ZADD', done, now, id)
redis.call('ZREMRANGEBYSCORE', done, '-inf', '(' .. (tonumber(now) - tonumber(ARGV[15])))
touch(done, ARGV[15])
touch(day, ARGV[13])
touch(month, ARGV[14])

return {1, ds, get0(rsv, df), ms, get0(rsv, mf), fired}
