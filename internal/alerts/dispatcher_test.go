package alerts

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/internal/loop"
)

// receiver is a local webhook endpoint: it answers the statuses given in
// turn (then 200), verifies signatures and keeps the events it accepted.
type receiver struct {
	t        *testing.T
	secret   []byte
	mu       sync.Mutex
	statuses []int
	attempts int
	events   []Event
	raw      [][]byte
	release  chan struct{} // when set, each request waits for it
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.release != nil {
		<-rc.release
	}
	body, err := io.ReadAll(r.Body)
	assert.NoError(rc.t, err)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if len(rc.statuses) > 0 {
		status := rc.statuses[0]
		rc.statuses = rc.statuses[1:]
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
	}
	if rc.secret != nil {
		if err := Verify(rc.secret, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, time.Now(), DefaultReplayWindow); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	var ev Event
	assert.NoError(rc.t, json.Unmarshal(body, &ev))
	assert.Equal(rc.t, ev.ID, r.Header.Get(HeaderEventID))
	rc.events = append(rc.events, ev)
	rc.raw = append(rc.raw, body)
}

func (rc *receiver) got() ([]Event, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Event(nil), rc.events...), rc.attempts
}

type countingMetrics struct {
	mu      sync.Mutex
	results map[string]int
	dropped atomic.Int64
}

func (m *countingMetrics) WebhookDelivery(result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.results == nil {
		m.results = map[string]int{}
	}
	m.results[result]++
}

func (m *countingMetrics) WebhookDropped() { m.dropped.Add(1) }

func (m *countingMetrics) count(result string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.results[result]
}

func newDispatcher(t *testing.T, opts Options) *Dispatcher {
	t.Helper()
	if opts.BaseBackoff == 0 {
		opts.BaseBackoff = 5 * time.Millisecond
	}
	d, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

var day = budget.Period{Kind: budget.Daily, Key: "2026-12-02",
	Start: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}

func TestDispatcherRetriesAFailingReceiverUntilItRecovers(t *testing.T) {
	rc := &receiver{t: t, secret: []byte("whsec"), statuses: []int{500, 503, http.StatusOK}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	m := &countingMetrics{}
	d := newDispatcher(t, Options{Webhooks: []string{srv.URL}, Secret: rc.secret, Metrics: m})

	d.ThresholdCrossed("user-1", "match:user-*", budget.Crossing{Kind: budget.Daily, Threshold: 0.8, SpentNano: 400_000_000, LimitNano: 500_000_000, Period: day})

	require.Eventually(t, func() bool { evs, _ := rc.got(); return len(evs) == 1 }, 10*time.Second, 5*time.Millisecond)
	evs, attempts := rc.got()
	require.Equal(t, 3, attempts, "two failures, then the delivery")
	ev := evs[0]
	require.Equal(t, TypeThresholdCrossed, ev.Type)
	require.Equal(t, "user-1", ev.ClientID)
	require.Equal(t, "match:user-*", ev.Rule)
	require.Equal(t, "daily", ev.LimitType)
	require.Equal(t, "2026-12-02", ev.Period)
	require.InDelta(t, 0.5, *ev.LimitUSD, 1e-12)
	require.InDelta(t, 0.4, *ev.SpentUSD, 1e-12)
	require.InDelta(t, 0.8, *ev.Threshold, 1e-12)
	require.NotEmpty(t, ev.ID)
	require.False(t, ev.Time.IsZero())
	// The dispatcher counts an attempt once the receiver's answer is back.
	require.Eventually(t, func() bool { return m.count("delivered") == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, 2, m.count("retried"))
}

func TestDispatcherGivesUp(t *testing.T) {
	tests := map[string]struct {
		statuses     []int
		wantAttempts int
	}{
		"a client error is not retried":   {[]int{400}, 1},
		"a 410 is not retried":            {[]int{410}, 1},
		"server errors, up to the limit":  {[]int{500, 502, 503, 500, 500}, 3},
		"429 is retried, up to the limit": {[]int{429, 429, 429, 429}, 3},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rc := &receiver{t: t, statuses: tt.statuses}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			m := &countingMetrics{}
			d := newDispatcher(t, Options{Webhooks: []string{srv.URL}, MaxAttempts: 3, Metrics: m})
			d.UnmeteredAllowed("c", "default", "/v1/realtime/sessions", day, day.Start)
			require.Eventually(t, func() bool { return m.count("failed") == 1 }, 10*time.Second, 5*time.Millisecond)
			evs, attempts := rc.got()
			require.Empty(t, evs)
			require.Equal(t, tt.wantAttempts, attempts)
		})
	}
}

func TestDispatcherDropsWhenTheQueueIsFull(t *testing.T) {
	rc := &receiver{t: t, release: make(chan struct{})}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	m := &countingMetrics{}
	d := newDispatcher(t, Options{Webhooks: []string{srv.URL}, QueueSize: 1, Workers: 1, Metrics: m})
	ex := budget.Exceeded{Kind: budget.Daily, LimitNano: 1, SpentNano: 2, Period: day}
	d.BudgetExceeded("a", "default", ex, day.Start) // taken by the worker, which then waits on the receiver
	require.Eventually(t, func() bool { return len(d.events) == 0 }, 5*time.Second, time.Millisecond)
	d.BudgetExceeded("b", "default", ex, day.Start) // queued
	d.BudgetExceeded("c", "default", ex, day.Start) // dropped: Notify never waits
	require.Equal(t, int64(1), m.dropped.Load())
	close(rc.release)
	require.Eventually(t, func() bool { evs, _ := rc.got(); return len(evs) == 2 }, 10*time.Second, 5*time.Millisecond)
}

func TestSlackFormat(t *testing.T) {
	var got struct{ Text string }
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&got))
	}))
	defer srv.Close()
	m := &countingMetrics{}
	d := newDispatcher(t, Options{Webhooks: []string{srv.URL}, Format: FormatSlack, Metrics: m})
	d.LoopDetected("agent-7", "default", loop.Verdict{Loop: true, Kind: loop.KindExact, Repeats: 5, Until: day.Start.Add(5 * time.Minute)}, true, day.Start)
	require.Eventually(t, func() bool { return m.count("delivered") == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, "Proxide: client `agent-7` is looping (exact, 5 repeats; blocked)", got.Text)
}

// Two replicas sharing one Redis send an event once: the first claims it in
// the ledger. A threshold crossing needs no claim: the ledger's settlement
// reports it on one replica only.
func TestTwoReplicasSendOnce(t *testing.T) {
	client := goredis.NewClient(&goredis.Options{Addr: redistest.Start(t)})
	defer func() { _ = client.Close() }()
	store, err := redis.New(client, redis.Options{})
	require.NoError(t, err)
	rc := &receiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	m := &countingMetrics{}
	replicas := []*Dispatcher{
		newDispatcher(t, Options{Webhooks: []string{srv.URL}, Dedup: store, Metrics: m}),
		newDispatcher(t, Options{Webhooks: []string{srv.URL}, Dedup: store, Metrics: m}),
	}
	ex := budget.Exceeded{Kind: budget.Monthly, LimitNano: 5e9, SpentNano: 5e9, Period: budget.Period{Kind: budget.Monthly, Key: "2026-12", End: day.Start.AddDate(0, 1, 0)}}
	v := loop.Verdict{Loop: true, Kind: loop.KindSimilar, Repeats: 6, Until: day.Start.Add(time.Minute)}
	for range 5 { // every refused request of the period, on both replicas
		for _, d := range replicas {
			d.BudgetExceeded("user-9", "default", ex, day.Start)
			d.LoopDetected("user-9", "default", v, true, day.Start)
			d.UnmeteredAllowed("user-9", "default", "/v1/fine_tuning/jobs", day, day.Start)
		}
	}
	// The next period, and another loop, are new events.
	next := ex
	next.Period.Key = "2027-01"
	replicas[1].BudgetExceeded("user-9", "default", next, day.Start)
	v.Until = v.Until.Add(time.Hour)
	replicas[0].LoopDetected("user-9", "default", v, true, day.Start)

	require.Eventually(t, func() bool { evs, _ := rc.got(); return len(evs) == 5 }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // nothing more arrives
	evs, _ := rc.got()
	byType := map[string]int{}
	for _, ev := range evs {
		byType[ev.Type]++
	}
	require.Equal(t, map[string]int{TypeBudgetExceeded: 2, TypeLoopDetected: 2, TypeUnmeteredAllowed: 1}, byType)
}

func TestOptionsValidate(t *testing.T) {
	err := Options{Webhooks: []string{"ftp://x", "http://ok.example/hook", "::"}, Format: "xml", QueueSize: -1}.Validate()
	require.ErrorContains(t, err, "alerts.webhooks[0]")
	require.ErrorContains(t, err, "alerts.webhooks[2]")
	require.NotContains(t, err.Error(), "alerts.webhooks[1]")
	require.ErrorContains(t, err, "alerts.format")
	require.ErrorContains(t, err, "must not be negative")
}
