-- DeleteRule: remove one rule and bump the version when it existed, atomically.
-- KEYS: 1 rules hash, 2 version
-- ARGV (the ruleDelArg* constants of scripts.go): 1 field (rule key string), 2 version
--       seed (unix ns)
-- Returns (ruleDel* in scripts.go) 1 deleted, 0 not found.
local K_RULES, K_VERSION = 1, 2
local A_KEY, A_SEED = 1, 2
local S_MISSING, S_DELETED = 0, 1
if redis.call('HDEL', KEYS[K_RULES], ARGV[A_KEY]) == 0 then
  return S_MISSING
end
bump(KEYS[K_VERSION], ARGV[A_SEED])
return S_DELETED
