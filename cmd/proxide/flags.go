package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/proxide/proxide/internal/admin/client"
)

// errHelp ends a command that printed its help: run returns nil (exit 0).
var errHelp = errors.New("help printed")

// parseFlags parses a command's flags. --help prints the usage and the flags
// to stdout (errHelp, exit 0); a bad flag prints the error first, then the
// usage, to stderr and returns it wrapped in client.ErrUsage (exit 2, main
// prints nothing more).
func parseFlags(fs *pflag.FlagSet, args []string, stdout, stderr io.Writer, usage string) error {
	fs.SetOutput(io.Discard) // pflag would print the usage before the error
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		_, _ = fmt.Fprintf(stdout, "%s\nflags:\n%s", usage, fs.FlagUsages())
		return errHelp
	case err != nil:
		_, _ = fmt.Fprintf(stderr, "proxide %s: %v\n\n%s\nflags:\n%s", fs.Name(), err, usage, fs.FlagUsages())
		return fmt.Errorf("%w: %w", client.ErrUsage, err)
	case fs.NArg() > 0:
		_, _ = fmt.Fprintf(stderr, "proxide %s: unexpected argument %q\n\n%s", fs.Name(), fs.Arg(0), usage)
		return fmt.Errorf("%w: unexpected argument %q", client.ErrUsage, fs.Arg(0))
	}
	return nil
}

const serveUsage = `usage: proxide serve [--config FILE] [--grpc-addr ADDR] [--admin-addr ADDR] [--redis-url URL] [--log-level LEVEL] [--pprof-addr ADDR]

Runs the ext_proc sidecar (gRPC) and the admin HTTP server (API, dashboard,
/metrics, /healthz, /readyz). Flags override PROXIDE_* environment variables,
which override the file.
`
