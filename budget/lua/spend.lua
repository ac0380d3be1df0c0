-- Spend: expire old reservations (charging pending ones), then read the current periods.
-- KEYS: 1 res, 2 resx, 3 rsv, 4 day hash, 5 month hash, 6 done
-- ARGV: 1 now ms, 2 day key, 3 month key
-- Returns {day hash as flat field/value list, month spent, day reserved, month reserved,
-- charged}.
local res, resx, rsv, day, month, done = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local charged = sweep(res, resx, rsv, done, ARGV[1])
return {redis.call('HGETALL', day), get0(month, 'spent'), get0(rsv, 'd|' .. ARGV[2]), get0(rsv, 'm|' .. ARGV[3]), charged}
