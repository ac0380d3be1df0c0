-- PutRule: upsert one rule and bump the version, atomically.
-- KEYS: 1 rules hash, 2 version   (both carry the {rules} hash tag: one Cluster slot)
-- ARGV (the rulePutArg* constants of scripts.go): 1 field (rule key string), 2 JSON value,
--       3 max rules, 4 version seed (unix ns)
-- Returns (rulePut* in scripts.go) 1 created, 0 replaced, -1 refused because the store is
-- full.
local K_RULES, K_VERSION = 1, 2
local A_KEY, A_VALUE, A_MAX, A_SEED = 1, 2, 3, 4
local S_REPLACED, S_CREATED, S_FULL = 0, 1, -1
local exists = redis.call('HEXISTS', KEYS[K_RULES], ARGV[A_KEY])
if exists == 0 and redis.call('HLEN', KEYS[K_RULES]) >= tonumber(ARGV[A_MAX]) then
  return S_FULL
end
redis.call('HSET', KEYS[K_RULES], ARGV[A_KEY], ARGV[A_VALUE])
bump(KEYS[K_VERSION], ARGV[A_SEED])
if exists == 1 then return S_REPLACED end
return S_CREATED
