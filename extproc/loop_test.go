package extproc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/blockcache"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

var loopDefaults = rules.LoopDefaults{Enabled: true, Block: true, Config: loop.Config{Window: time.Minute, MaxRepeats: 5, Similarity: 0.9, Cooldown: 5 * time.Minute}}

func TestLoopDetectedAnswers429AndCoolsDown(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Loop = loopDefaults })
	f.ledger.admit = func(r budget.ReserveRequest) (budget.Admission, error) {
		require.NotNil(t, r.Loop, "loop detection is on for this client")
		require.Equal(t, loopDefaults.Config, r.Loop.Config)
		require.True(t, r.Loop.Block)
		require.NotZero(t, r.Loop.Sig.Exact)
		require.Contains(t, r.Loop.Excerpt, "retry the failing call")
		return budget.Admission{Loop: loop.Verdict{Loop: true, Repeats: 5, Kind: loop.KindSimilar, Until: fixedNow.Add(5 * time.Minute)}}, nil
	}
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"retry the failing call"}]}`
	out := f.run(t, nil, chatHeaders(), reqBody(body))
	require.Len(t, out, 2)
	code, h, got := immediateOf(t, out[1])
	require.Equal(t, 429, code)
	require.Equal(t, "300", h["retry-after"])
	e := got["error"].(map[string]any)
	require.Equal(t, "loop_detected", e["type"])
	require.Equal(t, "user-12345", e["client_id"])
	require.EqualValues(t, 5, e["repeats"])
	require.EqualValues(t, 60, e["window_seconds"])
	require.Contains(t, e["message"], "5 nearly identical requests within 1m0s")
	require.Empty(t, f.ledger.settles, "nothing was reserved")

	// The cooldown is certain (the ledger remembers it): the next request is
	// refused at the headers.
	v := loop.Verdict{Loop: true, Cooldown: true, Repeats: 5, Kind: loop.KindSimilar, Until: fixedNow.Add(5 * time.Minute)}
	f.ledger.refusals = map[string]blockcache.Refusal{"user-12345": {Loop: &v, Window: time.Minute}}
	out = f.run(t, nil, chatHeaders(), reqBody(body))
	require.Len(t, out, 1)
	code, _, got = immediateOf(t, out[0])
	require.Equal(t, 429, code)
	require.EqualValues(t, 60, got["error"].(map[string]any)["window_seconds"], "the cached refusal keeps the window")
	require.Len(t, f.ledger.reserves, 1)
}

func TestLoopAlertOnlyAdmits(t *testing.T) {
	defaults := loopDefaults
	defaults.Block = false
	f := newFixture(t, func(o *Options) { o.Loop = defaults; o.LoopStatus = 409 })
	f.ledger.admit = func(r budget.ReserveRequest) (budget.Admission, error) {
		require.False(t, r.Loop.Block)
		return budget.Admission{Admitted: true, Loop: loop.Verdict{Loop: true, Repeats: 5, Kind: loop.KindExact, Until: fixedNow.Add(time.Minute)}}, nil
	}
	out := f.run(t, nil, chatHeaders(), reqBody(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}`))
	require.Len(t, out, 2)
	require.NotNil(t, out[1].GetRequestBody(), "alert mode lets the request through")
}

func TestLoopSettingsPerRule(t *testing.T) {
	tests := []struct {
		name     string
		defaults rules.LoopDefaults
		rule     rules.LoopSettings
		want     bool
	}{
		{"global on", loopDefaults, rules.LoopSettings{}, true},
		{"rule turns it off (an eval harness)", loopDefaults, rules.LoopSettings{Mode: "off"}, false},
		{"global off", rules.LoopDefaults{Config: loopDefaults.Config}, rules.LoopSettings{}, false},
		{"rule turns it on", rules.LoopDefaults{Config: loopDefaults.Config}, rules.LoopSettings{Mode: "alert"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				o.Loop = tc.defaults
				o.Rules = staticRules{rules.Rule{Loop: tc.rule}}
			})
			f.run(t, nil, chatHeaders(), reqBody(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}`))
			require.Len(t, f.ledger.reserves, 1)
			require.Equal(t, tc.want, f.ledger.reserves[0].Loop != nil)
		})
	}
}
