package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/proxide/proxide/internal/admin/client"
	"github.com/proxide/proxide/internal/auth"
	"github.com/proxide/proxide/pricing"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usageText = `usage: proxide <command> [flags]

commands:
  serve [--config FILE] [--grpc-addr ADDR] [--admin-addr ADDR] [--redis-url URL] [--log-level LEVEL] [--pprof-addr ADDR]
        run the ext_proc sidecar and the admin server
  dev [--listen ADDR] [--upstream fake|URL] [--demo] …
        try it locally: the sidecar plus a local front on :10000 that speaks
        ext_proc to it as Envoy does, in front of a fake OpenAI (or a real one)
  budgets set|get|list|delete …   manage budget rules through the admin API
  clients [CLIENT] [--sort month]   list clients by spend, or show one
  spend CLIENT|--all [--from --to --by model|day --csv]   spend analytics
  loops [CLIENT] | loops clear CLIENT   loop events; end a cooldown
        (admin commands: --addr or $PROXIDE_ADMIN_ADDR, key in $PROXIDE_ADMIN_KEY, --json)
  keys hash [KEY]    print the SHA-256 of a Proxide key to paste into the config (reads stdin without KEY)
  version            print the version and the price snapshot
`

// run dispatches the sub-commands; main only handles signals and exit codes.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	if len(args) == 0 {
		_, _ = fmt.Fprint(stderr, "proxide: missing command\n\n"+usageText)
		return fmt.Errorf("%w: missing command", client.ErrUsage)
	}
	switch args[0] {
	case "serve":
		return helpIsDone(serve(ctx, args[1:], stdout, stderr, environ))
	case "dev":
		return helpIsDone(dev(ctx, args[1:], stdout, stderr, environ))
	case "version", "--version", "-v":
		_, err := fmt.Fprintf(stdout, "proxide %s (%s, prices %s)\n", buildVersion(), goVersion(), pricing.Snapshot)
		return err
	case "keys":
		return keysCommand(args[1:], os.Stdin, stdout, stderr)
	case "budgets":
		return client.Budgets(ctx, args[1:], stdout, stderr, envLookup(environ))
	case "clients":
		return client.Clients(ctx, args[1:], stdout, stderr, envLookup(environ))
	case "spend":
		return client.Spend(ctx, args[1:], stdout, stderr, envLookup(environ))
	case "loops":
		return client.Loops(ctx, args[1:], stdout, stderr, envLookup(environ))
	case "help", "-h", "--help":
		_, err := fmt.Fprint(stdout, usageText)
		return err
	default:
		_, _ = fmt.Fprintf(stderr, "proxide: unknown command %q\n\n%s", args[0], usageText)
		return fmt.Errorf("%w: unknown command %q", client.ErrUsage, args[0])
	}
}

const keysUsage = "usage: proxide keys hash [KEY]   print the SHA-256 of a Proxide key (reads stdin without KEY)\n"

func keysCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") ||
		len(args) > 1 && args[0] == "hash" && (args[1] == "-h" || args[1] == "--help") {
		_, err := io.WriteString(stdout, keysUsage)
		return err
	}
	if len(args) == 0 || args[0] != "hash" {
		_, _ = fmt.Fprintf(stderr, "proxide keys: want the hash command\n\n%s", keysUsage)
		return fmt.Errorf("%w: keys: want the hash command", client.ErrUsage)
	}
	var key string
	if len(args) > 1 {
		key = args[1]
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading key from stdin: %w", err)
		}
		key = strings.TrimSpace(line)
	}
	if key == "" {
		return errors.New("keys hash: empty key")
	}
	_, err := fmt.Fprintln(stdout, auth.Hash(key))
	return err
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "go"
}

// helpIsDone turns a printed --help into success (exit 0).
func helpIsDone(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}
