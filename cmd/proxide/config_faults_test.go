package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// store.timeout is checked at start-up against the ext_proc message_timeout of the
// Envoy in front (listen.envoy_message_timeout): a ledger call that outlives it gets
// Envoy's bare 504 whatever store.failure_mode says.
func TestConfigLedgerTimeoutInsideEnvoys(t *testing.T) {
	for _, tc := range []struct {
		yaml, wantErr string
	}{
		{"store: {timeout: 1500ms}\n", ""},
		{"store: {timeout: 1600ms}\n", "store.timeout: 1.6s must be between 10ms and 1.5s (3/4 of listen.envoy_message_timeout 2s)"},
		{"listen: {envoy_message_timeout: 10s}\nstore: {timeout: 5s}\n", ""},
		{"listen: {envoy_message_timeout: 500ms}\n", "store.timeout: 500ms must be between 10ms and 375ms"},
		{"listen: {envoy_message_timeout: 10ms}\n", "listen.envoy_message_timeout: 10ms must be between 100ms and 1h"},
		{"listen: {stream_idle_timeout: 0s}\n", "listen.stream_idle_timeout"},
		{"listen: {max_request_body_bytes: 1000}\n", "listen.max_request_body_bytes: 1000 is outside 64 KiB..1 GiB"},
	} {
		_, err := load(t, nil, "--config", writeConfig(t, tc.yaml))
		if tc.wantErr == "" {
			require.NoError(t, err, tc.yaml)
			continue
		}
		require.ErrorContains(t, err, tc.wantErr, tc.yaml)
	}
}

// Every Envoy config we ship sets the message_timeout the default
// listen.envoy_message_timeout assumes, so the default store.timeout is inside it.
func TestShippedEnvoyMessageTimeouts(t *testing.T) {
	cfg, err := load(t, nil)
	require.NoError(t, err)
	re := regexp.MustCompile(`(?m)^\s*message_timeout:\s*(\S+)\s*$`)
	files := []string{"../../envoy/configs/sidecar.yaml", "../../envoy/configs/front-proxy.yaml",
		"../../k8s/manifests/sidecar/envoy-config.yaml", "../../k8s/mesh/istio/envoyfilter.yaml"}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Clean(f))
		require.NoError(t, err)
		m := re.FindAllSubmatch(b, -1)
		require.NotEmpty(t, m, "%s sets message_timeout", f)
		for _, v := range m {
			d, err := time.ParseDuration(string(v[1]))
			require.NoError(t, err, "%s: %s", f, v[1])
			require.Equal(t, cfg.Listen.EnvoyMessageTimeout, d, "%s: listen.envoy_message_timeout's default is the shipped message_timeout", f)
			require.LessOrEqual(t, cfg.Store.Timeout, d*3/4, "%s", f)
		}
	}
}
