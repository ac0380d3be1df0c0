package metrics

import "github.com/prometheus/client_golang/prometheus"

// Per-client series are opt-in: a label per client id would grow without
// bound with 100,000 clients, so only the ids an operator lists get one
// (metrics.client_ids); everyone's spend is in the admin API.

// TrackClients gives the listed client ids a proxide_client_spend_usd_total
// series. Call it once, before traffic.
func (m *Metrics) TrackClients(ids []string) {
	if m == nil || len(ids) == 0 {
		return
	}
	m.clientSpend = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "proxide_client_spend_usd_total",
		Help: "Settled spend in USD of the client ids listed in metrics.client_ids.",
	}, []string{"client_id"})
	m.registry.MustRegister(m.clientSpend)
	m.tracked = make(map[string]prometheus.Counter, len(ids))
	for _, id := range ids {
		m.tracked[id] = m.clientSpend.WithLabelValues(id)
	}
}

// ClientSpend adds a settled charge to the client's series when it is tracked.
func (m *Metrics) ClientSpend(clientID string, nanoUSD int64) {
	if m == nil || m.tracked == nil {
		return
	}
	if c, ok := m.tracked[clientID]; ok {
		c.Add(float64(nanoUSD) / 1e9)
	}
}

// TrackReservations exports the reservations held by requests in flight,
// read from inFlight at each scrape.
func (m *Metrics) TrackReservations(inFlight func() int) {
	if m == nil {
		return
	}
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "proxide_reservations_in_flight",
		Help: "Reservations held by requests that went upstream and are not settled yet.",
	}, func() float64 { return float64(inFlight()) }))
}

// TrackLedger exports the ledger's circuit breaker and replay buffer, read
// at each scrape: whether the circuit is open (the store is failing and the
// failure mode answers), how often it opened, and the settlements buffered
// for replay.
func (m *Metrics) TrackLedger(open func() bool, trips func() int64, buffered func() int) {
	if m == nil {
		return
	}
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "proxide_ledger_circuit_open",
			Help: "1 while the ledger's circuit breaker is open (the store failed; requests get the failure mode without waiting for it), else 0.",
		}, func() float64 {
			if open() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "proxide_ledger_circuit_trips_total",
			Help: "Times the ledger's circuit breaker opened.",
		}, func() float64 { return float64(trips()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "proxide_ledger_replay_buffered",
			Help: "Settlements buffered while the ledger was unavailable, waiting to be replayed.",
		}, func() float64 { return float64(buffered()) }))
}
