package client

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/proxide/proxide/internal/admin/api"
)

// Budgets runs `proxide budgets set|get|list|delete …` (args start after
// "budgets"). env reads PROXIDE_ADMIN_ADDR and PROXIDE_ADMIN_KEY (nil: os.Getenv).
// Errors of the API come back as *APIError, command-line mistakes wrap ErrUsage.
func Budgets(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	if len(args) == 0 {
		return usageError(stderr, BudgetsUsage, "budgets: missing command (set, get, list or delete)")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "--help", "help":
		_, _ = io.WriteString(stdout, BudgetsUsage)
		return nil
	case "set":
		return budgetsSet(ctx, rest, stdout, stderr, env)
	case "get", "delete":
		return budgetsKeyCmd(ctx, sub, rest, stdout, stderr, env)
	case "list":
		return budgetsList(ctx, rest, stdout, stderr, env)
	}
	return usageError(stderr, BudgetsUsage, "budgets: unknown command %q", sub)
}

// budgetRequest builds the POST body for a key in the CLI's KEY syntax.
func budgetRequest(key string) api.BudgetRequest {
	switch {
	case key == "default":
		return api.BudgetRequest{Default: true}
	case strings.HasPrefix(key, "match:"):
		return api.BudgetRequest{Match: strings.TrimPrefix(key, "match:")}
	}
	return api.BudgetRequest{ClientID: strings.TrimPrefix(key, "client:")}
}

func budgetsSet(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs, c := newFlags("budgets set", env)
	daily := fs.String("daily", "", "daily limit in USD")
	monthly := fs.String("monthly", "", "monthly limit in USD")
	action := fs.String("action", "", "block or alert")
	admission := fs.String("admission", "", "soft or strict")
	unmetered := fs.String("unmetered", "", "paid endpoints Proxide cannot meter: refuse or allow")
	thresholds := fs.String("thresholds", "", "alert thresholds")
	var loop api.LoopDetection
	fs.StringVar(&loop.Mode, "loop", "", "loop detection: off, block or alert")
	fs.StringVar(&loop.Window, "loop-window", "", "loop detection window")
	fs.IntVar(&loop.MaxRepeats, "loop-max-repeats", 0, "repeats tolerated in the window")
	similarity := fs.String("loop-similarity", "", "similarity threshold")
	fs.StringVar(&loop.Cooldown, "loop-cooldown", "", "cooldown after a loop")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if help, err := handleParse(err, BudgetsUsage, stdout, stderr); help || err != nil {
			return err
		}
	}
	if len(pos) != 1 {
		return usageError(stderr, BudgetsUsage, "budgets set: want exactly one KEY, got %d", len(pos))
	}
	req := budgetRequest(pos[0])
	req.Action = *action
	req.Admission = *admission
	if *unmetered != "" {
		req.Endpoints = &api.EndpointsView{Unmetered: *unmetered}
	}
	if req.DailyLimitUSD, err = parseUSD("daily", *daily); err != nil {
		return usageError(stderr, BudgetsUsage, "%v", err)
	}
	if req.MonthlyLimitUSD, err = parseUSD("monthly", *monthly); err != nil {
		return usageError(stderr, BudgetsUsage, "%v", err)
	}
	if req.AlertThresholds, err = parseThresholds(*thresholds); err != nil {
		return usageError(stderr, BudgetsUsage, "%v", err)
	}
	if loop.Similarity, err = parseFraction("loop-similarity", *similarity); err != nil {
		return usageError(stderr, BudgetsUsage, "%v", err)
	}
	if loop != (api.LoopDetection{}) {
		req.LoopDetection = &loop
	}
	if !flagGiven(fs, "daily") && !flagGiven(fs, "monthly") {
		// An upsert replaces the rule: one without limits caps nothing.
		_, _ = fmt.Fprintf(stderr, "proxide: warning: no --daily or --monthly: %s becomes unlimited (pass --daily/--monthly to cap it, or 'unlimited' to say so)\n", pos[0])
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	data, status, err := cl.Do(ctx, http.MethodPost, "/v1/budgets", nil, req)
	if err != nil {
		return err
	}
	if c.json {
		_, err = stdout.Write(data)
		return err
	}
	var v api.RuleView
	if err := decode(data, &v); err != nil {
		return err
	}
	verb := "updated"
	if status == http.StatusCreated {
		verb = "created"
	}
	if _, err := fmt.Fprintf(stderr, "%s budget rule %s\n", verb, cleanCell(v.Key)); err != nil {
		return err
	}
	return writeRules(stdout, []api.RuleView{v})
}

func budgetsKeyCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs, c := newFlags("budgets "+sub, env)
	pos, err := parseArgs(fs, args)
	if err != nil {
		if help, err := handleParse(err, BudgetsUsage, stdout, stderr); help || err != nil {
			return err
		}
	}
	if len(pos) != 1 {
		return usageError(stderr, BudgetsUsage, "budgets %s: want exactly one KEY, got %d", sub, len(pos))
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	method := http.MethodGet
	if sub == "delete" {
		method = http.MethodDelete
	}
	data, _, err := cl.Do(ctx, method, "/v1/budgets/"+PathEscape(pos[0]), nil, nil)
	if err != nil {
		return err
	}
	if c.json {
		_, err = stdout.Write(data)
		return err
	}
	if sub == "get" {
		var v api.RuleView
		if err := decode(data, &v); err != nil {
			return err
		}
		return writeRules(stdout, []api.RuleView{v})
	}
	var d api.DeleteView
	if err := decode(data, &d); err != nil {
		return err
	}
	if d.Effective == nil {
		_, err = fmt.Fprintf(stdout, "deleted budget rule %s\n", cleanCell(d.Key))
		return err
	}
	if _, err := fmt.Fprintf(stdout, "deleted budget rule %s; the config file's rule applies again:\n\n", cleanCell(d.Key)); err != nil {
		return err
	}
	return writeRules(stdout, []api.RuleView{*d.Effective})
}

func budgetsList(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs, c := newFlags("budgets list", env)
	limit := fs.Int("limit", 0, "rules per request")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if help, err := handleParse(err, BudgetsUsage, stdout, stderr); help || err != nil {
			return err
		}
	}
	if len(pos) != 0 {
		return usageError(stderr, BudgetsUsage, "budgets list: unexpected argument %q", pos[0])
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	// Rules are few; follow the cursor and show them all.
	all := api.BudgetListView{Budgets: []api.RuleView{}}
	for cursor, pages := "", 0; ; pages++ {
		page, err := cl.ListBudgets(ctx, *limit, cursor)
		if err != nil {
			return err
		}
		all.Budgets = append(all.Budgets, page.Budgets...)
		if page.NextCursor == "" || page.NextCursor == cursor || pages > 10_000 {
			break
		}
		cursor = page.NextCursor
	}
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	return writeRules(stdout, all.Budgets)
}

// flagGiven reports whether the command line set the flag.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
