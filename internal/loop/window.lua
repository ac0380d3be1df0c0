-- Loop detection window (package loop): the same algorithm as loop.Window.Observe, for
-- Redis's Lua 5.1 with its `bit` and `struct` libraries. Prepend this file to a script and call
-- loop_observe; every name it defines starts with loop_ and is local.
--
-- loop_observe(keys, args)   (loop_args(ARGV, first) cuts args out of a longer ARGV)
--   keys[1]  the client's window key (give it the client's hash tag, like its other keys)
--   args[1]  now, unix milliseconds
--   args[2]  Signature.Exact, 16 lowercase hex digits ('0000000000000000' = unknown)
--   args[3]  Signature.Sim, 16 lowercase hex digits
--   args[4]  Signature.Size, decimal
--   args[5]  window, milliseconds
--   args[6]  max_repeats
--   args[7]  similarity threshold, decimal (Go strconv 'g', -1: parses to the same double)
--   args[8]  cooldown, milliseconds
-- loop.LuaArgs builds args. Returns {loop, cooldown, repeats, kind, until}: loop and
-- cooldown 0|1, kind 0 none, 1 exact, 2 similar, 3 cycle, until the cooldown end in unix
-- ms (0 = none); loop.ParseLuaReply decodes it. The key holds the encoding of
-- loop.Window (encode.go) and lives max(window, remaining cooldown) after each write.
--
-- 64-bit values never become Lua numbers (doubles): Exact stays an 8-byte string, compared
-- as such; Sim is split into two 32-bit halves for bit.bxor. Similarity uses the same
-- float64 operations in the same order as Go, so both decide identically.
--
-- Cost: this runs on every loop-checked request inside Redis, so it avoids per-byte Lua:
-- one struct.unpack decodes the whole window, popcounts are table lookups on bytes with
-- VM arithmetic (one bit.bxor per half), a pair stops once its high half already rules
-- similarity out at any size (loop_hmax), and the write appends to the stored bytes instead of re-encoding them.

local LOOP_SIM_SCALE = 64
local LOOP_BITS_PER_EDIT = 1.5
local LOOP_MIN_SIZE = 8
local LOOP_MAX_ENTRIES = 32
local LOOP_NO_EXACT = '\0\0\0\0\0\0\0\0'
local LOOP_HEAD = '>c1I6I1I2' -- version '2' | until ms | kind | repeats: 10 bytes
local LOOP_ENTRY = 'I6c8I4I4I2' -- at ms | exact | sim high, low halves | size: 24 bytes
local LOOP_EMPTY_HEAD = '2\0\0\0\0\0\0\0\0\0' -- until 0, kind 0, repeats 0
-- loop.differing: features two sketches differ by, for 0..31 differing bits
local LOOP_DIFFERING = {0, 1, 2.033, 3.101, 4.206, 5.351, 6.54, 7.775, 9.061, 10.402, 11.802, 13.267, 14.804, 16.419, 18.122, 19.923, 21.832, 23.865, 26.038, 28.372, 30.894, 33.634, 36.636, 39.955, 43.665, 47.87, 52.726, 58.468, 65.497, 74.558, 87.329, 109.162}

local loop_sub, loop_rep = string.sub, string.rep
-- Set by loop_observe: a script that never calls it must also load where these
-- libraries are missing (miniredis).
local loop_bxor, loop_pack, loop_unpack

-- loop_pop8 returns the popcounts of 0..255. It is built only when two sketches
-- are compared: a script keeps no state between calls.
local function loop_pop8()
  return {
    [0] = 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 1, 2, 2, 3, 2, 3, 3, 4, 2, 3, 3, 4, 3, 4, 4, 5,
    1, 2, 2, 3, 2, 3, 3, 4, 2, 3, 3, 4, 3, 4, 4, 5, 2, 3, 3, 4, 3, 4, 4, 5, 3, 4, 4, 5, 4, 5, 5, 6,
    1, 2, 2, 3, 2, 3, 3, 4, 2, 3, 3, 4, 3, 4, 4, 5, 2, 3, 3, 4, 3, 4, 4, 5, 3, 4, 4, 5, 4, 5, 5, 6,
    2, 3, 3, 4, 3, 4, 4, 5, 3, 4, 4, 5, 4, 5, 5, 6, 3, 4, 4, 5, 4, 5, 5, 6, 4, 5, 5, 6, 5, 6, 6, 7,
    1, 2, 2, 3, 2, 3, 3, 4, 2, 3, 3, 4, 3, 4, 4, 5, 2, 3, 3, 4, 3, 4, 4, 5, 3, 4, 4, 5, 4, 5, 5, 6,
    2, 3, 3, 4, 3, 4, 4, 5, 3, 4, 4, 5, 4, 5, 5, 6, 3, 4, 4, 5, 4, 5, 5, 6, 4, 5, 5, 6, 5, 6, 6, 7,
    2, 3, 3, 4, 3, 4, 4, 5, 3, 4, 4, 5, 4, 5, 5, 6, 3, 4, 4, 5, 4, 5, 5, 6, 4, 5, 5, 6, 5, 6, 6, 7,
    3, 4, 4, 5, 4, 5, 5, 6, 4, 5, 5, 6, 5, 6, 6, 7, 4, 5, 5, 6, 5, 6, 6, 7, 5, 6, 6, 7, 6, 7, 7, 8
  }
end

-- loop_pop32 is the popcount of x, a bit.bxor result (a signed 32-bit integer),
-- with VM arithmetic rather than one bit call per step.
local function loop_pop32(P, x)
  if x < 0 then x = x + 4294967296 end
  local b0 = x % 256
  x = (x - b0) / 256
  local b1 = x % 256
  x = (x - b1) / 256
  local b2 = x % 256
  return P[b0] + P[b1] + P[b2] + P[(x - b2) / 256]
end

-- loop_sketch_alike is sketchSimilarity(a, b) >= thr for sketches split into
-- 32-bit halves (hi1, lo1, size z1) and (hi2, lo2, z2), P from loop_pop8.
-- Similarity falls as the differing bits h grow (LOOP_DIFFERING increases), so
-- when the high half's bits alone are too many, the low half cannot help.
local function loop_sketch_alike(P, thr, hi1, lo1, z1, hi2, lo2, z2)
  if z1 < LOOP_MIN_SIZE or z2 < LOOP_MIN_SIZE then return 0 >= thr end
  local den = (z1 + z2) / 2
  if den > LOOP_SIM_SCALE then den = LOOP_SIM_SCALE end
  den = den * LOOP_BITS_PER_EDIT
  local h = loop_pop32(P, loop_bxor(hi1, hi2))
  if h >= 32 or 1 - LOOP_DIFFERING[h + 1] / den < thr then return 0 >= thr end
  h = h + loop_pop32(P, loop_bxor(lo1, lo2))
  if h >= 32 then return 0 >= thr end
  local s = 1 - LOOP_DIFFERING[h + 1] / den
  if s < 0 then s = 0 end
  return s >= thr
end

-- loop_hmax is the most differing bits two sketches of sizes summing to 128 or
-- more (den 96, the largest) may have and still be alike under thr; -1 when
-- none. Fewer are allowed at any smaller den, so a pair whose high half alone
-- differs in more bits is not alike: the cheap test that rules out most pairs.
local function loop_hmax(thr)
  if thr <= 0 then return 64 end
  local den = LOOP_SIM_SCALE * LOOP_BITS_PER_EDIT
  local h = -1
  while h < 31 do
    local s = 1 - LOOP_DIFFERING[h + 2] / den
    if s < 0 then s = 0 end
    if s < thr then break end
    h = h + 1
  end
  return h
end

-- loop_args returns the eight loop_observe args found at argv[first], argv[first+1], …,
-- so a script with its own ARGV can call loop_observe({KEYS[n]}, loop_args(ARGV, first)).
local function loop_args(argv, first)
  local a = {}
  for i = 0, 7 do a[i + 1] = argv[first + i] end
  return a
end

local function loop_observe(keys, args)
  loop_bxor, loop_pack, loop_unpack = bit.bxor, struct.pack, struct.unpack
  local key = keys[1]
  local now = tonumber(args[1])
  local shi, slo = tonumber(loop_sub(args[2], 1, 8), 16), tonumber(loop_sub(args[2], 9, 16), 16)
  local sx = loop_pack('>I4I4', shi, slo)
  shi, slo = tonumber(loop_sub(args[3], 1, 8), 16), tonumber(loop_sub(args[3], 9, 16), 16)
  local sz = tonumber(args[4])
  local win, maxrep = tonumber(args[5]), tonumber(args[6])
  local thr, cool = tonumber(args[7]), tonumber(args[8])
  local known = sx ~= LOOP_NO_EXACT

  local raw = redis.call('GET', key)
  if raw and (#raw < 10 or loop_sub(raw, 1, 1) ~= '2') then raw = false end -- older encoding: start afresh
  local untl, kind, reps, stored = 0, 0, 0, 0
  if raw then
    local _
    _, untl, kind, reps = loop_unpack(LOOP_HEAD, raw)
    stored = math.floor((#raw - 10) / 24)
  end
  if untl > now then return {1, 1, reps, kind, untl} end

  -- F holds the stored entries' fields, five each (at, exact, sim high, sim
  -- low, size): entry k's start at 5(k-1). K lists the kept entries' starts,
  -- oldest first; A[i] is whether kept entry i is alike s.
  local F, K, A = nil, {}, {}
  local n, P, hub = 0, nil, nil
  local similar, exact = 0, 0
  if stored > 0 then
    F = {loop_unpack('>' .. loop_rep(LOOP_ENTRY, stored), raw, 11)}
    for b = 0, 5 * (stored - 1), 5 do
      if now - F[b + 1] < win then
        n = n + 1
        K[n] = b
        local a = false
        if known and F[b + 2] == sx then
          a = true
          exact = exact + 1
        elseif sz >= LOOP_MIN_SIZE and F[b + 5] >= LOOP_MIN_SIZE then
          -- loop_pop32 inlined: this runs for every kept entry.
          if P == nil then P, hub = loop_pop8(), loop_hmax(thr) end
          local x = loop_bxor(shi, F[b + 3])
          if x < 0 then x = x + 4294967296 end
          local b0 = x % 256
          x = (x - b0) / 256
          local b1 = x % 256
          x = (x - b1) / 256
          local b2 = x % 256
          if P[b0] + P[b1] + P[b2] + P[(x - b2) / 256] <= hub then
            a = loop_sketch_alike(P, thr, shi, slo, sz, F[b + 3], F[b + 4], F[b + 5])
          end
        end
        if a then similar = similar + 1 end
        A[n] = a
      end
    end
  end

  local code, repeats = 0, similar
  if similar >= maxrep then
    code = 2
    if exact >= maxrep then code = 1 end
  else
    -- Window.cycle on the kept entries followed by s (index n+1): each
    -- period's first comparison is s against a kept entry (A), the rest
    -- compare kept entries, the later one first as in Go's alike.
    local need = maxrep + 1
    for p = 2, 3 do
      local m = math.max(need, 2 * p)
      if n + 1 < m then break end
      local run = p
      if A[n + 1 - p] then
        run = run + 1
        local i = n
        while i - p >= 1 do
          local b, c = K[i], K[i - p]
          local a = F[b + 2] ~= LOOP_NO_EXACT and F[b + 2] == F[c + 2]
          if not a then
            if P == nil then P = loop_pop8() end
            a = loop_sketch_alike(P, thr, F[b + 3], F[b + 4], F[b + 5], F[c + 3], F[c + 4], F[c + 5])
          end
          if not a then break end
          run = run + 1
          i = i - 1
        end
      end
      if run >= m then
        code, repeats = 3, run - 1
        break
      end
    end
  end

  -- Write back: the stored bytes plus s's entry, cut only where entries were
  -- pruned or the window was full; a loop leaves only the header.
  local val
  if code == 0 then
    local e = loop_pack('>' .. LOOP_ENTRY, now, sx, shi, slo, sz)
    if n == stored and n < LOOP_MAX_ENTRIES then
      val = (raw or LOOP_EMPTY_HEAD) .. e
    elseif n == stored then
      val = loop_sub(raw, 1, 10) .. loop_sub(raw, 11 + 24) .. e
    else
      local out = {loop_sub(raw, 1, 10)}
      for i = 1, n do
        local o = 11 + K[i] / 5 * 24
        out[i + 1] = loop_sub(raw, o, o + 23)
      end
      out[n + 2] = e
      val = table.concat(out)
    end
  else
    untl, kind, reps = now + cool, code, math.min(repeats, 0xffff)
    val = loop_pack(LOOP_HEAD, '2', untl, kind, reps)
  end
  local ttl = win
  if untl - now > ttl then ttl = untl - now end
  redis.call('SET', key, val, 'PX', ttl)

  if code == 0 then return {0, 0, similar, 0, 0} end
  if cool > 0 then return {1, 0, repeats, code, untl} end
  return {1, 0, repeats, code, 0}
end
