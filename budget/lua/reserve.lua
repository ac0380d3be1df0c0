-- Reserve: release expired reservations, observe the loop window, check limits, reserve
-- the estimate. Prepended with common.lua and loop.WindowLua (loop_observe, loop_args).
-- KEYS: 1 res, 2 resx, 3 rsv, 4 done, 5 day hash, 6 month hash; with loop detection also
--       7 the client's loop window, 8 the client's loop events list
-- ARGV: 1 id, 2 now ms, 3 estimate, 4 day key, 5 month key, 6 day limit ('' = none),
--       7 month limit ('' = none), 8 '1' when the rule blocks, 9 expiry ms, 10 key ttl ms;
--       with loop detection also 11..18 loop.LuaArgs, 19 '1' when a loop blocks,
--       20 the event entry's tail (after the verdict's fields), 21 events kept, 22 events ttl ms
-- Returns {status, day spent, day reserved, month spent, month reserved, loop, cooldown,
-- repeats, kind, until}: the spend BEFORE this reservation, then loop_observe's verdict
-- (zeros without detection); status 0 refused (budget), 1 reserved, 2 duplicate,
-- 3 already settled, 4 refused (loop or its cooldown; nothing reserved).
local res, resx, rsv, done, day, month = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, now, est = ARGV[1], ARGV[2], ARGV[3]
local df, mf = 'd|' .. ARGV[4], 'm|' .. ARGV[5]

sweep(res, resx, rsv, now)

local ds, dr = get0(day, 'spent'), get0(rsv, df)
local ms, mr = get0(month, 'spent'), get0(rsv, mf)

local lv = {0, 0, 0, 0, 0}
local status
if redis.call('ZSCORE', done, id) then
  status = 3
elseif redis.call('HEXISTS', res, id) == 1 then
  status = 2 -- observed when it was first reserved
else
  if KEYS[7] then
    -- Loop detection comes before the budget: a looping client is stopped before it
    -- burns through its budget, and a refused loop reserves nothing.
    lv = loop_observe({KEYS[7]}, loop_args(ARGV, 11))
    if lv[1] == 1 and lv[2] == 0 then
      -- A new loop (not its cooldown): record the event; loop.go documents the format.
      redis.call('LPUSH', KEYS[8], string.format('1|%s|%d|%d|%d', now, lv[4], lv[3], lv[5]) .. ARGV[20])
      redis.call('LTRIM', KEYS[8], 0, tonumber(ARGV[21]) - 1)
      redis.call('PEXPIRE', KEYS[8], ARGV[22])
    end
  end
  if lv[1] == 1 and ARGV[19] == '1' then
    status = 4
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
end
return {status, ds, dr, ms, mr, lv[1], lv[2], lv[3], lv[4], lv[5]}
