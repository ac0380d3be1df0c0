-- Loop detection window (package loop): the same algorithm as loop.Window.Observe, for
-- Redis's Lua 5.1 with its `bit` library. Prepend this file to a script and call
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
-- 64-bit values never become Lua numbers (doubles): Exact stays a string, compared as
-- such; Sim is split into two 32-bit halves for bit.bxor. Similarity uses the same
-- float64 operations in the same order as Go, so both decide identically.

local LOOP_SIM_SCALE = 64
local LOOP_BITS_PER_EDIT = 1.5
local LOOP_MIN_SIZE = 8
local LOOP_MAX_ENTRIES = 32
local LOOP_NO_EXACT = '0000000000000000'
-- loop.differing: features two sketches differ by, for 0..31 differing bits
local LOOP_DIFFERING = {0, 1, 2.033, 3.101, 4.206, 5.351, 6.54, 7.775, 9.061, 10.402, 11.802, 13.267, 14.804, 16.419, 18.122, 19.923, 21.832, 23.865, 26.038, 28.372, 30.894, 33.634, 36.636, 39.955, 43.665, 47.87, 52.726, 58.468, 65.497, 74.558, 87.329, 109.162}

local function loop_popcount(x)
  x = x - bit.band(bit.rshift(x, 1), 0x55555555)
  x = bit.band(x, 0x33333333) + bit.band(bit.rshift(x, 2), 0x33333333)
  x = bit.band(x + bit.rshift(x, 4), 0x0F0F0F0F)
  x = x + bit.rshift(x, 8)
  x = x + bit.rshift(x, 16)
  return bit.band(x, 0x3F)
end

-- An entry is {at, exact hex, sim hi, sim lo, size, sim hex}.
local function loop_entry(at, exact, sim, size)
  return {at, exact, tonumber(string.sub(sim, 1, 8), 16), tonumber(string.sub(sim, 9, 16), 16), size, sim}
end

local function loop_sketch_sim(a, b)
  if a[5] < LOOP_MIN_SIZE or b[5] < LOOP_MIN_SIZE then return 0 end
  local den = (a[5] + b[5]) / 2
  if den > LOOP_SIM_SCALE then den = LOOP_SIM_SCALE end
  den = den * LOOP_BITS_PER_EDIT
  local h = loop_popcount(bit.bxor(a[3], b[3])) + loop_popcount(bit.bxor(a[4], b[4]))
  if h >= 32 then return 0 end
  local s = 1 - LOOP_DIFFERING[h + 1] / den
  if s < 0 then s = 0 end
  return s
end

local function loop_alike(a, b, thr)
  if a[2] ~= LOOP_NO_EXACT and a[2] == b[2] then return true end
  return loop_sketch_sim(a, b) >= thr
end

-- loop_cycle mirrors Window.cycle on seq, the entries followed by the request.
local function loop_cycle(seq, maxrep, thr)
  local n = #seq
  local need = maxrep + 2
  for p = 2, 3 do
    local m = math.max(need, 2 * p)
    if n < m then return 0 end
    local run, i = p, n
    while i - p >= 1 and loop_alike(seq[i], seq[i - p], thr) do
      run = run + 1
      i = i - 1
    end
    if run >= m then return run end
  end
  return 0
end

-- loop_args returns the eight loop_observe args found at argv[first], argv[first+1], …,
-- so a script with its own ARGV can call loop_observe({KEYS[n]}, loop_args(ARGV, first)).
local function loop_args(argv, first)
  local a = {}
  for i = 0, 7 do a[i + 1] = argv[first + i] end
  return a
end

local function loop_observe(keys, args)
  local key = keys[1]
  local now = tonumber(args[1])
  local s = loop_entry(now, args[2], args[3], tonumber(args[4]))
  local win, maxrep = tonumber(args[5]), tonumber(args[6])
  local thr, cool = tonumber(args[7]), tonumber(args[8])

  local raw = redis.call('GET', key)
  local untl, kind, reps = 0, 0, 0
  if raw then
    untl = tonumber(string.sub(raw, 2, 13), 16)
    kind = tonumber(string.sub(raw, 14, 14), 16)
    reps = tonumber(string.sub(raw, 15, 18), 16)
  end
  if untl > now then return {1, 1, reps, kind, untl} end

  local seq = {}
  if raw then
    for o = 19, #raw - 47, 48 do
      local at = tonumber(string.sub(raw, o, o + 11), 16)
      if now - at < win then
        seq[#seq + 1] = loop_entry(at, string.sub(raw, o + 12, o + 27), string.sub(raw, o + 28, o + 43),
          tonumber(string.sub(raw, o + 44, o + 47), 16))
      end
    end
  end

  local similar, exact = 0, 0
  local known = s[2] ~= LOOP_NO_EXACT
  for i = 1, #seq do
    local e = seq[i]
    if known and e[2] == s[2] then
      exact = exact + 1
      similar = similar + 1
    elseif loop_sketch_sim(s, e) >= thr then
      similar = similar + 1
    end
  end

  local code, repeats = 0, similar
  if similar >= maxrep then
    code = 2
    if exact >= maxrep then code = 1 end
  else
    seq[#seq + 1] = s
    local run = loop_cycle(seq, maxrep, thr)
    seq[#seq] = nil
    if run > 0 then code, repeats = 3, run - 1 end
  end

  if code == 0 then
    seq[#seq + 1] = s
    if #seq > LOOP_MAX_ENTRIES then table.remove(seq, 1) end
  else
    seq = {}
    untl, kind, reps = now + cool, code, math.min(repeats, 0xffff)
  end

  local out = {string.format('1%012x%01x%04x', untl, kind, reps)}
  for i = 1, #seq do
    local e = seq[i]
    out[#out + 1] = string.format('%012x', e[1]) .. e[2] .. e[6] .. string.format('%04x', e[5])
  end
  local ttl = win
  if untl - now > ttl then ttl = untl - now end
  redis.call('SET', key, table.concat(out), 'PX', ttl)

  if code == 0 then return {0, 0, similar, 0, 0} end
  if cool > 0 then return {1, 0, repeats, code, untl} end
  return {1, 0, repeats, code, 0}
end
