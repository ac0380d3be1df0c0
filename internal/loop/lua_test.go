package loop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/redistest"
)

// randomTrace makes a request sequence that exercises every verdict: a few
// base signatures (some repeated exactly, some with a few sketch bits flipped,
// some short enough to be gated), in runs and cycles, with time steps that
// sometimes outlast the window or the cooldown.
func randomTrace(rng *rand.Rand, n int) ([]time.Duration, []Signature) {
	bases := make([]Signature, 1+rng.IntN(5))
	for i := range bases {
		bases[i] = Signature{Exact: rng.Uint64(), Sim: rng.Uint64(), Size: uint16(rng.IntN(120))}
		if rng.IntN(6) == 0 {
			bases[i].Exact = 0
		}
	}
	steps := make([]time.Duration, n)
	sigs := make([]Signature, n)
	period := 1 + rng.IntN(3)
	for i := range n {
		switch rng.IntN(10) {
		case 0:
			steps[i] = time.Duration(rng.IntN(400)) * time.Second
		case 1:
			steps[i] = 0
		default:
			steps[i] = time.Duration(rng.IntN(8000)) * time.Millisecond
		}
		var s Signature
		if rng.IntN(4) == 0 {
			s = bases[rng.IntN(len(bases))]
		} else {
			s = bases[i%period%len(bases)]
		}
		if rng.IntN(2) == 0 { // a near-duplicate: new digest, a few bits flipped
			s.Exact = rng.Uint64()
			for range rng.IntN(9) {
				s.Sim ^= 1 << rng.IntN(64)
			}
			s.Size = uint16(max(0, int(s.Size)+rng.IntN(9)-4))
		}
		sigs[i] = s
	}
	return steps, sigs
}

func randomConfig(rng *rand.Rand) Config {
	c := Config{
		Window:     time.Duration(1+rng.IntN(90)) * time.Second,
		MaxRepeats: 1 + rng.IntN(6),
		Similarity: []float64{0.5, 0.75, 0.8, 0.875, 0.9, 0.95, 1}[rng.IntN(7)],
		Cooldown:   []time.Duration{0, time.Second, 30 * time.Second, 5 * time.Minute}[rng.IntN(4)],
	}
	if rng.IntN(5) == 0 {
		c.MaxRepeats = MaxEntries - 1
	}
	return c
}

// TestLuaParity runs window.lua on a real redis-server against the Go Window
// over random traces: every verdict and every stored window must agree.
func TestLuaParity(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	script := redis.NewScript(WindowScript())

	traces, steps := 60, 120
	if testing.Short() {
		traces = 15
	}
	kinds := map[string]int{}
	for tr := range traces {
		rng := rand.New(rand.NewPCG(uint64(tr), 42))
		c := randomConfig(rng)
		require.NoError(t, c.Validate())
		deltas, sigs := randomTrace(rng, steps)
		key := fmt.Sprintf("loop:{t%d}", tr)
		var w Window
		now := time.UnixMilli(1_760_000_000_000)
		for i, s := range sigs {
			now = now.Add(deltas[i])
			want := w.Observe(now, s, c)
			args := LuaArgs(now, s, c)
			argv := make([]any, len(args))
			for j, a := range args {
				argv[j] = a
			}
			reply, err := script.Run(ctx, rdb, []string{key}, argv...).Result()
			require.NoError(t, err)
			got, err := ParseLuaReply(reply)
			require.NoError(t, err)
			require.Equal(t, want, got, "trace %d step %d: %+v under %+v", tr, i, s, c)
			kinds[want.Kind+fmt.Sprint(want.Cooldown)]++

			raw, err := rdb.Get(ctx, key).Bytes()
			require.NoError(t, err)
			enc, err := w.MarshalBinary()
			require.NoError(t, err)
			require.Equal(t, string(enc), string(raw), "trace %d step %d: stored window", tr, i)
			// Keep the key alive across the trace's clock jumps: its TTL is
			// measured on Redis's clock, not the trace's.
			require.NoError(t, rdb.PExpire(ctx, key, time.Hour).Err())
		}
	}
	t.Logf("verdicts: %v", kinds)
	for _, k := range []string{"false", "exactfalse", "similarfalse", "cyclefalse", "exacttrue", "similartrue"} {
		require.Positive(t, kinds[k], "the traces never produced %q: %v", k, kinds)
	}
}

func TestParseLuaReply(t *testing.T) {
	v, err := ParseLuaReply([]any{int64(1), int64(0), int64(5), int64(2), int64(1_760_000_300_000)})
	require.NoError(t, err)
	require.Equal(t, Verdict{Loop: true, Repeats: 5, Kind: KindSimilar, Until: time.UnixMilli(1_760_000_300_000)}, v)
	v, err = ParseLuaReply([]any{int64(0), int64(0), int64(2), int64(0), int64(0)})
	require.NoError(t, err)
	require.Equal(t, Verdict{Repeats: 2}, v)
	for name, bad := range map[string]any{
		"nil":       nil,
		"short":     []any{int64(1)},
		"string":    []any{"1", int64(0), int64(0), int64(0), int64(0)},
		"bad kind":  []any{int64(1), int64(0), int64(0), int64(9), int64(0)},
		"bad flag":  []any{int64(2), int64(0), int64(0), int64(0), int64(0)},
		"negative":  []any{int64(0), int64(0), int64(-1), int64(0), int64(0)},
		"not slice": "OK",
	} {
		_, err := ParseLuaReply(bad)
		require.ErrorIs(t, err, ErrLuaReply, name)
	}
	require.Equal(t, []string{"1760000000000", "00000000000000ff", "0000000000000001", "40", "60000", "5", "0.9", "300000"},
		LuaArgs(time.UnixMilli(1_760_000_000_000), Signature{Exact: 255, Sim: 1, Size: 40}, DefaultConfig()))
}

// TestLuaInReserveScript shows the integration: WindowLua prepended to a
// script with keys and args of its own, loop_observe called on a slice.
func TestLuaInReserveScript(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	script := redis.NewScript(WindowLua + `
redis.call('INCR', KEYS[1])
local v = loop_observe({KEYS[2]}, loop_args(ARGV, 3))
return {ARGV[1], ARGV[2], v[1], v[2], v[3], v[4], v[5]}
`)
	c := Config{Window: time.Minute, MaxRepeats: 2, Similarity: 0.9, Cooldown: time.Minute}
	s := Signature{Exact: 1, Sim: 2, Size: 30}
	var w Window
	for i := range 4 {
		now := t0.Add(time.Duration(i) * time.Second)
		argv := []any{"a", "b"}
		for _, a := range LuaArgs(now, s, c) {
			argv = append(argv, a)
		}
		reply, err := script.Run(ctx, rdb, []string{"x:{c1}:counter", "x:{c1}:loop"}, argv...).Slice()
		require.NoError(t, err)
		require.Equal(t, []any{"a", "b"}, reply[:2])
		got, err := ParseLuaReply(reply[2:])
		require.NoError(t, err)
		require.Equal(t, w.Observe(now, s, c), got, "request %d", i)
	}
	ttl, err := rdb.PTTL(ctx, "x:{c1}:loop").Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 50*time.Second, "the key lives as long as the cooldown")
}

// TestLuaStartsAfreshOnOldEncoding: a key in another encoding version (the hex
// version '1' before this one) is not misread: window.lua treats it as empty
// and overwrites it with the current encoding.
func TestLuaStartsAfreshOnOldEncoding(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	c := DefaultConfig()
	s := Signature{Exact: 1, Sim: 2, Size: 30}
	// A running cooldown in the old hex encoding.
	old := fmt.Sprintf("1%012x%01x%04x", t0.Add(time.Hour).UnixMilli(), 1, 5)
	require.NoError(t, rdb.Set(ctx, "loop:{old}", old, time.Hour).Err())
	args := LuaArgs(t0, s, c)
	argv := make([]any, len(args))
	for i, a := range args {
		argv[i] = a
	}
	reply, err := redis.NewScript(WindowScript()).Run(ctx, rdb, []string{"loop:{old}"}, argv...).Result()
	require.NoError(t, err)
	got, err := ParseLuaReply(reply)
	require.NoError(t, err)
	var w Window
	require.Equal(t, w.Observe(t0, s, c), got)
	raw, err := rdb.Get(ctx, "loop:{old}").Bytes()
	require.NoError(t, err)
	want, err := w.MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, want, raw)
}
