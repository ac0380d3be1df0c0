package client

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin"
	"github.com/proxide/proxide/internal/admin/admintest"
	"github.com/proxide/proxide/internal/admin/api"
	"github.com/proxide/proxide/internal/auth"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const testKey = "prox-ops"

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func nano(usd float64) int64 { return int64(math.Round(usd * 1e9)) }

// server runs the real REST handler over fakes with a fixed state.
type server struct {
	url   string
	store *admintest.RuleStore
	loops *admintest.Loops
}

func newServer(t *testing.T) server {
	t.Helper()
	store := admintest.NewRuleStore()
	set, err := admintest.NewRules(store,
		rules.Rule{Daily: rules.LimitOf(nano(1)), Monthly: rules.LimitOf(nano(10))},
		rules.Rule{Match: "trial-*", Daily: rules.LimitOf(nano(0.05)), Action: rules.ActionAlert,
			Loop: rules.LoopSettings{Mode: rules.LoopModeAlert, Window: 2 * time.Minute, MaxRepeats: 8}},
		rules.Rule{ClientID: "vip", Daily: rules.LimitOf(nano(5)), AlertThresholds: []float64{0.5, 0.9}},
	)
	require.NoError(t, err)
	ledger := admintest.NewLedger()
	gpt := budget.ModelStats{Model: "gpt-4o", Requests: 3, CostNano: nano(0.8), Tokens: budget.Tokens{Prompt: 300, Completion: 60}}
	mini := budget.ModelStats{Model: "gpt-4o-mini", Requests: 2, Estimated: 1, CostNano: nano(0.0000004), Tokens: budget.Tokens{Prompt: 100, Cached: 10, Completion: 10, Reasoning: 2}}
	ledger.Set("user-1", admintest.ClientData{DaySpent: nano(0.8000004), MonthSpent: nano(3.2), Days: []budget.DayStats{
		{Day: "2026-11-28", Requests: 5, CostNano: nano(0.8000004), Models: []budget.ModelStats{gpt, mini}},
		{Day: "2026-11-26", Requests: 2, Failed: 1, CostNano: nano(2.3999996), Models: []budget.ModelStats{{Model: "o3", Requests: 2, Failed: 1, CostNano: nano(2.3999996), Tokens: budget.Tokens{Prompt: 900, Completion: 400, Reasoning: 300}}}},
	}})
	ledger.Set("user-2", admintest.ClientData{DaySpent: nano(1), DayReserved: nano(0.01), MonthSpent: nano(1.5)})
	ledger.Set("trial-9", admintest.ClientData{DaySpent: nano(0.2), MonthSpent: nano(9)})
	ledger.Set("vip", admintest.ClientData{DaySpent: nano(0.123456789), MonthSpent: nano(1234.5)})
	loops := admintest.NewLoops()
	loops.Add(
		budget.LoopEvent{ClientID: "vip", At: testNow.Add(-30 * time.Second), Kind: "exact", Repeats: 5, Exact: 0xdeadbeef, Sim: 0xfeed,
			Excerpt: "user: Search the docs for \"retry policy\" and summarise\nthe result in three bullet points please", Blocked: true,
			Until: testNow.Add(4*time.Minute + 30*time.Second)},
		budget.LoopEvent{ClientID: "trial-9", At: testNow.Add(-10 * time.Minute), Kind: "similar", Repeats: 8, Exact: 1, Sim: 2,
			Excerpt: "Attempt 7: fetch https://example.com/[redacted]"},
		budget.LoopEvent{ClientID: "vip", At: testNow.Add(-2 * time.Hour), Kind: "cycle", Repeats: 7, Exact: 3, Sim: 4,
			Excerpt: "tool: run_tests -> FAILED", Blocked: true, Until: testNow.Add(-115 * time.Minute)},
	)
	loops.Cool("vip", testNow.Add(4*time.Minute+30*time.Second))
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	svc, err := admin.NewService(admin.ServiceOptions{Store: admintest.Store{RuleStore: store, Ledger: ledger, Loops: loops},
		Rules: set, Calendar: cal, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	keys, err := auth.NewKeys([]auth.KeySpec{{Name: "ops", Key: testKey, Scopes: []string{auth.ScopeAdmin}}})
	require.NoError(t, err)
	srv := httptest.NewServer(admin.New(admin.Options{Service: svc, Keys: keys}))
	t.Cleanup(srv.Close)
	return server{url: srv.URL, store: store, loops: loops}
}

type command func(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error

// run runs one command against srv with the admin key in the environment.
func (s server) run(cmd command, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	env := func(k string) string {
		return map[string]string{EnvAddr: s.url, EnvKey: testKey}[k]
	}
	err = cmd(context.Background(), args, &out, &errOut, env)
	return out.String(), errOut.String(), err
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./admin/client -update to create it")
	require.Equal(t, string(want), got)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name  string
		setup [][]string // budgets commands run first
		cmd   command
		args  []string
	}{
		{name: "budgets_list", cmd: Budgets, args: []string{"list"}},
		{name: "budgets_list_json", cmd: Budgets, args: []string{"list", "--json", "--limit", "2"}},
		{name: "budgets_get_pattern", cmd: Budgets, args: []string{"get", "match:trial-*"}},
		{name: "budgets_set", cmd: Budgets, args: []string{"set", "user-12345", "--daily", "0.50", "--monthly", "$5", "--thresholds", "50%,90%"}},
		{name: "budgets_set_update_json", setup: [][]string{{"set", "match:user-*", "--daily", "1"}}, cmd: Budgets,
			args: []string{"set", "--json", "match:user-*", "--daily", "0.123456789", "--action", "alert", "--thresholds", "none"}},
		{name: "budgets_delete_fallback", setup: [][]string{{"set", "vip", "--daily", "9"}}, cmd: Budgets, args: []string{"delete", "vip"}},
		{name: "budgets_delete", setup: [][]string{{"set", "default", "--monthly", "100"}}, cmd: Budgets, args: []string{"delete", "default"}},
		{name: "clients", cmd: Clients},
		{name: "clients_month_page", cmd: Clients, args: []string{"--sort", "month", "--limit", "2"}},
		{name: "clients_prefix_json", cmd: Clients, args: []string{"--prefix", "trial-", "--json"}},
		{name: "client_one", cmd: Clients, args: []string{"user-1"}},
		{name: "spend_day", cmd: Spend, args: []string{"user-1", "--from", "2026-11-25"}},
		{name: "spend_model_all", cmd: Spend, args: []string{"--all", "--by", "model", "--from", "2026-11-01"}},
		{name: "spend_csv", cmd: Spend, args: []string{"user-1", "--from", "2026-11-26", "--to", "2026-11-27", "--csv"}},
		{name: "budgets_help", cmd: Budgets, args: []string{"--help"}},
		{name: "spend_help", cmd: Spend, args: []string{"-h"}},
		{name: "clients_help", cmd: Clients, args: []string{"--help"}},
		{name: "budgets_set_loop", cmd: Budgets, args: []string{"set", "match:agent-*", "--daily", "2", "--loop", "block",
			"--loop-window", "90s", "--loop-max-repeats", "3", "--loop-similarity", "0.95", "--loop-cooldown", "10m"}},
		{name: "budgets_set_loop_json", cmd: Budgets, args: []string{"set", "eval-1", "--loop", "off", "--json"}},
		{name: "client_one_loops", cmd: Clients, args: []string{"vip"}},
		{name: "loops", cmd: Loops},
		{name: "loops_client_page", cmd: Loops, args: []string{"vip", "--limit", "1"}},
		{name: "loops_json", cmd: Loops, args: []string{"--json", "client:trial-9"}},
		{name: "loops_none", cmd: Loops, args: []string{"user-1"}},
		{name: "loops_clear", cmd: Loops, args: []string{"clear", "vip"}},
		{name: "loops_clear_none", cmd: Loops, args: []string{"clear", "user-1"}},
		{name: "loops_clear_json", cmd: Loops, args: []string{"--json", "clear", "client:vip"}},
		{name: "loops_help", cmd: Loops, args: []string{"--help"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			for _, args := range tc.setup {
				_, _, err := s.run(Budgets, args...)
				require.NoError(t, err)
			}
			stdout, stderr, err := s.run(tc.cmd, tc.args...)
			require.NoError(t, err, stderr)
			golden(t, tc.name, "$ "+strings.Join(tc.args, " ")+"\n"+stdout+"--- stderr\n"+stderr)
		})
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name  string
		cmd   command
		args  []string
		usage bool   // a command-line mistake
		param string // an API error naming this field
		want  string // in the error text
	}{
		{"no command", Budgets, nil, true, "", "missing command"},
		{"unknown command", Budgets, []string{"show"}, true, "", `unknown command "show"`},
		{"set without key", Budgets, []string{"set", "--daily", "1"}, true, "", "exactly one KEY"},
		{"bad amount", Budgets, []string{"set", "u", "--daily", "ten"}, true, "", `--daily: "ten" is not a dollar amount`},
		{"NaN amount", Budgets, []string{"set", "u", "--daily", "NaN"}, true, "", "--daily"},
		{"bad threshold", Budgets, []string{"set", "u", "--thresholds", "0.5,x"}, true, "", "--thresholds"},
		{"unknown flag", Clients, []string{"--order", "day"}, true, "", "-order"},
		{"spend both", Spend, []string{"u", "--all"}, true, "", "not both"},
		{"spend neither", Spend, nil, true, "", "exactly one CLIENT"},
		{"csv and json", Spend, []string{"--all", "--csv", "--json"}, true, "", "exclude"},
		{"negative limit", Budgets, []string{"set", "u", "--daily", "-1"}, false, "daily_limit_usd", "must not be negative"},
		{"bad action", Budgets, []string{"set", "u", "--action", "deny"}, false, "action", "unknown action"},
		{"bad pattern", Budgets, []string{"set", "match:user-"}, false, "match", "trailing"},
		{"file-only delete", Budgets, []string{"delete", "default"}, false, "", "config file"},
		{"not found", Budgets, []string{"get", "nobody"}, false, "", "no budget rule client:nobody"},
		{"bad sort", Clients, []string{"--sort", "week"}, false, "sort", "unknown sort"},
		{"bad date", Spend, []string{"--all", "--from", "2026-02-30"}, false, "from", "not a date"},
		{"bad similarity", Budgets, []string{"set", "u", "--loop-similarity", "high"}, true, "", "--loop-similarity"},
		{"NaN similarity", Budgets, []string{"set", "u", "--loop-similarity", "NaN"}, true, "", "--loop-similarity"},
		{"bad repeats", Budgets, []string{"set", "u", "--loop-max-repeats", "five"}, true, "", "loop-max-repeats"},
		{"unknown loop mode", Budgets, []string{"set", "u", "--loop", "sometimes"}, false, "loop_detection.mode", "unknown mode"},
		{"window without unit", Budgets, []string{"set", "u", "--loop-window", "60"}, false, "loop_detection.window", "not a duration"},
		{"too many repeats", Budgets, []string{"set", "u", "--loop-max-repeats", "50"}, false, "loop_detection.max_repeats", "between 1 and 31"},
		{"similarity above 1", Budgets, []string{"set", "u", "--loop-similarity", "2"}, false, "loop_detection.similarity", "(0, 1]"},
		{"loops two clients", Loops, []string{"a", "b"}, true, "", "at most one CLIENT"},
		{"loops clear nobody", Loops, []string{"clear"}, true, "", "exactly one CLIENT"},
		{"loops clear two", Loops, []string{"clear", "a", "b"}, true, "", "exactly one CLIENT"},
		{"loops clear with limit", Loops, []string{"clear", "vip", "--limit", "5"}, true, "", "for listing"},
		{"loops unknown flag", Loops, []string{"--client", "vip"}, true, "", "-client"},
		{"loops bad limit", Loops, []string{"--limit", "5000"}, false, "limit", "between 1 and 1000"},
		{"loops bad cursor", Loops, []string{"--cursor", "nope"}, false, "cursor", "not a cursor"},
		{"loops bad client", Loops, []string{"clear", "a\x01"}, false, "client_id", "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := s.run(tc.cmd, tc.args...)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Equal(t, tc.usage, errors.Is(err, ErrUsage), "%v", err)
			if tc.usage {
				// The problem first, where the reader looks; the usage after it.
				require.True(t, strings.HasPrefix(stderr, "proxide: "), "stderr starts with the error: %q", stderr)
				require.Contains(t, strings.SplitN(stderr, "\n", 2)[0], tc.want)
				require.Contains(t, stderr, "Usage: proxide", "usage is printed")
				return
			}
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tc.param, apiErr.Param)
		})
	}
	require.Empty(t, s.store.Writes(), "no failed command stored anything")
	require.Empty(t, s.loops.Cleared(), "no failed command cleared anything")
}

func TestAuthAndAddress(t *testing.T) {
	s := newServer(t)
	var out, errOut bytes.Buffer
	noKey := func(k string) string { return map[string]string{EnvAddr: s.url}[k] }
	err := Clients(context.Background(), nil, &out, &errOut, noKey)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusUnauthorized, apiErr.Status)
	require.Contains(t, err.Error(), "Set PROXIDE_ADMIN_KEY")

	// --addr wins over the environment; host:port without a scheme is plain HTTP.
	wrong := func(k string) string {
		return map[string]string{EnvAddr: "http://127.0.0.1:1", EnvKey: testKey}[k]
	}
	require.NoError(t, Clients(context.Background(), []string{"--addr", strings.TrimPrefix(s.url, "http://")}, &out, &errOut, wrong))
	err = Clients(context.Background(), []string{"--addr", "ftp://x"}, &out, &errOut, wrong)
	require.ErrorContains(t, err, "--addr")
}

func TestTypedClient(t *testing.T) {
	s := newServer(t)
	c, err := New(s.url, testKey, nil)
	require.NoError(t, err)
	ctx := context.Background()
	rule, created, err := c.SetBudget(ctx, api.BudgetRequest{ClientID: "a/b%c", DailyLimitUSD: ptr(2.5)})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "client:a/b%c", rule.Key)
	got, err := c.GetBudget(ctx, "a/b%c")
	require.NoError(t, err)
	require.Equal(t, rule, got, "ids with / and % survive the path")
	page, err := c.ListBudgets(ctx, 2, "")
	require.NoError(t, err)
	require.Len(t, page.Budgets, 2)
	require.NotEmpty(t, page.NextCursor)
	cv, err := c.GetClient(ctx, "a/b%c")
	require.NoError(t, err)
	require.Equal(t, "client:a/b%c", cv.Rule.Key)
	list, err := c.ListClients(ctx, api.ClientsQuery{Sort: "month", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, "vip", list.Clients[0].ClientID)
	rep, err := c.Spend(ctx, api.SpendQuery{ClientID: "user-1", GroupBy: "model"})
	require.NoError(t, err)
	require.Equal(t, "o3", rep.Series[0].Model)
	csv, err := c.SpendCSV(ctx, api.SpendQuery{From: "2026-11-28", To: "2026-11-28"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(csv), "day,requests,"))
	loops, err := c.ListLoops(ctx, "vip", 1, "")
	require.NoError(t, err)
	require.Len(t, loops.Loops, 1)
	require.Equal(t, "exact", loops.Loops[0].Kind)
	require.NotEmpty(t, loops.NextCursor)
	loops, err = c.ListLoops(ctx, "vip", 0, loops.NextCursor)
	require.NoError(t, err)
	require.Equal(t, "cycle", loops.Loops[0].Kind)
	require.Empty(t, loops.NextCursor)
	vip, err := c.GetClient(ctx, "vip")
	require.NoError(t, err)
	require.Equal(t, api.StateLoopCooldown, vip.State)
	require.Len(t, vip.RecentLoops, 2)
	cleared, err := c.ClearLoop(ctx, "vip")
	require.NoError(t, err)
	require.Equal(t, api.ClearLoopView{ClientID: "vip", Cleared: true}, cleared)
	del, err := c.DeleteBudget(ctx, "a/b%c")
	require.NoError(t, err)
	require.True(t, del.Deleted)
	_, err = c.GetBudget(ctx, "a/b%c")
	require.True(t, IsNotFound(err))
}

func TestDollars(t *testing.T) {
	for usd, want := range map[float64]string{
		0: "$0.00", 0.5: "$0.50", 5: "$5.00", 0.123456789: "$0.123457", 1234.5: "$1234.50",
		0.0000004: "<$0.000001", 0.0000005: "$0.000001", 0.01: "$0.01", 0.105: "$0.105", 1e9: "$1000000000.00",
	} {
		require.Equal(t, want, Dollars(usd), "%v", usd)
	}
	require.Equal(t, "80%,100%", percents([]float64{0.8, 1}))
	require.Equal(t, "70%,33.33%", percents([]float64{0.7, 0.33333}))
	require.Equal(t, "none", percents(nil))
}

func ptr[T any](v T) *T { return &v }

// budgets set without --daily or --monthly replaces the rule with one that
// caps nothing: it says so (and still does what it was told).
func TestBudgetsSetWithoutLimitsWarns(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		args []string
		warn bool
	}{
		{[]string{"set", "u1"}, true},
		{[]string{"set", "u2", "--action", "alert"}, true},
		{[]string{"set", "u3", "--daily", "1"}, false},
		{[]string{"set", "u4", "--monthly", "unlimited"}, false},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, err := s.run(Budgets, tc.args...)
			require.NoError(t, err)
			require.Equal(t, tc.warn, strings.Contains(stderr, "warning: no --daily or --monthly: "+tc.args[1]+" becomes unlimited"), stderr)
		})
	}
}

// --help (and -h) print the command's usage to stdout and succeed.
func TestHelpSucceedsOnEveryCommand(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		cmd  command
		args []string
	}{
		{Budgets, []string{"--help"}}, {Budgets, []string{"-h"}}, {Budgets, []string{"set", "--help"}},
		{Budgets, []string{"get", "--help"}}, {Budgets, []string{"list", "--help"}}, {Budgets, []string{"delete", "-h"}},
		{Clients, []string{"--help"}}, {Spend, []string{"--help"}}, {Loops, []string{"--help"}}, {Loops, []string{"clear", "--help"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, _, err := s.run(tc.cmd, tc.args...)
			require.NoError(t, err)
			require.Contains(t, stdout, "Usage: proxide")
		})
	}
	require.Empty(t, s.store.Writes())
}
