package pricing

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultToolFees(t *testing.T) {
	f := DefaultToolFees()
	// $10, $25, $10 and $2.50 per 1000 calls.
	require.Equal(t, int64(10_000_000), f.WebSearchPerCall)
	require.Equal(t, int64(25_000_000), f.WebSearchPreviewPerCall)
	require.Equal(t, int64(10_000_000), f.WebSearchPreviewReasoningPerCall)
	require.Equal(t, int64(2_500_000), f.FileSearchPerCall)
	require.Equal(t, map[string]int64{"1g": 30_000_000, "4g": 120_000_000, "16g": 480_000_000, "64g": 1_920_000_000}, f.ContainerPerSession)
	require.Equal(t, int64(25_000_000), f.WebSearchPreview(false))
	require.Equal(t, int64(10_000_000), f.WebSearchPreview(true))
	require.NoError(t, f.Validate())

	// The 1g price is the snapshot's openai/container row.
	row, ok := Default().Lookup("openai/container")
	require.True(t, ok)
	require.Equal(t, f.ContainerPerSession["1g"], row.PerSession)
}

func TestPricerToolFees(t *testing.T) {
	require.Equal(t, int64(30_000_000), New(Options{}).ContainerSession())

	// A table whose container row says $0.05 sets the 1g price.
	tab := Default().With(map[string]Price{"openai/container": {PerSession: 50_000_000, Mode: "chat"}})
	p := New(Options{Table: tab})
	require.Equal(t, int64(50_000_000), p.ContainerSession())
	require.Equal(t, int64(120_000_000), p.ToolFees().ContainerPerSession["4g"])

	// A table without one keeps the default.
	small, err := Parse(strings.NewReader(`{"m": {"mode": "chat", "input_cost_per_token": 1e-06}}`))
	require.NoError(t, err)
	require.Equal(t, int64(30_000_000), New(Options{Table: small}).ContainerSession())

	// Config overrides everything, and is copied.
	fees := DefaultToolFees()
	fees.ContainerPerSession["1g"] = 1
	fees.FileSearchPerCall = 2
	p = New(Options{ToolFees: &fees})
	fees.ContainerPerSession["1g"] = 99
	require.Equal(t, int64(1), p.ContainerSession())
	got := p.ToolFees()
	require.Equal(t, int64(2), got.FileSearchPerCall)
	got.ContainerPerSession["1g"] = 42 // a copy
	require.Equal(t, int64(1), p.ContainerSession())
}

func TestToolFeesValidate(t *testing.T) {
	f := DefaultToolFees()
	f.WebSearchPerCall = -1
	f.ContainerPerSession["4g"] = -2
	delete(f.ContainerPerSession, "1g")
	err := f.Validate()
	require.ErrorIs(t, err, ErrInvalidAmount)
	require.ErrorContains(t, err, "web_search_per_call")
	require.ErrorContains(t, err, "container_per_session.4g")
	require.ErrorContains(t, err, "1g")
}
