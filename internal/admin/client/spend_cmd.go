package client

import (
	"context"
	"io"
	"net/http"

	"github.com/proxide/proxide/internal/admin/api"
)

// Spend runs `proxide spend (CLIENT | --all) [--from D] [--to D]
// [--by day|model] [--csv]` (args start after "spend").
func Spend(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs, c := newFlags("spend", env)
	var q api.SpendQuery
	all := fs.Bool("all", false, "all clients")
	fs.StringVar(&q.From, "from", "", "first day")
	fs.StringVar(&q.To, "to", "", "last day")
	fs.StringVar(&q.GroupBy, "by", "", "day or model")
	asCSV := fs.Bool("csv", false, "CSV output")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if help, err := handleParse(err, SpendUsage, stdout, stderr); help || err != nil {
			return err
		}
	}
	switch {
	case *all && len(pos) > 0:
		return usageError(stderr, SpendUsage, "spend: give CLIENT or --all, not both")
	case !*all && len(pos) != 1:
		return usageError(stderr, SpendUsage, "spend: give exactly one CLIENT, or --all")
	case *asCSV && c.json:
		return usageError(stderr, SpendUsage, "spend: --csv and --json exclude each other")
	}
	if !*all {
		q.ClientID = pos[0]
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	format := ""
	if *asCSV {
		format = "csv"
	}
	data, _, err := cl.Do(ctx, http.MethodGet, "/v1/spend", spendQuery(q, format), nil)
	if err != nil {
		return err
	}
	if *asCSV || c.json {
		_, err = stdout.Write(data)
		return err
	}
	var v api.SpendView
	if err := decode(data, &v); err != nil {
		return err
	}
	return writeSpend(stdout, v)
}
