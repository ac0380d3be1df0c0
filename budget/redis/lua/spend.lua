-- Spend: expire old reservations (charging pending ones), then read the current periods.
-- KEYS: 1 res, 2 resx, 3 rsv, 4 day hash, 5 month hash, 6 done
-- ARGV (the spendArg* constants of scripts.go): 1 now ms, 2 day key, 3 month key
-- Returns {day hash as flat field/value list, month spent, day reserved, month reserved,
-- charged}.
local K_RES, K_RESX, K_RSV, K_DAY, K_MONTH, K_DONE = 1, 2, 3, 4, 5, 6
local A_NOW, A_DAY, A_MONTH = 1, 2, 3
local res, resx, rsv, done = KEYS[K_RES], KEYS[K_RESX], KEYS[K_RSV], KEYS[K_DONE]
local day, month = KEYS[K_DAY], KEYS[K_MONTH]
local charged = sweep(res, resx, rsv, done, ARGV[A_NOW])
return {redis.call('HGETALL', day), get0(month, 'spent'), get0(rsv, 'd|' .. ARGV[A_DAY]),
  get0(rsv, 'm|' .. ARGV[A_MONTH]), charged}
