package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/memory"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
)

// memoryService is the Service over the real in-memory ledger holding n
// clients with spend today.
func memoryService(b *testing.B, n int) *Service {
	b.Helper()
	ctx := context.Background()
	mem := memory.New(memory.Options{})
	file, err := rules.NewSet(rules.Rule{Daily: rules.LimitOf(usdNano(1))}, nil)
	require.NoError(b, err)
	dyn, err := rules.NewDynamic(ctx, rules.DynamicOptions{File: file, Store: mem, Refresh: time.Hour})
	require.NoError(b, err)
	b.Cleanup(dyn.Close)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(b, err)
	periods := cal.Periods(testNow)
	for i := range n {
		id := fmt.Sprintf("client-%06d", i)
		_, err := mem.Settle(ctx, budget.SettleRequest{ID: "r" + id, ClientID: id, Rule: dyn.Resolve(id), Periods: periods,
			ActualNano: int64(1 + i%9973*1000), Model: "gpt-4o", Now: testNow})
		require.NoError(b, err)
	}
	svc, err := NewService(ServiceOptions{Store: mem, Rules: dyn, Calendar: cal, Now: func() time.Time { return testNow }})
	require.NoError(b, err)
	return svc
}

// BenchmarkListClients100k lists one page of 100 (first and deep pages) of
// 100,000 clients on the in-memory ledger, through the REST handler; each
// client's loop state is read too.
func BenchmarkListClients100k(b *testing.B) {
	svc := memoryService(b, 100_000)
	h := New(Options{Service: svc})
	// A cursor deep into the listing.
	page, err := svc.ListClients(context.Background(), api.ClientsQuery{Limit: 1000})
	require.NoError(b, err)
	for _, bc := range []struct{ name, query string }{
		{"first-page", "/v1/clients?limit=100"},
		{"month-sort", "/v1/clients?limit=100&sort=month"},
		{"next-page", "/v1/clients?limit=100&cursor=" + page.NextCursor},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequestWithContext(b.Context(), http.MethodGet, bc.query, http.NoBody))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
