-- ListClients page: one page of a client index after a keyset cursor.
-- KEYS: 1 index zset (member client id, score -spent: ZRANGE order is then spend
--       descending, client id ascending, which is the listing order)
-- ARGV (the pageArg* constants of scripts.go): 1 cursor score ('' for the first page),
--       2 cursor member, 3 rows wanted
-- Returns {ZCARD, {member, score, …}}.
--
-- The cursor is the last row of the previous page. When that member still has the same
-- score, the page starts right after its rank: O(log N). When its spend changed since,
-- the page starts at the cursor's position in the order: past every lower score, then a
-- binary search through the block of equal scores (members sort by bytes there).
local K_INDEX = 1
local A_SCORE, A_MEMBER, A_ROWS = 1, 2, 3
local k, cs, cm, n = KEYS[K_INDEX], ARGV[A_SCORE], ARGV[A_MEMBER], tonumber(ARGV[A_ROWS])

-- le reports whether a <= b comparing bytes, like Redis orders members. (Lua's own
-- string comparison follows the server's locale.)
local function le(a, b)
  local la, lb = #a, #b
  for i = 1, math.min(la, lb) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return la <= lb
end

local start = 0
if cs ~= '' then
  local cur = redis.call('ZSCORE', k, cm)
  if cur and tonumber(cur) == tonumber(cs) then
    start = redis.call('ZRANK', k, cm) + 1
  else
    local lo = redis.call('ZCOUNT', k, '-inf', '(' .. cs)
    local hi = redis.call('ZCOUNT', k, '-inf', cs)
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if le(redis.call('ZRANGE', k, mid, mid)[1], cm) then lo = mid + 1 else hi = mid end
    end
    start = lo
  end
end
return {redis.call('ZCARD', k), redis.call('ZRANGE', k, start, start + n - 1, 'WITHSCORES')}
