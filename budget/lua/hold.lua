-- Hold: turn a request's reservation into a pending charge under a new id (a background
-- response, a batch) that outlives the request: settled by whichever request later sees
-- the result, or charged when it expires unseen.
-- KEYS: 1 res, 2 resx, 3 rsv, 4 done
-- ARGV (holdArg* in redis.go): 1 old id, 2 new id, 3 now ms, 4 amount (used when the old
--       reservation is gone), 5 day key, 6 month key, 7 expiry ms, 8 model, 9 day keep
--       (unix ms), 10 month keep (unix ms), 11 key ttl ms
-- Returns {status, charged}; status (holdStatus* in redis.go) 1 held, 0 the new id was
-- already held or settled (the old reservation is released, nothing is held twice).
local res, resx, rsv, done = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local old, new, now = ARGV[1], ARGV[2], ARGV[3]

local charged = sweep(res, resx, rsv, done, now)
local f = release(res, resx, rsv, old)
if redis.call('ZSCORE', done, new) or redis.call('HEXISTS', res, new) == 1 then
  return {0, charged}
end
local amt, d, m = ARGV[4], ARGV[5], ARGV[6]
if f and f[1] and string.match(f[1], '^%d+$') then amt, d, m = f[1], f[2], f[3] end
redis.call('HSET', res, new, table.concat({amt, d, m, ARGV[7], 'p', ARGV[8], ARGV[9], ARGV[10]}, '|'))
redis.call('ZADD', resx, ARGV[7], new)
if amt ~= '0' then
  redis.call('HINCRBY', rsv, 'd|' .. d, amt)
  redis.call('HINCRBY', rsv, 'm|' .. m, amt)
end
touch(res, ARGV[11]); touch(resx, ARGV[11]); touch(rsv, ARGV[11])
return {1, charged}
