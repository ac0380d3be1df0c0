-- Hold: turn a request's reservation into a pending charge under a new id (a background
-- response, a batch) that outlives the request: settled by whichever request later sees
-- the result, or charged when it expires unseen.
-- KEYS: 1 res, 2 resx, 3 rsv, 4 done
-- ARGV (the holdArg* constants of scripts.go): 1 old id, 2 new id, 3 now ms, 4 amount
--       (used when the old reservation is gone), 5 day key, 6 month key, 7 expiry ms,
--       8 model, 9 day keep (unix ms), 10 month keep (unix ms), 11 key ttl ms
-- Returns {status, charged}; status (holdStatus* in scripts.go) 1 held, 0 the new id was
-- already held or settled (the old reservation is released, nothing is held twice).
local K_RES, K_RESX, K_RSV, K_DONE = 1, 2, 3, 4
local A_OLD, A_NEW, A_NOW, A_AMOUNT, A_DAY, A_MONTH, A_EXPIRY, A_MODEL = 1, 2, 3, 4, 5, 6, 7, 8
local A_DAYKEEP, A_MONTHKEEP, A_KEYTTL = 9, 10, 11
local S_NOT_HELD, S_HELD = 0, 1
local res, resx, rsv, done = KEYS[K_RES], KEYS[K_RESX], KEYS[K_RSV], KEYS[K_DONE]
local old, new, now = ARGV[A_OLD], ARGV[A_NEW], ARGV[A_NOW]

local charged = sweep(res, resx, rsv, done, now)
local f = release(res, resx, rsv, old)
if redis.call('ZSCORE', done, new) or redis.call('HEXISTS', res, new) == 1 then
  return {S_NOT_HELD, charged}
end
local amt, d, m = ARGV[A_AMOUNT], ARGV[A_DAY], ARGV[A_MONTH]
if f and f[1] and string.match(f[1], '^%d+$') then amt, d, m = f[1], f[2], f[3] end
redis.call('HSET', res, new, table.concat({amt, d, m, ARGV[A_EXPIRY], 'p', ARGV[A_MODEL],
  ARGV[A_DAYKEEP], ARGV[A_MONTHKEEP]}, '|'))
redis.call('ZADD', resx, ARGV[A_EXPIRY], new)
if amt ~= '0' then
  redis.call('HINCRBY', rsv, 'd|' .. d, amt)
  redis.call('HINCRBY', rsv, 'm|' .. m, amt)
end
touch(res, ARGV[A_KEYTTL]); touch(resx, ARGV[A_KEYTTL]); touch(rsv, ARGV[A_KEYTTL])
return {S_HELD, charged}
