package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/proxide/proxide/bench"
)

// markdown renders the results: the machine, date and commit, absolute
// figures, and ratios to the floor measured in the same run.
func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Proxide load benchmark\n\n")
	fmt.Fprintf(&b, "- date: %s\n- commit: %s\n- machine: %s\n", r.started.UTC().Format(time.RFC3339), r.commit, machine())
	fmt.Fprintf(&b, "- method: `make bench` (bench/cmd/loadbench): the same Envoy-faithful ext_proc driver (request headers, buffered body, response headers, pipelined chunks; one gRPC stream per request) runs against a no-op ext_proc floor and `proxide serve` (a Proxide key, loop detection on) in alternating rounds; server CPU is read from /proc (server process only; redis-server not counted); each figure is the median round.\n\n")
	fmt.Fprintf(&b, "| ledger | workload | floor lifecycles/s | proxide lifecycles/s | throughput vs floor | floor CPU/lifecycle | proxide CPU/lifecycle | CPU vs floor |\n|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.rows {
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.2f | %.3f ms | %.3f ms | %.2f× |\n", x.ledger, x.workload,
			x.floor.PerSecond(), x.proxide.PerSecond(), x.proxide.PerSecond()/x.floor.PerSecond(),
			ms(x.floor.CPUPerLifecycle()), ms(x.proxide.CPUPerLifecycle()),
			float64(x.proxide.CPUPerLifecycle())/float64(max(x.floor.CPUPerLifecycle(), 1)))
	}
	var redisCPU []string
	for _, x := range r.rows {
		if x.redisCPU > 0 {
			redisCPU = append(redisCPU, fmt.Sprintf("%s %.3f ms", x.workload, ms(x.redisCPU)))
		}
	}
	if len(redisCPU) > 0 {
		fmt.Fprintf(&b, "\nredis-server's own CPU per lifecycle (not in the sidecar's figures above; the machine's %d cores also run it and the driver): %s.\n", runtime.NumCPU(), strings.Join(redisCPU, ", "))
	}
	if len(r.rows) > 0 && r.rows[0].baseline != nil {
		fmt.Fprintf(&b, "\nAgainst the -baseline binary, in the same rounds:\n\n| ledger | workload | baseline CPU vs floor | proxide CPU vs floor | CPU vs baseline | baseline throughput vs floor | proxide throughput vs floor |\n|---|---|---|---|---|---|---|\n")
		for _, x := range r.rows {
			fl, bl := float64(max(x.floor.CPUPerLifecycle(), 1)), *x.baseline
			fmt.Fprintf(&b, "| %s | %s | %.2f× | %.2f× | %+.1f%% | %.2f | %.2f |\n", x.ledger, x.workload,
				float64(bl.CPUPerLifecycle())/fl, float64(x.proxide.CPUPerLifecycle())/fl,
				100*(float64(x.proxide.CPUPerLifecycle())/float64(max(bl.CPUPerLifecycle(), 1))-1),
				bl.PerSecond()/x.floor.PerSecond(), x.proxide.PerSecond()/x.floor.PerSecond())
		}
	}
	fmt.Fprintf(&b, "\n| ledger | open loop (streamed chat) | floor p50 / p99 | server p50 / p99 | added p99 | errors |\n|---|---|---|---|---|---|\n")
	for _, ledger := range []string{"memory", "redis"} {
		l, ok := r.latency[ledger]
		if !ok {
			continue
		}
		fl := medianLatency(l.floor)
		row := func(name string, ls []bench.Latency) {
			m := medianLatency(ls)
			fmt.Fprintf(&b, "| %s | %s | %.2f / %.2f ms | %.2f / %.2f ms | %.2f ms | %d / %d |\n", ledger, name,
				ms(fl.P50), ms(fl.P99), ms(m.P50), ms(m.P99), ms(addedP99(ls, l.floor)), fl.Errors, m.Errors)
		}
		if len(l.floorRedis) > 0 {
			row(fmt.Sprintf("no-op floor + 2 Redis round trips per request, %d/s", r.rate), l.floorRedis)
		}
		row(fmt.Sprintf("proxide, %d/s", r.rate), l.proxide)
	}
	fmt.Fprintf(&b, "\nOpen loop: each row's rounds alternate with the floor's; p50 and p99 are the median rounds', the added p99 the median of the rounds' differences; errors are floor / server.\n")
	fmt.Fprintf(&b, "\n| measurement | value |\n|---|---|\n")
	for _, name := range []string{"no-op floor", "proxide, memory ledger", "proxide, redis ledger"} {
		if v, ok := r.streamBytes[name]; ok {
			fmt.Fprintf(&b, "| resident memory per open stream (%s), just opened | %.1f KB |\n", name, v[0]/1024)
			if v[1] > 0 { // measured only with traffic
				fmt.Fprintf(&b, "| resident memory per open stream (%s), after a throughput round's traffic with them open | %.1f KB |\n", name, v[1]/1024)
			}
		}
	}
	for _, x := range r.bigStream {
		fmt.Fprintf(&b, "| resident memory growth during one %d MB streamed response in 16 KB chunks (%s) | %.1f MB |\n", x.total>>20, x.server, float64(x.grew)/(1<<20))
	}
	if r.startup > 0 { // measured with the memory ledger
		fmt.Fprintf(&b, "| start to ready (gRPC health SERVING, memory ledger) | %.0f ms |\n", ms(r.startup))
	}
	if r.testingB != "" {
		fmt.Fprintf(&b, "\n## testing.B (`go test -bench . -benchmem`, same run)\n\nEach `proxide` benchmark has its `noop` baseline next to it where one applies.\n\n```\n%s```\n", r.testingB)
	}
	for _, n := range r.notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	return b.String()
}
