-- Rule store helpers, prepended to the rule scripts.
--
-- bump increments the rules version. A missing version (new store, or data lost in a
-- restart without persistence) starts at the caller's clock in unix ns instead of 0, so the
-- version never returns to a value a replica already saw with other rules.
local function bump(ver, now)
  if redis.call('EXISTS', ver) == 0 then redis.call('SET', ver, now) end
  return redis.call('INCR', ver)
end
