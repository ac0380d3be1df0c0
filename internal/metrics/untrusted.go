package metrics

import "github.com/prometheus/client_golang/prometheus"

func (m *Metrics) registerUntrusted() {
	m.untrusted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "proxide_upstream_untrusted_total",
		Help: "Upstream answers whose usage could not be trusted, by reason: invalid_usage, zero_usage, missing_usage, malformed_body, content_type_mismatch and compressed are charged the reservation's worst case; absurd_usage (priced past 4x the worst case) is charged as reported.",
	}, []string{"reason"})
	m.registry.MustRegister(m.untrusted)
}

// Untrusted counts an upstream answer charged its worst case because its
// usage could not be trusted.
func (m *Metrics) Untrusted(reason string) {
	if m != nil {
		m.untrusted.WithLabelValues(reason).Inc()
	}
}
