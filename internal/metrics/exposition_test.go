package metrics

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/exposition.golden")

// The exposition is an interface operators build dashboards and alerts on
// (k8s/grafana, the chart's PrometheusRule): a renamed metric or label must
// show up here as a diff of the golden file.
func TestExpositionGolden(t *testing.T) {
	m := New()
	m.TrackClients([]string{"tenant-a"})
	m.TrackReservations(func() int { return 3 })
	m.TrackLedger(func() bool { return true }, func() int64 { return 2 }, func() int { return 5 })
	m.Request("chat.completions.create", "ok")
	m.Decision("chat.completions.create", "allowed")
	m.Decision("chat.completions.create", "budget_exceeded")
	m.Decision("embeddings.create", "unauthenticated")
	m.Spend("gpt-4o-mini", 1_500_000, 1000, 200, 300, 0)
	m.ClientSpend("tenant-a", 1_500_000)
	m.ClientSpend("tenant-b", 9_000_000) // not listed: no series
	m.Blocked("daily")
	m.Alert("daily", "0.8")
	m.UnknownModel()
	m.EstimatedUsage()
	m.LedgerCall("reserve", 300*time.Microsecond, nil)
	m.LedgerCall("settle", 2*time.Millisecond, errors.New("down"))
	m.StreamStarted()
	m.Loop("exact", true)
	m.WebhookDelivery("delivered")
	m.WebhookDelivery("retried")
	m.WebhookDropped()
	m.Phase("request_body", 120*time.Microsecond)
	m.Phase("response_body", 20*time.Microsecond)

	families, err := m.Registry().Gather()
	require.NoError(t, err)
	var out bytes.Buffer
	enc := expfmt.NewEncoder(&out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "proxide_") {
			require.NoError(t, enc.Encode(f))
		}
	}
	const golden = "testdata/exposition.golden"
	if *update {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o600))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./internal/metrics -update to create it")
	require.Equal(t, string(want), out.String())
}
