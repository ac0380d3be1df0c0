-- DeleteRule: remove one rule and bump the version when it existed, atomically.
-- KEYS: 1 rules hash, 2 version
-- ARGV: 1 field (rule key string), 2 version seed (unix ns)
-- Returns 1 deleted, 0 not found.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
bump(KEYS[2], ARGV[2])
return 1
