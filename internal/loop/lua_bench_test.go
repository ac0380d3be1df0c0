package loop

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/bench"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/internal/usage"
)

// evalMicros returns the total time Redis spent in EVAL and EVALSHA since the
// last CONFIG RESETSTAT (INFO commandstats), in microseconds.
func evalMicros(ctx context.Context, rdb *redis.Client) (float64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	total := 0.0
	for line := range strings.SplitSeq(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_eval:") && !strings.HasPrefix(line, "cmdstat_evalsha:") {
			continue
		}
		for f := range strings.SplitSeq(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return 0, err
				}
				total += n
			}
		}
	}
	return total, nil
}

// BenchmarkWindowLua is window.lua's cost on a real redis-server, reported as
// server-µs/op (INFO commandstats: time inside the script, which is what caps
// one Redis's throughput) next to the round trip's ns/op. "empty" observes
// into a missing key each time; "full" into a window that stays at MaxEntries
// distinct, unrelated signatures (every pair's sketches compared, nothing
// dropped).
func BenchmarkWindowLua(b *testing.B) {
	addr := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	script := redis.NewScript(WindowScript())
	rng := rand.New(rand.NewPCG(1, 2))
	distinct := make([]Signature, 2*MaxEntries)
	for i := range distinct {
		distinct[i] = Signature{Exact: rng.Uint64(), Sim: rng.Uint64(), Size: uint16(20 + rng.IntN(60))}
	}
	c := DefaultConfig()
	run := func(b *testing.B, sig func(i int) Signature, cfg Config, reset bool) {
		const key = "loop:{bench}"
		now := time.UnixMilli(1_760_000_000_000)
		argv := func(i int) []any {
			args := LuaArgs(now.Add(time.Duration(i)*time.Millisecond), sig(i), cfg)
			out := make([]any, len(args))
			for j, a := range args {
				out[j] = a
			}
			return out
		}
		if err := rdb.Del(ctx, key).Err(); err != nil {
			b.Fatal(err)
		}
		i := 0
		if !reset { // warm up to a full window
			for ; i < 2*MaxEntries; i++ {
				if err := script.Run(ctx, rdb, []string{key}, argv(i)...).Err(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		n := 0
		for b.Loop() {
			if reset {
				b.StopTimer()
				if err := rdb.Del(ctx, key).Err(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			v, err := script.Run(ctx, rdb, []string{key}, argv(i)...).Result()
			if err != nil {
				b.Fatal(err)
			}
			if verdict, err := ParseLuaReply(v); err != nil || verdict.Loop {
				b.Fatalf("verdict %+v, %v: the bench must stay loop-free", verdict, err)
			}
			i++
			n++
		}
		us, err := evalMicros(ctx, rdb)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(us/float64(n), "server-µs/op")
	}
	b.Run("empty", func(b *testing.B) {
		run(b, func(i int) Signature { return distinct[i%len(distinct)] }, c, true)
	})
	b.Run("full", func(b *testing.B) {
		run(b, func(i int) Signature { return distinct[i%len(distinct)] }, c, false)
	})
	// The load harness's prompts (bench.StreamedChat): words drawn from one
	// vocabulary, so their sketches are close and most pairs are compared in
	// full — as prompts that share a template are.
	harness := make([]Signature, 4*MaxEntries)
	for i := range harness {
		ex := bench.StreamedChat(int64(i * bench.Clients))
		req, err := usage.ParseRequest(usage.ChatCompletions, []byte(ex.Body), usage.Options{ExactPromptBytes: 1})
		if err != nil {
			b.Fatal(err)
		}
		harness[i] = Compute(req)
	}
	b.Run("harness", func(b *testing.B) {
		run(b, func(i int) Signature { return harness[i%len(harness)] }, c, false)
	})
}
