-- Settle: replace a reservation with the actual cost, record stats, fire thresholds,
-- remember context sizes.
-- KEYS: 1 res, 2 resx, 3 rsv, 4 done, 5 day hash, 6 month hash, then one key per
--       remembered context
-- ARGV (the settleArg* constants of scripts.go): 1 id, 2 now ms, 3 actual, 4 failed '1'/'0',
--       5 estimated '1'/'0', 6 model, 7 prompt, 8 cached, 9 completion, 10 reasoning
--       tokens, 11 day key, 12 month key, 13 day ttl ms, 14 month ttl ms, 15 settled ttl
--       ms, 16 '1' to settle only a reservation that exists (a held background response
--       or batch), 17 n thresholds, then n triples (kind 'd'/'m', mark field, amount),
--       then one pair per remembered context (tokens, ttl ms)
-- Returns {status, day spent, day reserved, month spent, month reserved, {fired i…},
-- charged}; status (settleStatus* in scripts.go) 0 duplicate (nothing changed), 1 settled,
-- 2 nothing held under id (nothing changed).
local K_RES, K_RESX, K_RSV, K_DONE, K_DAY, K_MONTH, K_CONTEXTS = 1, 2, 3, 4, 5, 6, 7
local res, resx, rsv, done, day, month = KEYS[K_RES], KEYS[K_RESX], KEYS[K_RSV], KEYS[K_DONE], KEYS[K_DAY], KEYS[K_MONTH]
local A_ID, A_NOW, A_ACTUAL, A_FAILED, A_EST, A_MODEL = 1, 2, 3, 4, 5, 6
local A_PROMPT, A_CACHED, A_COMPLETION, A_REASONING, A_DAY, A_MONTH = 7, 8, 9, 10, 11, 12
local A_DAYTTL, A_MONTHTTL, A_DONETTL, A_ONLYHELD, A_NMARKS = 13, 14, 15, 16, 17
-- each threshold after A_NMARKS: (kind, mark field, amount); each context: (tokens, ttl ms)
local M_KIND, M_FIELD, M_AMOUNT, M_SIZE = 1, 2, 3, 3
local C_TOKENS, C_TTL, C_SIZE = 1, 2, 2
local S_DUPLICATE, S_SETTLED, S_NOT_HELD = 0, 1, 2
local id, now, actual = ARGV[A_ID], ARGV[A_NOW], ARGV[A_ACTUAL]
local df, mf = 'd|' .. ARGV[A_DAY], 'm|' .. ARGV[A_MONTH]

local charged = sweep(res, resx, rsv, done, now)

if redis.call('ZSCORE', done, id) then
  return {S_DUPLICATE, get0(day, 'spent'), get0(rsv, df), get0(month, 'spent'), get0(rsv, mf), {}, charged}
end
if ARGV[A_ONLYHELD] == '1' and redis.call('HEXISTS', res, id) == 0 then
  return {S_NOT_HELD, get0(day, 'spent'), get0(rsv, df), get0(month, 'spent'), get0(rsv, mf), {}, charged}
end

release(res, resx, rsv, id)

if actual ~= '0' then
  redis.call('HINCRBY', day, 'spent', actual)
  redis.call('HINCRBY', month, 'spent', actual)
end
local mp = 'm|' .. ARGV[A_MODEL] .. '|'
count(day, ARGV[A_MODEL], actual, ARGV[A_EST] == '1')
if ARGV[A_FAILED] == '1' then
  redis.call('HINCRBY', day, 'fail', 1)
  redis.call('HINCRBY', day, mp .. 'fail', 1)
end
local counters = {{'p', ARGV[A_PROMPT]}, {'c', ARGV[A_CACHED]}, {'o', ARGV[A_COMPLETION]}, {'r', ARGV[A_REASONING]}}
for i = 1, #counters do
  if counters[i][2] ~= '0' then
    redis.call('HINCRBY', day, mp .. counters[i][1], counters[i][2])
  end
end

local ds, ms = get0(day, 'spent'), get0(month, 'spent')
-- Each threshold fires once per period: HSETNX of its mark succeeds only the first time.
local fired = {}
local n = tonumber(ARGV[A_NMARKS])
for i = 1, n do
  local b = A_NMARKS + (i - 1) * M_SIZE
  local h, s = day, ds
  if ARGV[b + M_KIND] == 'm' then h, s = month, ms end
  if ge(s, ARGV[b + M_AMOUNT]) and redis.call('HSETNX', h, ARGV[b + M_FIELD], now) == 1 then
    fired[#fired + 1] = i
  end
end

-- Remembered contexts: how many tokens a stored response (or conversation) now holds,
-- so the next turn that refers to it is estimated from it.
local r = A_NMARKS + n * M_SIZE
for k = K_CONTEXTS, #KEYS do
  redis.call('SET', KEYS[k], ARGV[r + C_TOKENS], 'PX', ARGV[r + C_TTL])
  r = r + C_SIZE
end

-- Remember the id long enough to recognise a late duplicate, forget older ones.
redis.call('ZADD', done, now, id)
redis.call('ZREMRANGEBYSCORE', done, '-inf', '(' .. (tonumber(now) - tonumber(ARGV[A_DONETTL])))
touch(done, ARGV[A_DONETTL])
touch(day, ARGV[A_DAYTTL])
touch(month, ARGV[A_MONTHTTL])

return {S_SETTLED, ds, get0(rsv, df), ms, get0(rsv, mf), fired, charged}
