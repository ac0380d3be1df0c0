package loop

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.UnixMilli(1_760_000_000_000)

// sig is a signature with a distinct digest and the sketch of state s.
func sig(state uint64, digest uint64) Signature {
	return Signature{Exact: digest, Sim: mix(state), Size: 40}
}

// step is one request of a scripted window test and the verdict expected.
type step struct {
	after time.Duration
	s     Signature
	loop  bool
	cool  bool
	kind  string
	reps  int
}

func runSteps(t *testing.T, c Config, steps []step) *Window {
	t.Helper()
	var w Window
	now := t0
	for i, st := range steps {
		now = now.Add(st.after)
		v := w.Observe(now, st.s, c)
		require.Equal(t, st.loop, v.Loop, "step %d", i)
		require.Equal(t, st.cool, v.Cooldown, "step %d", i)
		require.Equal(t, st.kind, v.Kind, "step %d", i)
		require.Equal(t, st.reps, v.Repeats, "step %d", i)
		if v.Loop && c.Cooldown > 0 {
			require.False(t, v.Until.IsZero(), "step %d", i)
		}
	}
	return &w
}

func TestObserve(t *testing.T) {
	c := DefaultConfig()
	same := func(d uint64) Signature { return sig(1, d) }
	tests := []struct {
		name  string
		c     Config
		steps []step
	}{
		{"the sixth identical request within the window is a loop, then the cooldown holds", c, []step{
			{0, same(9), false, false, "", 0},
			{time.Second, same(9), false, false, "", 1},
			{time.Second, same(9), false, false, "", 2},
			{time.Second, same(9), false, false, "", 3},
			{time.Second, same(9), false, false, "", 4},
			{time.Second, same(9), true, false, KindExact, 5},
			{time.Minute, same(9), true, true, KindExact, 5},
			{3 * time.Minute, same(9), true, true, KindExact, 5},
			// the cooldown ends 5m after the loop: the client starts afresh
			{time.Minute, same(9), false, false, "", 0},
		}},
		{"similar tails with new digests", c, []step{
			{0, same(1), false, false, "", 0},
			{time.Second, same(2), false, false, "", 1},
			{time.Second, same(3), false, false, "", 2},
			{time.Second, same(1), false, false, "", 3},
			{time.Second, same(4), false, false, "", 4},
			{time.Second, same(1), true, false, KindSimilar, 5},
		}},
		{"requests older than the window do not count", c, []step{
			{0, same(9), false, false, "", 0},
			{time.Second, same(9), false, false, "", 1},
			{time.Second, same(9), false, false, "", 2},
			{time.Second, same(9), false, false, "", 3},
			{time.Second, same(9), false, false, "", 4},
			{56 * time.Second, same(9), false, false, "", 4}, // the first is 60s old
			{500 * time.Millisecond, same(9), true, false, KindExact, 5},
		}},
		{"A,B,A,B ping-pong is a loop at max_repeats+1, like an identical repeat", c, []step{
			{0, sig(1, 1), false, false, "", 0},
			{time.Second, sig(2, 2), false, false, "", 0},
			{time.Second, sig(1, 3), false, false, "", 1},
			{time.Second, sig(2, 4), false, false, "", 1},
			{time.Second, sig(1, 5), false, false, "", 2},
			{time.Second, sig(2, 6), true, false, KindCycle, 5},
		}},
		{"A,B,C cycles too", c, []step{
			{0, sig(1, 1), false, false, "", 0},
			{time.Second, sig(2, 2), false, false, "", 0},
			{time.Second, sig(3, 3), false, false, "", 0},
			{time.Second, sig(1, 4), false, false, "", 1},
			{time.Second, sig(2, 5), false, false, "", 1},
			{time.Second, sig(3, 6), true, false, KindCycle, 5},
		}},
		{"a broken cycle is not a loop", c, []step{
			{0, sig(1, 1), false, false, "", 0},
			{time.Second, sig(2, 2), false, false, "", 0},
			{time.Second, sig(1, 3), false, false, "", 1},
			{time.Second, sig(5, 4), false, false, "", 0},
			{time.Second, sig(1, 5), false, false, "", 2},
			{time.Second, sig(2, 6), false, false, "", 1},
			{time.Second, sig(1, 7), false, false, "", 3},
			{time.Second, sig(2, 8), false, false, "", 2},
		}},
		{"no cooldown: the loop is flagged once and counting restarts", Config{Window: time.Minute, MaxRepeats: 2, Similarity: 0.9}, []step{
			{0, same(9), false, false, "", 0},
			{time.Second, same(9), false, false, "", 1},
			{time.Second, same(9), true, false, KindExact, 2},
			{time.Second, same(9), false, false, "", 0},
			{time.Second, same(9), false, false, "", 1},
			{time.Second, same(9), true, false, KindExact, 2},
		}},
		{"distinct requests never loop", c, []step{
			{0, sig(1, 1), false, false, "", 0},
			{0, sig(2, 2), false, false, "", 0},
			{0, sig(3, 3), false, false, "", 0},
			{0, sig(4, 4), false, false, "", 0},
			{0, sig(5, 5), false, false, "", 0},
			{0, sig(6, 6), false, false, "", 0},
			{0, sig(7, 7), false, false, "", 0},
			{0, sig(8, 8), false, false, "", 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.c, tc.steps) })
	}
}

func TestWindowCooldownAndReset(t *testing.T) {
	c := Config{Window: time.Minute, MaxRepeats: 1, Similarity: 0.9, Cooldown: 30 * time.Second}
	var w Window
	s := sig(1, 1)
	w.Observe(t0, s, c)
	v := w.Observe(t0.Add(time.Second), s, c)
	require.True(t, v.Loop)
	require.Equal(t, t0.Add(31*time.Second), v.Until)
	until, active := w.Cooldown(t0.Add(10 * time.Second))
	require.True(t, active)
	require.Equal(t, v.Until, until)
	_, active = w.Cooldown(t0.Add(31 * time.Second))
	require.False(t, active, "the cooldown ends at Until")

	require.False(t, w.Idle(t0.Add(30*time.Second), c), "in cooldown")
	require.True(t, w.Idle(t0.Add(31*time.Second), c), "the loop emptied the window")
	w.Observe(t0.Add(40*time.Second), sig(2, 2), c)
	require.False(t, w.Idle(t0.Add(99*time.Second), c))
	require.True(t, w.Idle(t0.Add(100*time.Second), c), "the last entry is a window old")

	w.Reset()
	_, active = w.Cooldown(t0.Add(10 * time.Second))
	require.False(t, active)
	require.False(t, w.Observe(t0.Add(11*time.Second), s, c).Loop, "reset clears the cooldown and the entries")
}

func TestWindowIsBounded(t *testing.T) {
	var w Window
	c := DefaultConfig()
	for i := range 1000 {
		w.Observe(t0.Add(time.Duration(i)*time.Millisecond), sig(uint64(i), uint64(i+1)), c)
	}
	require.Equal(t, MaxEntries, w.Len())
	b, err := w.MarshalBinary()
	require.NoError(t, err)
	require.Len(t, b, headerLen+MaxEntries*entryLen)
}

func TestWindowEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := Config{Window: time.Minute, MaxRepeats: 3, Similarity: 0.9, Cooldown: time.Minute}
	for range 50 {
		var w Window
		now := t0
		for range rng.IntN(60) {
			now = now.Add(time.Duration(rng.IntN(5000)) * time.Millisecond)
			w.Observe(now, Signature{Exact: rng.Uint64(), Sim: rng.Uint64() & 0xf, Size: uint16(rng.IntN(100))}, c)
		}
		b, err := w.MarshalBinary()
		require.NoError(t, err)
		var back Window
		require.NoError(t, back.UnmarshalBinary(b))
		b2, err := back.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, string(b), string(b2))
		next := Signature{Exact: 7, Sim: 3, Size: 50}
		require.Equal(t, w.Observe(now, next, c), back.Observe(now, next, c), "a decoded window behaves the same")
	}

	var empty Window
	require.NoError(t, empty.UnmarshalBinary(nil))
	require.Zero(t, empty.Len())

	good, err := (&Window{entries: []entry{{at: 1, sig: Signature{Exact: 2, Sim: 3, Size: 4}}}}).MarshalBinary()
	require.NoError(t, err)
	require.Equal(t, []byte{'2', 0, 0, 0, 0, 0, 0, 0, 0, 0, // no cooldown
		0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 4}, good, "the layout window.lua reads")
	bad := map[string][]byte{
		"version":       append([]byte{'1'}, good[1:]...),
		"hex version 1": []byte("1" + "000000000000" + "0" + "0000"),
		"short":         good[:5],
		"partial entry": good[:len(good)-1],
		"kind":          append([]byte{'2', 0, 0, 0, 0, 0, 0, 9}, 0, 0),
		"too many":      append(append([]byte(nil), good[:headerLen]...), make([]byte, (MaxEntries+1)*entryLen)...),
	}
	for name, b := range bad {
		var w Window
		require.ErrorIs(t, w.UnmarshalBinary(b), ErrEncoding, name)
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.Equal(t, Config{Window: 60 * time.Second, MaxRepeats: 5, Similarity: 0.9, Cooldown: 5 * time.Minute}, DefaultConfig())
	bad := map[string]Config{
		"window":         {Window: 0, MaxRepeats: 5, Similarity: 0.9},
		"window ms":      {Window: 1500 * time.Microsecond, MaxRepeats: 5, Similarity: 0.9},
		"max_repeats":    {Window: time.Minute, MaxRepeats: 0, Similarity: 0.9},
		"max_repeats 32": {Window: time.Minute, MaxRepeats: MaxEntries, Similarity: 0.9},
		"similarity":     {Window: time.Minute, MaxRepeats: 5, Similarity: 0},
		"similarity 1.5": {Window: time.Minute, MaxRepeats: 5, Similarity: 1.5},
		"cooldown":       {Window: time.Minute, MaxRepeats: 5, Similarity: 0.9, Cooldown: -time.Second},
	}
	for field, c := range bad {
		err := c.Validate()
		require.ErrorIs(t, err, ErrConfig, field)
	}
	err := Config{}.Validate()
	for _, field := range []string{"window", "max_repeats", "similarity"} {
		require.Contains(t, err.Error(), field, "every problem is reported")
	}
}
