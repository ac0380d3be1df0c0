package k8s_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/strvals"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// renderedProxideConfig renders values and decodes the chart's proxide.yaml strictly.
func renderedProxideConfig(t *testing.T, values string) proxideConfig {
	t.Helper()
	cm := one[corev1.ConfigMap](t, mustRender(t, values).objs, releaseName)
	cfg, err := parseProxideConfig([]byte(cm.Data["proxide.yaml"]))
	require.NoError(t, err)
	return cfg
}

func boolp(b bool) *bool { return &b }

// TestChartLoopDetection: loopDetection.* lands in proxide.yaml's
// loop_detection key by key, and rules (and the default rule) pass their
// loop_detection overrides through unchanged, "off" staying a string.
func TestChartLoopDetection(t *testing.T) {
	cases := chartCases()
	tests := []struct {
		name    string
		global  loopDetection
		def     *ruleLoop
		rules   []*ruleLoop
		clients []string // client_id or match of each rule, in order
	}{
		{
			name:   "defaults",
			global: loopDetection{Enabled: boolp(true), Window: "60s", MaxRepeats: 5, Similarity: 0.9, Cooldown: "5m", Action: "block", Status: 429},
		},
		{
			name:    "loop detection customised",
			global:  loopDetection{Enabled: boolp(true), Window: "2m", MaxRepeats: 8, Similarity: 0.85, Cooldown: "15m", Action: "alert", Status: 503},
			def:     &ruleLoop{Mode: "block", Cooldown: "1m"},
			rules:   []*ruleLoop{{Mode: "off"}, {Mode: "block", Window: "30s", MaxRepeats: 3, Similarity: 0.95, Cooldown: "10m"}, nil},
			clients: []string{"eval-*", "agent-7", "user-*"},
		},
		{
			name:    "loop detection disabled",
			global:  loopDetection{Enabled: boolp(false), Window: "60s", MaxRepeats: 5, Similarity: 0.9, Cooldown: "5m", Action: "block", Status: 429},
			rules:   []*ruleLoop{{Mode: "alert"}},
			clients: []string{"agent-7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, ok := cases[tt.name]
			require.True(t, ok, "a chartCases value set, so it is also rendered strictly and started with proxide serve")
			cfg := renderedProxideConfig(t, values)
			require.NotNil(t, cfg.LoopDetection, "loop_detection is always rendered")
			require.Equal(t, tt.global, *cfg.LoopDetection)
			require.Equal(t, tt.def, cfg.Budgets.Default.LoopDetection)
			require.Len(t, cfg.Budgets.Rules, len(tt.rules))
			for i, want := range tt.rules {
				r := cfg.Budgets.Rules[i]
				require.Equal(t, tt.clients[i], r.ClientID+r.Match, "rule %d", i)
				require.Equal(t, want, r.LoopDetection, "rule %d", i)
			}
		})
	}
}

// proxideLoopDefaults reads the loop_detection defaults from Proxide's own
// defaults table (cmd/proxide/config.go), each value decoded as YAML would.
// Reading the source keeps the loop package (and its tokenizer) out of this
// module while still failing when a default or a key changes there.
func proxideLoopDefaults(t *testing.T) map[string]any {
	t.Helper()
	src := readFile(t, "../cmd/proxide/config.go")
	re := regexp.MustCompile(`(?m)^\s*"loop_detection\.([a-z_]+)":\s*(.+?),\s*$`)
	out := map[string]any{}
	for _, m := range re.FindAllSubmatch(src, -1) {
		var v any
		require.NoError(t, yaml.Unmarshal(m[2], &v), "default of loop_detection.%s: %s", m[1], m[2])
		out[string(m[1])] = v
	}
	require.Len(t, out, 7, "loop_detection defaults found in cmd/proxide/config.go: %v", out)
	return out
}

// loopSection decodes the loop_detection section of a proxide.yaml as a map.
func loopSection(t *testing.T, proxideYAML []byte) map[string]any {
	t.Helper()
	var doc struct {
		Loop map[string]any `yaml:"loop_detection"`
	}
	require.NoError(t, yaml.Unmarshal(proxideYAML, &doc))
	return doc.Loop
}

// TestChartLoopDefaultsMatchProxide: the chart's default loopDetection
// renders exactly Proxide's built-in defaults, key for key, so installing
// the chart with no loop values behaves as Proxide does without the section.
func TestChartLoopDefaultsMatchProxide(t *testing.T) {
	cm := one[corev1.ConfigMap](t, mustRender(t, "").objs, releaseName)
	require.Equal(t, proxideLoopDefaults(t), loopSection(t, []byte(cm.Data["proxide.yaml"])))
}

// TestChartLoopDetectionSetFlags: what the chart README says about the
// command line. `--set` makes 0.8 a string, which the schema refuses;
// `--set-json` keeps it a number; `--set ...mode=off` stays the string "off".
func TestChartLoopDetectionSetFlags(t *testing.T) {
	fromFlags := func(t *testing.T, parse func(string, map[string]any) error, flag string) string {
		t.Helper()
		vals := map[string]any{}
		require.NoError(t, parse(flag, vals))
		b, err := sigsyaml.Marshal(vals)
		require.NoError(t, err)
		return string(b)
	}

	_, err := render(fromFlags(t, strvals.ParseInto, "loopDetection.similarity=0.8"))
	require.ErrorContains(t, err, "/loopDetection/similarity': got string, want number")

	cfg := renderedProxideConfig(t, fromFlags(t, strvals.ParseJSON, "loopDetection.similarity=0.8"))
	require.InDelta(t, 0.8, cfg.LoopDetection.Similarity, 1e-12)

	cfg = renderedProxideConfig(t, fromFlags(t, strvals.ParseInto,
		"budgets.rules[0].match=eval-*,budgets.rules[0].loop_detection.mode=off,loopDetection.maxRepeats=7,loopDetection.enabled=false"))
	require.Equal(t, &ruleLoop{Mode: "off"}, cfg.Budgets.Rules[0].LoopDetection)
	require.Equal(t, 7, cfg.LoopDetection.MaxRepeats)
	require.False(t, *cfg.LoopDetection.Enabled)

	// The `helm upgrade` of docs/deploy.md, merged as helm does: --set-json, then --set.
	vals := map[string]any{}
	require.NoError(t, strvals.ParseJSON("loopDetection.similarity=0.85", vals))
	require.NoError(t, strvals.ParseJSON(`budgets.rules=[{"match":"eval-*","loop_detection":{"mode":"off"}},{"match":"user-*","daily_limit_usd":0.5,"monthly_limit_usd":5}]`, vals))
	for _, set := range []string{"loopDetection.action=alert", "loopDetection.window=2m", "loopDetection.maxRepeats=8"} {
		require.NoError(t, strvals.ParseInto(set, vals))
	}
	b, err := sigsyaml.Marshal(vals)
	require.NoError(t, err)
	cfg = renderedProxideConfig(t, string(b))
	require.Equal(t, loopDetection{Enabled: boolp(true), Window: "2m", MaxRepeats: 8, Similarity: 0.85, Cooldown: "5m", Action: "alert", Status: 429}, *cfg.LoopDetection)
	require.Equal(t, &ruleLoop{Mode: "off"}, cfg.Budgets.Rules[0].LoopDetection)
	require.Equal(t, "user-*", cfg.Budgets.Rules[1].Match)
}

// proxideRefusals are value sets the schema accepts but Proxide refuses at
// start-up (duration bounds the schema cannot express), with a fragment of
// Proxide's message; TestRenderedConfigsStartProxide runs them.
func proxideRefusals() map[string]struct{ values, want string } {
	return map[string]struct{ values, want string }{
		"loop window beyond 24h": {"loopDetection: {window: 48h}", "loop_detection: loop: invalid config: window must be between 1ms and 24h"},
		"rule loop cooldown beyond 168h": {
			`budgets: {rules: [{match: "eval-*", loop_detection: {cooldown: 200h}}]}`, "budgets.rules[0]: loop_detection.cooldown"},
	}
}
