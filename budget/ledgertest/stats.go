package ledgertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

func testStatsPerModel(t *testing.T, f *Fixture) {
	c := "analytics"
	rule := rules.Rule{}
	settle := func(model string, cost int64, tok budget.Tokens, failed, estimated bool) {
		id := f.NextID()
		f.Reserve(id, c, rule, cost)
		s := f.SettleReq(id, c, rule, cost)
		s.Model, s.Tokens, s.Failed, s.Estimated = model, tok, failed, estimated
		_, err := f.L.Settle(f.ctx, s)
		require.NoError(t, err)
	}
	settle("gpt-4o", 30, budget.Tokens{Prompt: 100, Cached: 20, Completion: 50, Reasoning: 0}, false, false)
	settle("gpt-4o", 20, budget.Tokens{Prompt: 10, Cached: 0, Completion: 5, Reasoning: 0}, false, true)
	settle("o3", 50, budget.Tokens{Prompt: 1, Cached: 0, Completion: 2, Reasoning: 3}, false, false)
	settle("", 0, budget.Tokens{}, true, false)
	settle("b-model", 7, budget.Tokens{Prompt: 1}, false, false)
	settle("a-model", 7, budget.Tokens{Prompt: 2}, false, false)

	got := f.Spend(c, rule).Today
	want := budget.DayStats{Day: "2026-11-28", Requests: 6, Failed: 1, CostNano: 114, EstimatedNano: 20, Models: []budget.ModelStats{
		{Model: "gpt-4o", Requests: 2, Estimated: 1, Tokens: budget.Tokens{Prompt: 110, Cached: 20, Completion: 55}, CostNano: 50, EstimatedNano: 20},
		{Model: "o3", Requests: 1, Tokens: budget.Tokens{Prompt: 1, Completion: 2, Reasoning: 3}, CostNano: 50},
		{Model: "a-model", Requests: 1, Tokens: budget.Tokens{Prompt: 2}, CostNano: 7},
		{Model: "b-model", Requests: 1, Tokens: budget.Tokens{Prompt: 1}, CostNano: 7},
		{Model: "unknown", Requests: 1, Failed: 1},
	}}
	require.Equal(t, want, got, "sorted by cost desc, then name; \"\" is unknown")

	// Odd upstream model names are recorded (sanitised), never refused.
	settle("weird|model\n", 1, budget.Tokens{}, false, false)
	names := map[string]bool{}
	for _, m := range f.Spend(c, rule).Today.Models {
		names[m.Model] = true
	}
	require.True(t, names["weird_model_"], "%v", names)
}

func testHistory(t *testing.T, f *Fixture) {
	c := "history"
	rule := rules.Rule{}
	f.At(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	f.Charge(c, rule, 3)
	f.At(time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC))
	f.Charge(c, rule, 5)
	f.Charge(c, rule, 5)
	h, err := f.L.History(f.ctx, c, "2026-11-26", "2026-11-29")
	require.NoError(t, err)
	require.Len(t, h, 4)
	require.Equal(t, []string{"2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"},
		[]string{h[0].Day, h[1].Day, h[2].Day, h[3].Day})
	require.Equal(t, budget.DayStats{Day: "2026-11-26"}, h[0])
	require.Equal(t, [2]int64{1, 3}, [2]int64{h[1].Requests, h[1].CostNano})
	require.Equal(t, budget.DayStats{Day: "2026-11-28"}, h[2])
	require.Equal(t, [2]int64{2, 10}, [2]int64{h[3].Requests, h[3].CostNano})
	require.Equal(t, "gpt-4o-mini", h[3].Models[0].Model)
	require.Equal(t, int64(200), h[3].Models[0].Tokens.Prompt)

	one, err := f.L.History(f.ctx, c, "2026-11-27", "2026-11-27")
	require.NoError(t, err)
	require.Equal(t, h[1], one[0])
	other, err := f.L.History(f.ctx, "someone-else", "2026-11-27", "2026-11-27")
	require.NoError(t, err)
	require.Equal(t, []budget.DayStats{{Day: "2026-11-27"}}, other)
}
