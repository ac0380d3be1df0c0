package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/internal/alerts"
)

// webhookReceiver keeps the events it receives whose signature verifies.
type webhookReceiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	events []alerts.Event
	bad    int
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	assert.NoError(w.t, err)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := alerts.Verify(w.secret, r.Header.Get(alerts.HeaderTimestamp), r.Header.Get(alerts.HeaderSignature), body, time.Now(), alerts.DefaultReplayWindow); err != nil {
		w.bad++
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev alerts.Event
	assert.NoError(w.t, json.Unmarshal(body, &ev))
	w.events = append(w.events, ev)
}

func (w *webhookReceiver) byType() map[string][]alerts.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]alerts.Event{}
	for _, ev := range w.events {
		out[ev.Type] = append(out[ev.Type], ev)
	}
	return out
}

// A client spending through its daily budget raises, once each, the 80% and
// 100% threshold events and one budget.exceeded however many requests are
// refused; each delivery is signed. (The harness's only secret in the
// environment is the upstream key, so it signs here.)
func TestE2EAlertWebhooks(t *testing.T) {
	rc := &webhookReceiver{t: t, secret: []byte("sk-upstream-secret")}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	yaml := e2eYAML("    - {client_id: alerted, daily_limit_usd: 0.50}\n", priceyPricing+"loop_detection: {enabled: false}\n"+
		fmt.Sprintf("alerts: {webhooks: [%q], secret_env: OPENAI_API_KEY}\n", hook.URL))
	onBothLedgers(t, yaml, func(t *testing.T, yaml string) {
		rc.mu.Lock()
		rc.events, rc.bad = nil, 0
		rc.mu.Unlock()
		s := startStack(t, yaml, nil)
		refused := 0
		for i := 0; refused < 3; i++ {
			require.Less(t, i, 30, "alerted was never refused")
			r := s.do(t, priceyCall("alerted", 5))
			if r.status == http.StatusPaymentRequired {
				refused++
				continue
			}
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		}
		want := map[string]int{alerts.TypeThresholdCrossed: 2, alerts.TypeBudgetExceeded: 1}
		require.Eventually(t, func() bool {
			got := map[string]int{}
			for typ, evs := range rc.byType() {
				got[typ] = len(evs)
			}
			return fmt.Sprint(got) == fmt.Sprint(want)
		}, 10*time.Second, 10*time.Millisecond, "events: %v", rc.byType())
		evs := rc.byType()
		thresholds := []float64{*evs[alerts.TypeThresholdCrossed][0].Threshold, *evs[alerts.TypeThresholdCrossed][1].Threshold}
		require.ElementsMatch(t, []float64{0.8, 1.0}, thresholds)
		for _, ev := range append(evs[alerts.TypeThresholdCrossed], evs[alerts.TypeBudgetExceeded]...) {
			require.Equal(t, "alerted", ev.ClientID)
			require.Equal(t, "client:alerted", ev.Rule)
			require.Equal(t, "daily", ev.LimitType)
			require.Equal(t, time.Now().UTC().Format("2006-01-02"), ev.Period)
			require.InDelta(t, 0.5, *ev.LimitUSD, 1e-9)
		}
		require.GreaterOrEqual(t, *evs[alerts.TypeBudgetExceeded][0].SpentUSD, 0.5)
		require.Zero(t, rc.bad, "every delivery is signed")
		raw, err := json.Marshal(evs[alerts.TypeThresholdCrossed][0])
		require.NoError(t, err)
		t.Logf("a delivered event: %s", raw)
	})
}

// A new loop raises one loop.detected (not one per request of its cooldown),
// and a paid endpoint allowed unmetered one endpoint.unmetered_allowed per
// client, endpoint and day.
func TestE2EAlertWebhooksLoopsAndUnmetered(t *testing.T) {
	rc := &webhookReceiver{t: t, secret: []byte("sk-upstream-secret")}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	yaml := e2eYAML("    - {match: \"tuner-*\", endpoints: {unmetered: allow}}\n",
		"loop_detection: {enabled: true, max_repeats: 2, cooldown: 5m}\n"+
			fmt.Sprintf("alerts: {webhooks: [%q], secret_env: OPENAI_API_KEY}\n", hook.URL))
	s := startStack(t, yaml, nil)
	same := call{path: "/openai/v1/chat/completions", client: "looper",
		body: `{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"are we there yet?"}]}`}
	loops := 0
	for range 6 {
		if r := s.do(t, same); r.status == http.StatusTooManyRequests {
			loops++
		}
	}
	require.GreaterOrEqual(t, loops, 3, "the loop and its cooldown were refused")
	tune := unmeteredCalls[2]
	for range 3 {
		r := s.do(t, call{path: tune.path, client: "tuner-1", body: tune.body})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	require.Eventually(t, func() bool {
		evs := rc.byType()
		return len(evs[alerts.TypeLoopDetected]) == 1 && len(evs[alerts.TypeUnmeteredAllowed]) == 1
	}, 10*time.Second, 10*time.Millisecond, "events: %v", rc.byType())
	time.Sleep(200 * time.Millisecond) // and no more arrive
	evs := rc.byType()
	require.Len(t, evs, 2, "events: %v", evs)
	l := evs[alerts.TypeLoopDetected][0]
	require.Equal(t, "looper", l.ClientID)
	require.Equal(t, "default", l.Rule)
	require.True(t, *l.Blocked)
	require.NotNil(t, l.CooldownUntil)
	u := evs[alerts.TypeUnmeteredAllowed][0]
	require.Equal(t, "tuner-1", u.ClientID)
	require.Equal(t, "match:tuner-*", u.Rule)
	require.Equal(t, tune.op, u.Endpoint)
}

// Two sidecars on one Redis send each event once: the crossings (reported by
// the ledger's settlement on the replica whose charge crossed) and the
// refusals of a client refused on both.
func TestE2EAlertWebhooksTwoReplicas(t *testing.T) {
	rc := &webhookReceiver{t: t, secret: []byte("sk-upstream-secret")}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	yaml := e2eYAML("    - {client_id: shared, daily_limit_usd: 0.50}\n", priceyPricing+"loop_detection: {enabled: false}\n"+
		fmt.Sprintf("alerts: {webhooks: [%q], secret_env: OPENAI_API_KEY}\n", hook.URL)+
		fmt.Sprintf("store: {redis_url: \"redis://%s/0\"}\n", redistest.Start(t)))
	replicas := []*stack{startStack(t, yaml, nil), startStack(t, yaml, nil)}
	refused := map[int]int{}
	for i := 0; refused[0] < 2 || refused[1] < 2; i++ {
		require.Less(t, i, 40, "never refused on both replicas")
		r := replicas[i%2].do(t, priceyCall("shared", 5))
		if r.status == http.StatusPaymentRequired {
			refused[i%2]++
			continue
		}
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	require.Eventually(t, func() bool {
		evs := rc.byType()
		return len(evs[alerts.TypeThresholdCrossed]) == 2 && len(evs[alerts.TypeBudgetExceeded]) == 1
	}, 10*time.Second, 10*time.Millisecond, "events: %v", rc.byType())
	time.Sleep(200 * time.Millisecond) // and no more arrive
	evs := rc.byType()
	require.Len(t, evs[alerts.TypeThresholdCrossed], 2, "80%% and 100%%, once each")
	require.Len(t, evs[alerts.TypeBudgetExceeded], 1, "once, though both replicas refused")
}
