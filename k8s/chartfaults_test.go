package k8s_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The chart tells Proxide the ext_proc message_timeout of the Envoy it renders, so a
// store.timeout that would outlive it (Envoy's bare 504 instead of the failure mode's
// answer) stops the sidecar at start-up.
func TestChartPassesEnvoyMessageTimeout(t *testing.T) {
	require.Equal(t, "2s", renderedProxideConfig(t, "").Listen.EnvoyMessageTimeout)
	require.Equal(t, "5s", renderedProxideConfig(t, "envoy: {messageTimeout: 5s}\n").Listen.EnvoyMessageTimeout)
}
