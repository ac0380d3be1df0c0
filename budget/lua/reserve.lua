-- Reserve: release expired reservations, check limits, reserve the estimate.
-- KEYS: 1 res, 2 resx, 3 rsv, 4 done, 5 day hash, 6 month hash
-- ARGV: 1 id, 2 now ms, 3 estimate, 4 day key, 5 month key, 6 day limit ('' = none),
--       7 month limit ('' = none), 8 '1' when the rule blocks, 9 expiry ms, 10 key ttl ms
-- Returns {status, day spent, day reserved, month spent, month reserved}, the spend
-- BEFORE this reservation; status 0 refused, 1 reserved, 2 duplicate, 3 already settled.
local res, resx, rsv, done, day, month = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, now, est = ARGV[1], ARGV[2], ARGV[3]
local df, mf = 'd|' .. ARGV[4], 'm|' .. ARGV[5]

sweep(res, resx, rsv, now)

local ds, dr = get0(day, 'spent'), get0(rsv, df)
local ms, mr = get0(month, 'spent'), get0(rsv, mf)

local status
if redis.call('ZSCORE', done, id) then
  status = 3
elseif redis.call('HEXISTS', res, id) == 1 then
  status = 2
else
  local ok = true
  if ARGV[8] == '1' then
    if ARGV[6] ~= '' and not sum_lt(ds, dr, ARGV[6]) then ok = false end
    if ARGV[7] ~= '' and not sum_lt(ms, mr, ARGV[7]) then ok = false end
  end
  if ok then
    status = 1
    redis.call('HSET', res, id, est .. '|' .. ARGV[4] .. '|' .. ARGV[5] .. '|' .. ARGV[9])
    redis.call('ZADD', resx, ARGV[9], id)
    if est ~= '0' then
      redis.call('HINCRBY', rsv, df, est)
      redis.call('HINCRBY', rsv, mf, est)
    end
    touch(res, ARGV[10]); touch(resx, ARGV[10]); touch(rsv, ARGV[10])
  else
    status = 0
  end
end
return {status, ds, dr, ms, mr}
