package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/internal/loop/corpus"
)

// fakeClock is a settable clock shared by the gateway and the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// TestE2ELoopCorpus replays the labelled loop corpus (loop/testdata) through
// the Envoy stand-in, a real sidecar on the Redis ledger (so the window runs
// as Lua inside the reserve script) and the fake upstream, on a fake clock
// that follows each trace's timestamps. Targets of the loop-detection issue:
// ≥ 95% of loops stopped within max_repeats+2 requests of their onset, ≤ 1%
// of legitimate traces ever refused.
func TestE2ELoopCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 4,000+ requests")
	}
	traces, err := corpus.ReadFile(filepath.Join("..", "..", "internal", "loop", "testdata", "corpus.jsonl.gz"))
	require.NoError(t, err)
	clock := &fakeClock{now: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}
	yaml := e2eBase + fmt.Sprintf("store: {redis_url: \"redis://%s/0\"}\nloop_detection: {enabled: true}\n", redistest.Start(t))
	s := startStack(t, yaml, nil, withClock(clock.Now))
	cfg := s.app.cfg.Loop

	type result struct {
		kind, label string
		stoppedAt   int // requests after the onset up to and including the first 429; 0 = never
		statuses    map[int]int
	}
	var results []result
	base := clock.Now()
	for _, tr := range traces {
		r := result{kind: tr.Kind, label: tr.Label, statuses: map[int]int{}}
		var last int64
		for i, req := range tr.Requests {
			clock.Set(base.Add(time.Duration(req.At) * time.Millisecond))
			last = req.At
			path := "/openai/v1/chat/completions"
			if req.Endpoint == corpus.EndpointResponses {
				path = "/openai/v1/responses"
			}
			rep := s.do(t, call{path: path, client: tr.Client, body: string(req.Body)})
			r.statuses[rep.status]++
			if rep.status == http.StatusTooManyRequests && r.stoppedAt == 0 {
				var body struct{ Error map[string]any }
				require.NoError(t, json.Unmarshal(rep.body, &body))
				require.Equal(t, "loop_detected", body.Error["type"])
				require.Equal(t, tr.Client, body.Error["client_id"])
				require.NotEmpty(t, rep.header.Get("Retry-After"))
				r.stoppedAt = i - max(tr.Onset, 0) + 1
				if tr.Label == corpus.LabelLoop {
					break // the rest of a stopped loop would only meet the cooldown
				}
			}
			require.Contains(t, []int{200, 429}, rep.status, "trace %s request %d: %s", tr.ID, i, rep.body)
		}
		results = append(results, r)
		// The next trace starts after this one's cooldown could have ended.
		base = base.Add(time.Duration(last)*time.Millisecond + cfg.Cooldown + cfg.Window + time.Minute)
	}

	var loops, caught, inTime, legit, falsePos int
	dist := map[int]int{}
	perKind := map[string][2]int{}
	for _, r := range results {
		k := perKind[r.label+"/"+r.kind]
		k[0]++
		if r.label == corpus.LabelLoop {
			loops++
			if r.stoppedAt > 0 {
				caught++
				dist[r.stoppedAt]++
				k[1]++
				if r.stoppedAt <= cfg.MaxRepeats+2 {
					inTime++
				}
			}
		} else {
			legit++
			if r.stoppedAt > 0 {
				falsePos++
				k[1]++
			}
		}
		perKind[r.label+"/"+r.kind] = k
	}
	var lines []string
	for k, v := range perKind {
		lines = append(lines, fmt.Sprintf("  %-32s %3d traces, %3d refused", k, v[0], v[1]))
	}
	sort.Strings(lines)
	t.Logf("loop corpus through the Envoy stand-in and the Redis ledger:\n"+
		"  loops: %d, stopped: %d, within max_repeats+2 (%d): %d (%.1f%%)\n"+
		"  legit: %d, ever refused: %d (%.1f%%)\n  requests until stopped: %v\n%s",
		loops, caught, cfg.MaxRepeats+2, inTime, 100*float64(inTime)/float64(loops),
		legit, falsePos, 100*float64(falsePos)/float64(legit), dist, strings.Join(lines, "\n"))
	require.GreaterOrEqual(t, float64(inTime), 0.95*float64(loops))
	require.LessOrEqual(t, float64(falsePos), 0.01*float64(legit))
}
