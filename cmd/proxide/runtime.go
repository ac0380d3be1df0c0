package main

import (
	"log/slog"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/proxide/proxide/internal/gcpace"
)

// memLimitRatio is the share of the container's memory limit given to the Go
// heap as its soft limit (GOMEMLIMIT): near it the collector works harder
// rather than letting the heap reach the limit and the container be killed.
const memLimitRatio = 0.9

// The collector: Proxide's live heap is small while it serves quick requests
// (the token tables, ~8 MB pointer-free, and the requests in flight) and
// nearly everything it allocates is garbage by the end of a request, so Go's
// default GOGC of 100 starts a collection every few megabytes: a sixth of the
// sidecar's CPU under load went to the collector. gcpace keeps GOGC at 400
// for such a live set (a quarter as many collections) but bounds the growth
// it allows to 64 MB (or a quarter of the live heap), so a sidecar holding
// thousands of slow streamed answers open — whose stacks GOGC also
// multiplies — does not grow to five times what it holds. The memory limit
// set next keeps a container inside its limit.
//
// tuneRuntime sets the collector so, leaving alone whatever the operator set:
// GOGC, and GOMEMLIMIT (or AUTOMEMLIMIT=off). Without a cgroup memory limit
// (not in a container) no soft limit is set. The returned stop ends the GOGC
// adjustments and puts GOGC back (serve runs in process in tests, many times).
func tuneRuntime(getenv func(string) string, log *slog.Logger) (stop func()) {
	stop = func() {}
	if getenv("GOGC") == "" {
		stop = gcpace.Start(gcpace.Default).Stop
	}
	if getenv("GOMEMLIMIT") == "" {
		_, _ = memlimit.Set( // failures are logged by memlimit and change nothing
			memlimit.WithProvider(memlimit.FromCgroup),
			memlimit.WithRatio(memLimitRatio),
			memlimit.WithLogger(log),
		)
	}
	return stop
}
