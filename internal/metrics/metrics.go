// Package metrics holds every Prometheus collector Proxide exports, in one
// place, on a registry of its own (no global state). Methods are nil-safe so
// packages under test can run without metrics.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of Proxide collectors.
type Metrics struct {
	registry *prometheus.Registry

	requests       *prometheus.CounterVec
	spendUSD       *prometheus.CounterVec
	tokens         *prometheus.CounterVec
	blocked        *prometheus.CounterVec
	alerts         *prometheus.CounterVec
	unknownModels  prometheus.Counter
	estimatedUsage prometheus.Counter
	ledgerErrors   *prometheus.CounterVec
	ledgerLatency  *prometheus.HistogramVec
	activeStreams  prometheus.Gauge
	loops          *prometheus.CounterVec
	webhooks       *prometheus.CounterVec
	webhookDrops   prometheus.Counter
	decisions      *prometheus.CounterVec
	phases         *prometheus.HistogramVec
	phaseOf        map[string]prometheus.Observer // phases' series, resolved once: Phase runs per message
	clientSpend    *prometheus.CounterVec         // nil unless TrackClients
	tracked        map[string]prometheus.Counter
	daily          *Daily                 // nil unless TrackDaily
	untrusted      *prometheus.CounterVec // untrusted.go
}

// New registers every collector (plus Go and process collectors) on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxide_requests_total",
			Help: "Requests seen by the ext_proc sidecar, by endpoint and outcome.",
		}, []string{"endpoint", "outcome"}),
		spendUSD: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxide_spend_usd_total",
			Help: "Settled spend in USD, by priced model. Per-client spend is in the admin API, not in labels.",
		}, []string{"model"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxide_tokens_total",
			Help: "Tokens metered, by kind (prompt, cached, completion, reasoning).",
		}, []string{"kind"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxide_budget_blocked_total",
			Help: "Requests refused with 402, by the period whose limit was exhausted.",
		}, []string{"limit_type"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxide_budget_alerts_total",
			Help: "Alert thresholds crossed (once per threshold per client per period).",
		}, []string{"limit_type", "threshold"}),
		unknownModels: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxide_unknown_model_total",
			Help: "Requests priced with the fallback price (or refused) because the model is not in the price table.",
		}),
		estimatedUsage: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxide_usage_estimated_total",
			Help: "Responses charged from a tiktoken estimate because the upstream sent no usage (cut streams, upstreams that ignore include_usage).",
		}),
		ledgerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxide_ledger_errors_total",
			Help: "Ledger operations that failed, by operation.",
		}, []string{"op"}),
		ledgerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxide_ledger_duration_seconds",
			Help:    "Ledger round-trip latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"op"}),
		activeStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "proxide_active_streams",
			Help: "ext_proc streams (HTTP requests) in flight.",
		}),
		loops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxide_loops_detected_total",
			Help: "Loops detected, by kind (exact, similar, cycle) and action (block, alert).",
		}, []string{"kind", "action"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxide_webhook_deliveries_total",
			Help: "Alert webhook delivery attempts, by result (delivered, retried, failed).",
		}, []string{"result"}),
		webhookDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxide_webhook_dropped_total",
			Help: "Alert events or retries dropped because the webhook queue was full.",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proxide_decisions_total",
			Help: "Requests by endpoint and what Proxide decided (allowed, budget_exceeded, loop_detected, unauthenticated, forbidden, bad_request, unavailable, endpoint_not_metered, protocol_error), counted once per request.",
		}, []string{"endpoint", "decision"}),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "proxide_extproc_phase_duration_seconds",
			Help:    "Time Proxide took to answer one ext_proc message, from its arrival to the reply sent, by message.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"message"}),
	}
	m.registry.MustRegister(m.requests, m.spendUSD, m.tokens, m.blocked, m.alerts, m.unknownModels,
		m.estimatedUsage, m.ledgerErrors, m.ledgerLatency, m.activeStreams, m.loops, m.webhooks, m.webhookDrops, m.decisions, m.phases,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registerUntrusted()
	m.phaseOf = map[string]prometheus.Observer{}
	for _, msg := range []string{"request_headers", "request_body", "request_trailers", "response_headers", "response_body", "response_trailers"} {
		m.phaseOf[msg] = m.phases.WithLabelValues(msg)
	}
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry exposes the registry, for tests and for packages adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Request counts one finished request.
func (m *Metrics) Request(endpoint, outcome string) {
	if m != nil {
		m.requests.WithLabelValues(endpoint, outcome).Inc()
	}
}

// Spend records a settled charge.
func (m *Metrics) Spend(model string, nanoUSD int64, prompt, cached, completion, reasoning int64) {
	if m == nil {
		return
	}
	m.spendUSD.WithLabelValues(model).Add(float64(nanoUSD) / 1e9)
	m.tokens.WithLabelValues("prompt").Add(float64(prompt))
	m.tokens.WithLabelValues("cached").Add(float64(cached))
	m.tokens.WithLabelValues("completion").Add(float64(completion))
	m.tokens.WithLabelValues("reasoning").Add(float64(reasoning))
}

// Blocked counts a 402.
func (m *Metrics) Blocked(limitType string) {
	if m != nil {
		m.blocked.WithLabelValues(limitType).Inc()
		m.daily.blocked(limitType)
	}
}

// Alert counts a threshold crossing.
func (m *Metrics) Alert(limitType, threshold string) {
	if m != nil {
		m.alerts.WithLabelValues(limitType, threshold).Inc()
	}
}

// UnknownModel counts a request priced with the fallback (or refused).
func (m *Metrics) UnknownModel() {
	if m != nil {
		m.unknownModels.Inc()
	}
}

// EstimatedUsage counts a response charged from an estimate.
func (m *Metrics) EstimatedUsage() {
	if m != nil {
		m.estimatedUsage.Inc()
	}
}

// LedgerCall observes one ledger round trip.
func (m *Metrics) LedgerCall(op string, took time.Duration, err error) {
	if m == nil {
		return
	}
	m.ledgerLatency.WithLabelValues(op).Observe(took.Seconds())
	if err != nil {
		m.ledgerErrors.WithLabelValues(op).Inc()
	}
}

// StreamStarted and StreamEnded track in-flight ext_proc streams.
func (m *Metrics) StreamStarted() {
	if m != nil {
		m.activeStreams.Inc()
	}
}

// StreamEnded is the counterpart of StreamStarted.
func (m *Metrics) StreamEnded() {
	if m != nil {
		m.activeStreams.Dec()
	}
}

// Loop counts a detected loop.
func (m *Metrics) Loop(kind string, blocked bool) {
	if m == nil {
		return
	}
	action := "alert"
	if blocked {
		action = "block"
	}
	m.loops.WithLabelValues(kind, action).Inc()
	m.daily.loop(blocked)
}

// WebhookDelivery counts one alert webhook attempt by its result.
func (m *Metrics) WebhookDelivery(result string) {
	if m != nil {
		m.webhooks.WithLabelValues(result).Inc()
	}
}

// WebhookDropped counts an alert event or retry dropped on a full queue.
func (m *Metrics) WebhookDropped() {
	if m != nil {
		m.webhookDrops.Inc()
	}
}

// Decision counts what Proxide decided for one request.
func (m *Metrics) Decision(endpoint, decision string) {
	if m != nil {
		m.decisions.WithLabelValues(endpoint, decision).Inc()
	}
}

// Phase observes the time to answer one ext_proc message.
func (m *Metrics) Phase(message string, took time.Duration) {
	if m == nil {
		return
	}
	if o, ok := m.phaseOf[message]; ok {
		o.Observe(took.Seconds())
		return
	}
	m.phases.WithLabelValues(message).Observe(took.Seconds())
}
