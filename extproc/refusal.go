package extproc

import (
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/loop"
)

// refusal is why a client is refused: a budget (exceeded) or a loop (loop,
// detected over window).
type refusal struct {
	exceeded *budget.Exceeded
	loop     *loop.Verdict
	window   time.Duration
}

// refused asks the ledger whether clientID is certain to be refused now (its
// settled spend is over a limit, or it is in a loop cooldown), so the request
// is answered at its headers without a round trip or reading its body.
func (s *Server) refused(clientID string, now time.Time) (refusal, bool) {
	r, ok := s.opts.Ledger.Refused(clientID, now)
	if !ok {
		return refusal{}, false
	}
	return refusal{exceeded: r.Exceeded, loop: r.Loop, window: r.Window}, true
}
