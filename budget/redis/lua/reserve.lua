-- Reserve: expire old reservations, observe the loop window, check limits, reserve the
-- estimate. Prepended with common.lua and loop.WindowLua (loop_observe, loop_args).
-- KEYS: 1 res, 2 resx, 3 rsv, 4 done, 5 day hash, 6 month hash; with loop detection also
--       7 the client's loop window, 8 the client's loop events list
-- ARGV (the reserveArg* constants of scripts.go): 1 id, 2 now ms, 3 estimate, 4 day key,
--       5 month key, 6 day limit ('' = none), 7 month limit ('' = none), 8 '1' when the
--       rule blocks, 9 expiry ms, 10 key ttl ms, 11 '1' for strict admission; with loop
--       detection also 12..19 loop.LuaArgs, 20 '1' when a loop blocks, 21 the event
--       entry's tail (after the verdict's fields), 22 events kept, 23 events ttl ms
-- Returns {status, day spent, day reserved, month spent, month reserved, loop, cooldown,
-- repeats, kind, until, charged}: the spend BEFORE this reservation, then loop_observe's
-- verdict (zeros without detection), then the pending charges the sweep made (see
-- common.lua). status (reserveStatus* in scripts.go): 0 refused (budget), 1 reserved,
-- 2 duplicate, 3 already settled, 4 refused (loop or its cooldown; nothing reserved).
local K_RES, K_RESX, K_RSV, K_DONE, K_DAY, K_MONTH, K_LOOP, K_LOOPEV = 1, 2, 3, 4, 5, 6, 7, 8
local res, resx, rsv, done, day, month = KEYS[K_RES], KEYS[K_RESX], KEYS[K_RSV], KEYS[K_DONE], KEYS[K_DAY], KEYS[K_MONTH]
local A_ID, A_NOW, A_EST, A_DAY, A_MONTH, A_DLIM, A_MLIM, A_BLOCKS, A_EXPIRY, A_KEYTTL, A_STRICT =
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
local A_LOOP, A_LOOP_BLOCKS, A_LOOP_TAIL, A_LOOP_KEEP, A_LOOP_TTL = 12, 20, 21, 22, 23
local S_REFUSED, S_RESERVED, S_DUPLICATE, S_SETTLED, S_LOOP = 0, 1, 2, 3, 4
-- loop_observe's verdict: {loop, cooldown, repeats, kind, until}
local V_LOOP, V_COOLDOWN, V_REPEATS, V_KIND, V_UNTIL = 1, 2, 3, 4, 5
local id, now, est = ARGV[A_ID], ARGV[A_NOW], ARGV[A_EST]
local df, mf = 'd|' .. ARGV[A_DAY], 'm|' .. ARGV[A_MONTH]

local charged = sweep(res, resx, rsv, done, now)

local ds, dr = get0(day, 'spent'), get0(rsv, df)
local ms, mr = get0(month, 'spent'), get0(rsv, mf)

local lv = {0, 0, 0, 0, 0}
local status
if redis.call('ZSCORE', done, id) then
  status = S_SETTLED
elseif redis.call('HEXISTS', res, id) == 1 then
  status = S_DUPLICATE -- observed when it was first reserved
else
  if KEYS[K_LOOP] then
    -- Loop detection comes before the budget: a looping client is stopped before it
    -- burns through its budget, and a refused loop reserves nothing.
    local ev = KEYS[K_LOOPEV]
    lv = loop_observe({KEYS[K_LOOP]}, loop_args(ARGV, A_LOOP))
    if lv[V_LOOP] == 1 and lv[V_COOLDOWN] == 0 then
      -- A new loop (not its cooldown): record the event; budget/loop.go documents the format.
      redis.call('LPUSH', ev, string.format('1|%s|%d|%d|%d', now, lv[V_KIND], lv[V_REPEATS], lv[V_UNTIL]) .. ARGV[A_LOOP_TAIL])
      redis.call('LTRIM', ev, 0, tonumber(ARGV[A_LOOP_KEEP]) - 1)
      redis.call('PEXPIRE', ev, ARGV[A_LOOP_TTL])
    end
  end
  if lv[V_LOOP] == 1 and ARGV[A_LOOP_BLOCKS] == '1' then
    status = S_LOOP
  else
    local ok = true
    if ARGV[A_BLOCKS] == '1' then
      local dlim, mlim = ARGV[A_DLIM], ARGV[A_MLIM]
      if ARGV[A_STRICT] == '1' then
        -- strict: the worst case must fit in what is left
        if dlim ~= '' and not sum_le(ds, dr, est, dlim) then ok = false end
        if mlim ~= '' and not sum_le(ms, mr, est, mlim) then ok = false end
      else
        -- soft: admitted while anything is left
        if dlim ~= '' and not sum_lt(ds, dr, dlim) then ok = false end
        if mlim ~= '' and not sum_lt(ms, mr, mlim) then ok = false end
      end
    end
    if ok then
      status = S_RESERVED
      redis.call('HSET', res, id, est .. '|' .. ARGV[A_DAY] .. '|' .. ARGV[A_MONTH] .. '|' .. ARGV[A_EXPIRY])
      redis.call('ZADD', resx, ARGV[A_EXPIRY], id)
      if est ~= '0' then
        redis.call('HINCRBY', rsv, df, est)
        redis.call('HINCRBY', rsv, mf, est)
      end
      touch(res, ARGV[A_KEYTTL]); touch(resx, ARGV[A_KEYTTL]); touch(rsv, ARGV[A_KEYTTL])
    else
      status = S_REFUSED
    end
  end
end
return {status, ds, dr, ms, mr, lv[V_LOOP], lv[V_COOLDOWN], lv[V_REPEATS], lv[V_KIND], lv[V_UNTIL], charged}
