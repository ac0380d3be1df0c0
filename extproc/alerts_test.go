package extproc

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/loop"
)

// recordingSink is an AlertSink that keeps the budget refusals it is told about.
type recordingSink struct {
	mu       sync.Mutex
	exceeded []budget.Exceeded
}

var _ AlertSink = (*recordingSink)(nil)

func (r *recordingSink) ThresholdCrossed(string, string, budget.Crossing) {}
func (r *recordingSink) BudgetExceeded(_, _ string, ex budget.Exceeded, _ time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exceeded = append(r.exceeded, ex)
}
func (r *recordingSink) LoopDetected(string, string, loop.Verdict, bool, time.Time)        {}
func (r *recordingSink) UnmeteredAllowed(string, string, string, budget.Period, time.Time) {}

// An exhausted budget raises budget.exceeded; a strict rule's "this request
// does not fit" leaves the budget unexhausted and raises none.
func TestBudgetRefusalAlerts(t *testing.T) {
	for name, doesNotFit := range map[string]bool{"exhausted": false, "does not fit": true} {
		t.Run(name, func(t *testing.T) {
			sink := &recordingSink{}
			f := newFixture(t, func(o *Options) { o.Alerts = sink })
			f.ledger.admit = func(r budget.ReserveRequest) (budget.Admission, error) {
				return budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Daily, LimitNano: 100, SpentNano: 90,
					Period: r.Periods.Day, DoesNotFit: doesNotFit}}, nil
			}
			out := f.run(t, nil, chatHeaders(), reqBody(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
			code, _, _ := immediateOf(t, out[len(out)-1])
			require.Equal(t, 402, code)
			if doesNotFit {
				require.Empty(t, sink.exceeded)
			} else {
				require.Len(t, sink.exceeded, 1)
			}
		})
	}
}
