-- Extend: renew the expiry of a client's in-flight reservations (their sidecar is alive and
-- their requests are still running). Pending charges and reservations already gone are
-- left alone.
-- KEYS: 1 res, 2 resx
-- ARGV (the extendArg* constants of scripts.go): pairs of (id, new expiry ms)
-- Returns the number of reservations renewed.
local K_RES, K_RESX = 1, 2
local P_ID, P_EXPIRY, P_SIZE = 1, 2, 2 -- slots within a pair
local res, resx = KEYS[K_RES], KEYS[K_RESX]
local n = 0
for i = 0, #ARGV - 1, P_SIZE do -- i: the pair's offset
  local id, expiry = ARGV[i + P_ID], ARGV[i + P_EXPIRY]
  local rec = redis.call('HGET', res, id)
  if rec then
    local f = fields(rec)
    if f[5] ~= 'p' then
      f[4] = expiry
      redis.call('HSET', res, id, table.concat(f, '|'))
      redis.call('ZADD', resx, expiry, id)
      n = n + 1
    end
  end
end
return n
