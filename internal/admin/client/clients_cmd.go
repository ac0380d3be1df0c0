package client

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/proxide/proxide/internal/admin/api"
)

// Clients runs `proxide clients [CLIENT] [--sort day|month] [--limit N]
// [--prefix P] [--cursor C]` (args start after "clients").
func Clients(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs, c := newFlags("clients", env)
	var q api.ClientsQuery
	fs.StringVar(&q.Sort, "sort", "", "day or month")
	fs.IntVar(&q.Limit, "limit", 0, "clients per page")
	fs.StringVar(&q.Prefix, "prefix", "", "client id prefix")
	fs.StringVar(&q.Cursor, "cursor", "", "next page")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if help, err := handleParse(err, ClientsUsage, stdout, stderr); help || err != nil {
			return err
		}
	}
	if len(pos) > 1 {
		return usageError(stderr, ClientsUsage, "clients: at most one CLIENT, got %d", len(pos))
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		return oneClient(ctx, cl, c.json, pos[0], stdout)
	}
	data, _, err := cl.Do(ctx, http.MethodGet, "/v1/clients", clientsQuery(q), nil)
	if err != nil {
		return err
	}
	if c.json {
		_, err = stdout.Write(data)
		return err
	}
	var page api.ClientListView
	if err := decode(data, &page); err != nil {
		return err
	}
	if err := writeClients(stdout, page.Clients); err != nil {
		return err
	}
	if page.NextCursor != "" {
		_, err = fmt.Fprintf(stderr, "%d of %d clients shown; next page: --cursor %s\n", len(page.Clients), page.Total, page.NextCursor)
	}
	return err
}

// oneClient prints one client: its periods, rule and today's models.
func oneClient(ctx context.Context, cl *Client, asJSON bool, id string, stdout io.Writer) error {
	data, _, err := cl.Do(ctx, http.MethodGet, "/v1/clients/"+PathEscape(id), nil, nil)
	if err != nil {
		return err
	}
	if asJSON {
		_, err = stdout.Write(data)
		return err
	}
	var v api.ClientDetailView
	if err := decode(data, &v); err != nil {
		return err
	}
	state := v.State
	if v.CooldownUntil != "" {
		state += " until " + timeCell(&v.CooldownUntil) + " UTC"
	}
	if _, err := fmt.Fprintf(stdout, "Client %s: %s, rule %s (%s)\n\n", cleanCell(v.ClientID), state, cleanCell(v.Rule.Key), v.Rule.Source); err != nil {
		return err
	}
	t := newTable(stdout, "PERIOD", "SPENT", "RESERVED", "LIMIT", "REMAINING", "RESETS")
	for _, p := range []api.PeriodView{v.Today, v.Month} {
		t.row(p.Period, Dollars(p.SpentUSD), Dollars(p.ReservedUSD), limit(p.LimitUSD), limit(p.RemainingUSD), p.ResetsAt)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "\nToday: %d requests, %d failed\n", v.Requests, v.Failed); err != nil {
		return err
	}
	if len(v.Models) > 0 {
		if _, err := fmt.Fprintln(stdout); err != nil {
			return err
		}
		t = newTable(stdout, "MODEL", "REQUESTS", "FAILED", "PROMPT", "CACHED", "COMPLETION", "REASONING", "COST")
		for _, m := range v.Models {
			t.row(m.Model, i64(m.Requests), i64(m.Failed), i64(m.PromptTokens), i64(m.CachedTokens),
				i64(m.CompletionTokens), i64(m.ReasoningTokens), Dollars(m.CostUSD))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(v.RecentLoops) == 0 {
		return nil
	}
	if _, err := fmt.Fprintf(stdout, "\nRecent loops (newest first):\n\n"); err != nil {
		return err
	}
	return writeLoops(stdout, v.RecentLoops, false)
}
