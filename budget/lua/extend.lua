-- Extend: renew the expiry of a client's in-flight reservations (their sidecar is alive and
-- their requests are still running). Pending charges and reservations already gone are
-- left alone.
-- KEYS: 1 res, 2 resx
-- ARGV: pairs of (id, new expiry ms)
-- Returns the number of reservations renewed.
local res, resx = KEYS[1], KEYS[2]
local n = 0
for i = 1, #ARGV, 2 do
  local id, expiry = ARGV[i], ARGV[i + 1]
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
