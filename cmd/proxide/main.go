// Command proxide is the Proxide budget gateway: an Envoy ext_proc sidecar
// that gives every client of an OpenAI-compatible API its own spend budget.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/proxide/proxide/internal/admin/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ())
	stop() // before os.Exit, which runs no deferred calls
	if err == nil {
		return
	}
	if errors.Is(err, client.ErrUsage) {
		os.Exit(2) // the usage text was already printed
	}
	fmt.Fprintln(os.Stderr, "proxide:", err)
	os.Exit(1)
}
