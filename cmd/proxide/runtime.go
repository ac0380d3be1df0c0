package main

import (
	"log/slog"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// gcPercent is Proxide's GOGC when the environment sets none. Its live heap
// is small (the token tables, ~8 MB pointer-free, and the requests in
// flight) and nearly everything it allocates is garbage by the end of a
// request, so Go's default of 100 starts a collection every few megabytes:
// a sixth of the sidecar's CPU under load went to the collector. At 400 the
// collector runs a quarter as often, for a heap a few tens of megabytes
// larger; the memory limit set next keeps a container inside its limit.
const gcPercent = 400

// memLimitRatio is the share of the container's memory limit given to the Go
// heap as its soft limit (GOMEMLIMIT): near it the collector works harder
// rather than letting the heap reach the limit and the container be killed.
const memLimitRatio = 0.9

// tuneRuntime sets the collector for a sidecar, leaving alone whatever the
// operator set: GOGC, and GOMEMLIMIT (or AUTOMEMLIMIT=off). Without a cgroup
// memory limit (not in a container) no soft limit is set.
func tuneRuntime(getenv func(string) string, log *slog.Logger) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		_, _ = memlimit.Set( // failures are logged by memlimit and change nothing
			memlimit.WithProvider(memlimit.FromCgroup),
			memlimit.WithRatio(memLimitRatio),
			memlimit.WithLogger(log),
		)
	}
}
