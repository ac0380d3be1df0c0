package resilient

import (
	"context"
	"errors"
	"os"

	"github.com/proxide/proxide/budget"
)

// buffer keeps a settlement the store could not take: in memory while there is room, and
// in the spill directory when there is one. lost says it could be kept nowhere; n is the
// number buffered.
func (r *Ledger) buffer(s budget.SettleRequest) (lost bool, n int) {
	s.Rule = s.Rule.Clone()
	b := buffered{req: s, at: r.now()}
	r.mu.Lock()
	defer r.mu.Unlock()
	inMemory := len(r.buf) < r.maxBuffered
	if r.spill != nil {
		if err := r.spill.append(b, !inMemory); err != nil {
			r.log.Error("budget: cannot write a settlement to the spill directory", "id", s.ID, "error", err)
			if !inMemory {
				return true, len(r.buf) + r.spill.diskOnly()
			}
		} else if !inMemory {
			return false, len(r.buf) + r.spill.diskOnly()
		}
	} else if !inMemory {
		return true, len(r.buf)
	}
	r.buf = append(r.buf, b)
	n = len(r.buf)
	if r.spill != nil {
		n += r.spill.diskOnly()
	}
	return false, n
}

// replay sends one buffered settlement to the store.
func (r *Ledger) replay(ctx context.Context, b buffered) error {
	res, err := r.inner.Settle(ctx, b.req)
	if err != nil && !errors.Is(err, budget.ErrInvalid) {
		r.trip("replay", err)
		return err
	}
	if err != nil { // cannot happen for a request that was valid once; never retry it
		r.log.Error("budget: dropping invalid buffered settlement", "id", b.req.ID, "client_id", b.req.ClientID, "error", err)
	}
	for _, c := range res.Crossings {
		r.log.Warn("budget: alert threshold crossed during replay", "client_id", b.req.ClientID,
			"kind", c.Kind, "threshold", c.Threshold, "spent_nano", c.SpentNano, "limit_nano", c.LimitNano)
	}
	r.recovered()
	return nil
}

// flushDiskLocked runs once memory is drained, with mu held; it returns with mu
// released. The active segment is closed (deleted when memory held all of it), then the
// segments whose entries memory did not hold are replayed from disk, oldest first, and
// deleted. It returns how many settlements it replayed.
func (r *Ledger) flushDiskLocked(ctx context.Context) (int, error) {
	if r.spill == nil {
		r.mu.Unlock()
		return 0, nil
	}
	if err := r.spill.rotate(); err != nil {
		r.log.Error("budget: spill segment", "error", err)
	}
	pending := append([]pendingSegment(nil), r.spill.pending...)
	r.mu.Unlock()
	replayed := 0
	for _, p := range pending {
		err := readSegment(p.name, func(b buffered) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.replay(ctx, b); err != nil {
				return err
			}
			replayed++
			return nil
		}, func(line int, err error) {
			r.log.Error("budget: unreadable settlement in the spill directory, skipped", "file", p.name, "line", line, "error", err)
		})
		if err != nil {
			return replayed, err
		}
		if err := os.Remove(p.name); err != nil {
			r.log.Error("budget: spill segment replayed but not removed", "file", p.name, "error", err)
		}
		r.mu.Lock()
		r.spill.pending = r.spill.pending[1:] // only this loop removes, oldest first
		r.mu.Unlock()
	}
	return replayed, nil
}

// syncSpill fsyncs the active spill segment (group commit, once per RetryEvery): a kill
// of the process loses nothing written, a crash of the machine at most this interval.
func (r *Ledger) syncSpill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spill == nil {
		return
	}
	if err := r.spill.sync(); err != nil {
		r.log.Error("budget: spill fsync", "error", err)
	}
}
