package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/resilient"
)

// openLedger wraps the store's request path so it survives an outage
// (budget/resilient): store.failure_mode, a circuit breaker probing the store
// within store.timeout, and, with Redis, settlements buffered on disk in
// store.spill_dir. The memory store cannot fail, so it gets no spill dir.
func openLedger(cfg Config, store budget.Store, log *slog.Logger) (*resilient.Ledger, error) {
	opts := resilient.Options{Mode: resilient.FailureMode(cfg.Store.FailureMode), Logger: log, ProbeTimeout: cfg.Store.Timeout}
	if cfg.Store.RedisURL != "" {
		opts.SpillDir = spillDir(cfg)
	}
	l, err := resilient.Open(store, opts)
	if err != nil {
		return nil, fmt.Errorf("store.spill_dir: %w", err)
	}
	return l, nil
}

// spillDir is store.spill_dir: "" is a directory of this sidecar's own under
// the OS temp dir, named after its gRPC port (two sidecars on one host never
// share a port, and a restarted one finds its predecessor's); "off" is none.
func spillDir(cfg Config) string {
	switch cfg.Store.SpillDir {
	case "off":
		return ""
	case "":
		port := cfg.Listen.GRPC
		if i := strings.LastIndexByte(port, ':'); i >= 0 {
			port = port[i+1:]
		}
		port = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return '_'
		}, port)
		return filepath.Join(os.TempDir(), "proxide-spill-"+port)
	default:
		return cfg.Store.SpillDir
	}
}
