package admin

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/admintest"
	"github.com/proxide/proxide/internal/auth"
	"github.com/proxide/proxide/internal/openaierr"
)

var (
	_ Store   = admintest.Store{}
	_ RuleSet = (*admintest.Rules)(nil)
	// The real storage must fit the consumer interfaces too.
	_ Store   = budget.Store(nil)
	_ RuleSet = (*rules.Dynamic)(nil)
)

// Test keys: one per scope combination.
const (
	adminKey   = "prox-ops"
	gatewayKey = "prox-app"
)

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// usdNano is a test shorthand for dollars in nano-dollars.
func usdNano(usd float64) int64 { return int64(math.Round(usd * 1e9)) }

// fileRules are the rules of the (pretend) config file.
func fileRules() []rules.Rule {
	return []rules.Rule{
		{Daily: rules.LimitOf(usdNano(1)), Monthly: rules.LimitOf(usdNano(10))},
		{Match: "trial-*", Daily: rules.LimitOf(usdNano(0.05)), Action: rules.ActionAlert},
		{ClientID: "vip", Daily: rules.LimitOf(usdNano(5))},
	}
}

// testEnv is the real REST handler over hand-written fakes, on real HTTP.
type testEnv struct {
	store  *admintest.RuleStore
	rules  *admintest.Rules
	ledger *admintest.Ledger
	svc    *Service
	srv    *httptest.Server
	keys   *auth.Keys
	loops  *admintest.Loops
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{store: admintest.NewRuleStore(), ledger: admintest.NewLedger(), loops: admintest.NewLoops()}
	var err error
	e.rules, err = admintest.NewRules(e.store, fileRules()...)
	require.NoError(t, err)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	e.svc, err = NewService(ServiceOptions{Store: admintest.Store{RuleStore: e.store, Ledger: e.ledger, Loops: e.loops},
		Rules: e.rules, Calendar: cal, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	e.keys, err = auth.NewKeys([]auth.KeySpec{
		{Name: "ops", Key: adminKey, Scopes: []string{auth.ScopeAdmin}},
		{Name: "app", Key: gatewayKey, Scopes: []string{auth.ScopeGateway}},
	})
	require.NoError(t, err)
	e.srv = httptest.NewServer(New(Options{Service: e.svc, Keys: e.keys,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "# metrics\n") })}))
	t.Cleanup(e.srv.Close)
	return e
}

// seed gives the ledger a few clients with history.
func (e *testEnv) seed() {
	day := func(d string, req int64, cost int64, models ...budget.ModelStats) budget.DayStats {
		return budget.DayStats{Day: d, Requests: req, CostNano: cost, Models: models}
	}
	gpt := func(req, cost int64) budget.ModelStats {
		return budget.ModelStats{Model: "gpt-4o", Requests: req, CostNano: cost, Tokens: budget.Tokens{Prompt: 100 * req, Completion: 20 * req}}
	}
	mini := func(req, cost int64) budget.ModelStats {
		return budget.ModelStats{Model: "gpt-4o-mini", Requests: req, Estimated: 1, CostNano: cost, Tokens: budget.Tokens{Prompt: 50 * req, Cached: 10, Completion: 5 * req, Reasoning: 2}}
	}
	seen := testNow.Add(-time.Minute)
	e.ledger.Set("user-1", admintest.ClientData{DaySpent: usdNano(0.85), MonthSpent: usdNano(3.2), LastSeen: seen,
		Days: []budget.DayStats{day("2026-11-28", 5, usdNano(0.85), gpt(3, usdNano(0.8)), mini(2, usdNano(0.05))), day("2026-11-20", 2, usdNano(2.35), gpt(2, usdNano(2.35)))}})
	e.ledger.Set("user-2", admintest.ClientData{DaySpent: usdNano(1), DayReserved: usdNano(0.01), MonthSpent: usdNano(1.5), LastSeen: seen,
		Days: []budget.DayStats{day("2026-11-28", 1, usdNano(1), gpt(1, usdNano(1)))}})
	e.ledger.Set("trial-9", admintest.ClientData{DaySpent: usdNano(0.2), MonthSpent: usdNano(9), LastSeen: seen})
	e.ledger.Set("vip", admintest.ClientData{DaySpent: usdNano(0.1), MonthSpent: usdNano(0.1), LastSeen: seen})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; key "" sends no Authorization header.
func (e *testEnv) do(t *testing.T, method, path, body, key string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, rd)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, res.Body.Close()) }()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// get sends an admin request and decodes a 200 answer into v.
func (e *testEnv) get(t *testing.T, path string, v any) {
	t.Helper()
	r := e.do(t, http.MethodGet, path, "", adminKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, v), string(r.body))
}

// apiError decodes an OpenAI-style error body.
func apiError(t *testing.T, r response) (typ, param, msg string) {
	t.Helper()
	require.Equal(t, "application/json", r.header.Get("Content-Type"), string(r.body))
	var b openaierr.Body
	require.NoError(t, json.Unmarshal(r.body, &b), string(r.body))
	if b.Error.Param != nil {
		param = *b.Error.Param
	}
	return b.Error.Type, param, b.Error.Message
}
