package client

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ErrUsage marks a command-line mistake (the usage was printed to stderr);
// callers exit with status 2 rather than 1.
var ErrUsage = errors.New("usage")

// Environment variables of the CLI.
const (
	EnvAddr = "PROXIDE_ADMIN_ADDR" // admin API address
	EnvKey  = "PROXIDE_ADMIN_KEY"  // Proxide key with the admin scope
)

const commonHelp = `
Common flags:
  --addr URL   admin API address (default $PROXIDE_ADMIN_ADDR, else ` + DefaultAddr + `)
  --json       print the API's JSON instead of a table
The key (admin scope) is read from $PROXIDE_ADMIN_KEY.
`

// BudgetsUsage is the help of `proxide budgets`.
const BudgetsUsage = `Usage: proxide budgets COMMAND [flags]

Commands:
  set KEY [--daily USD] [--monthly USD] [--action block|alert] [--thresholds LIST]
        [--loop off|block|alert] [--loop-window 60s] [--loop-max-repeats N]
        [--loop-similarity 0.9] [--loop-cooldown 5m]
               create or replace the API rule of KEY; a limit left out is unlimited,
               --thresholds is like 0.5,0.8,1 or 50%,80% or none (default 80%,100%);
               a --loop setting left out inherits the global loop_detection
  get KEY      show the rule in force for KEY
  list         list the rules in force, from the config file and the API
  delete KEY   delete the API rule of KEY (a file rule with the same key applies again)

KEY is a client id, client:ID, match:PATTERN (e.g. match:user-*) or default.
` + commonHelp

// ClientsUsage is the help of `proxide clients`.
const ClientsUsage = `Usage: proxide clients [CLIENT] [flags]

Without CLIENT, lists the clients seen, highest spend first; with CLIENT, shows one.
  --sort day|month   order by today's (default) or this month's spend
  --limit N          clients per page, 1-1000 (default 50)
  --prefix P         only client ids starting with P
  --cursor C         the next page, as printed after a page
` + commonHelp

// SpendUsage is the help of `proxide spend`.
const SpendUsage = `Usage: proxide spend (CLIENT | --all) [flags]

Spend per day or per model over a date range (at most 366 days).
  --all              all clients together
  --from YYYY-MM-DD  first day (default: 29 days before --to)
  --to YYYY-MM-DD    last day (default: today in the budget time zone)
  --by day|model     one row per day (default) or per model
  --csv              print CSV (for spreadsheets) instead of a table
` + commonHelp

// LoopsUsage is the help of `proxide loops`.
const LoopsUsage = `Usage: proxide loops [CLIENT] [flags]
       proxide loops clear CLIENT

Without CLIENT, lists the loop events of every client, newest first; with
CLIENT, only its own.
  --limit N          events per page, 1-1000 (default 50)
  --cursor C         the next page, as printed after a page

clear CLIENT         end CLIENT's loop cooldown now (its events stay)

CLIENT may be written client:ID (a client id that is literally "clear" must be).
` + commonHelp

// common holds the flags every command has.
type common struct {
	addr string
	json bool
	env  func(string) string
}

func newFlags(name string, env func(string) string) (*flag.FlagSet, *common) {
	if env == nil {
		env = os.Getenv
	}
	c := &common{env: env}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // usage errors are reported by usageError
	def := env(EnvAddr)
	if def == "" {
		def = DefaultAddr
	}
	fs.StringVar(&c.addr, "addr", def, "admin API address")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	return fs, c
}

func (c *common) client() (*Client, error) {
	cl, err := New(c.addr, c.env(EnvKey), nil)
	if err != nil {
		return nil, fmt.Errorf("--addr: %w", err)
	}
	return cl, nil
}

// parseArgs parses flags anywhere among the arguments (`set user-1 --daily 1`
// as well as `set --daily 1 user-1`) and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// handleParse turns a parse error into help on stdout (-h) or a usage error.
func handleParse(err error, usage string, stdout, stderr io.Writer) (help bool, _ error) {
	if errors.Is(err, flag.ErrHelp) {
		_, _ = io.WriteString(stdout, usage)
		return true, nil
	}
	return false, usageError(stderr, usage, "%v", err)
}

// usageError prints the problem, then the usage, to stderr and returns the
// problem as ErrUsage (main prints nothing more: the problem comes first,
// where a reader looks, not under a screen of usage).
func usageError(stderr io.Writer, usage, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	_, _ = fmt.Fprintf(stderr, "proxide: %s\n\n%s", msg, usage)
	return fmt.Errorf("%w: %s", ErrUsage, msg)
}

// parseUSD reads a dollar amount: "0.50", "$0.50"; "", "-", "none" and
// "unlimited" mean no limit.
func parseUSD(name, s string) (*float64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "-", "none", "unlimited":
		return nil, nil
	}
	v, err := strconv.ParseFloat(strings.TrimPrefix(strings.TrimSpace(s), "$"), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("--%s: %q is not a dollar amount", name, s)
	}
	return &v, nil
}

// parseFraction reads a float flag that JSON can carry (not NaN or Inf); ""
// is 0, which the API reads as "inherit".
func parseFraction(name, s string) (float64, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("--%s: %q is not a number", name, s)
	}
	return v, nil
}

// parseThresholds reads "0.5,0.8,1", "50%,80%" or "none"; "" is the default.
func parseThresholds(s string) ([]float64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return nil, nil
	case "none":
		return []float64{}, nil
	}
	var out []float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		div := 1.0
		if p, ok := strings.CutSuffix(part, "%"); ok {
			part, div = p, 100
		}
		v, err := strconv.ParseFloat(part, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("--thresholds: %q is not a fraction or a percentage", part)
		}
		out = append(out, v/div)
	}
	return out, nil
}
