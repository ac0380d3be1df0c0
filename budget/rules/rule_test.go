package rules

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidClientID(t *testing.T) {
	for _, tc := range []struct {
		id, err string
	}{
		{"user-12345", ""},
		{"ä-ü 🙂 {x}:y/z", ""},
		{strings.Repeat("a", 256), ""},
		{"", "empty"},
		{strings.Repeat("a", 257), "257 bytes"},
		{"a\xffb", "UTF-8"},
		{"a\tb", "control character at byte 1"},
		{"a\u0085b", "control character"}, // C1 control (NEL)
		{"\x7f", "control character"},
	} {
		err := ValidClientID(tc.id)
		if tc.err == "" {
			require.NoError(t, err, "%q", tc.id)
		} else {
			require.ErrorContains(t, err, tc.err, "%q", tc.id)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule Rule
		errs []string // every substring must appear
	}{
		{"default", Rule{}, nil},
		{"full", Rule{ClientID: "u", Daily: LimitOf(1), Monthly: LimitOf(0), Action: ActionAlert, AlertThresholds: []float64{0.5, 10}}, nil},
		{"pattern", Rule{Match: "user-*"}, nil},
		{"star", Rule{Match: "*"}, nil},
		{"both", Rule{ClientID: "u", Match: "u*"}, []string{"client_id and match"}},
		{"no star", Rule{Match: "user-"}, []string{"match:", "trailing"}},
		{"two stars", Rule{Match: "user-**"}, []string{"match:", "only one"}},
		{"inner star", Rule{Match: "u*ser-*"}, []string{"match:", "only one"}},
		{"control in pattern", Rule{Match: "a\nb*"}, []string{"match:", "control"}},
		{"bad id", Rule{ClientID: "a\x00"}, []string{"client_id:", "control"}},
		{"negative", Rule{Daily: LimitOf(-1), Monthly: LimitOf(-2)}, []string{"daily_limit_usd", "monthly_limit_usd"}},
		{"above $1e9", Rule{Daily: LimitOf(MaxLimitNano + 1)}, []string{"daily_limit_usd: 1000000000000000001 nano-USD is above the maximum of 1000000000 USD"}},
		{"$1e9", Rule{Daily: LimitOf(MaxLimitNano)}, nil},
		{"action", Rule{Action: "deny"}, []string{`action: unknown action "deny"`}},
		{"thresholds", Rule{AlertThresholds: []float64{math.NaN(), math.Inf(1), 0, -1, 10.5, 0.8, 0.8}}, []string{
			"alert_thresholds[0]: must be a finite", "alert_thresholds[1]: must be a finite",
			"alert_thresholds[2]", "alert_thresholds[3]", "alert_thresholds[4]", "alert_thresholds[6]: duplicate",
		}},
		{"all at once", Rule{ClientID: "x", Match: "nope", Action: "x", Daily: LimitOf(-5)}, []string{"client_id and match", "match:", "action:", "daily_limit_usd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rule.Validate()
			if tc.errs == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tc.errs {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestRuleThresholdsAndAction(t *testing.T) {
	require.Equal(t, []float64{0.8, 1.0}, Rule{}.Thresholds())
	require.Empty(t, Rule{AlertThresholds: []float64{}}.Thresholds())
	th := Rule{}.Thresholds()
	th[0] = 5
	require.Equal(t, []float64{0.8, 1.0}, Rule{}.Thresholds(), "callers cannot change the default")
	require.True(t, Rule{}.Blocks())
	require.True(t, Rule{Action: ActionBlock}.Blocks())
	require.False(t, Rule{Action: ActionAlert}.Blocks())
}
