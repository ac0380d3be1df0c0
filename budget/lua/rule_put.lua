-- PutRule: upsert one rule and bump the version, atomically.
-- KEYS: 1 rules hash, 2 version   (both carry the {rules} hash tag: one Cluster slot)
-- ARGV: 1 field (rule key string), 2 JSON value, 3 max rules, 4 version seed (unix ns)
-- Returns 1 created, 0 replaced, -1 refused because the store is full.
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1])
if exists == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
bump(KEYS[2], ARGV[4])
return 1 - exists
