// Command proxide is the Proxide budget gateway: an Envoy ext_proc sidecar
// that gives every client of an OpenAI-compatible API its own spend budget.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "proxide:", err)
		os.Exit(1)
	}
}
