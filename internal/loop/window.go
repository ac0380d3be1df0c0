package loop

import "time"

// Kinds of loop reported in Verdict.Kind.
const (
	KindExact   = "exact"   // the same canonical request again
	KindSimilar = "similar" // the same meaningful tail, up to volatile tokens and a few words
	KindCycle   = "cycle"   // a ping-pong between two or three states
)

// kind codes, as stored in the encoded Window and returned by window.lua.
const (
	codeNone uint8 = iota
	codeExact
	codeSimilar
	codeCycle
)

var kindNames = [...]string{"", KindExact, KindSimilar, KindCycle}

// Verdict is what Observe decided about one request.
type Verdict struct {
	// Loop is true when the request completes a loop (Cooldown false), or
	// arrives while the client is still in the cooldown of an earlier one
	// (Cooldown true).
	Loop bool
	// Cooldown is true when the client was already flagged: the request was
	// neither compared nor recorded. With action block the caller refuses
	// it; with alert it lets it pass and raises no new event.
	Cooldown bool
	// Repeats counts the earlier requests this one repeats: for exact and
	// similar, how many within the window are alike (at least MaxRepeats when
	// Loop); for a cycle, the requests in it before this one. Without a loop
	// it is the similar count, which is useful as a metric.
	Repeats int
	// Kind is KindExact, KindSimilar or KindCycle when Loop, else "".
	Kind string
	// Until is the end of the cooldown when Loop (the retry-after); zero
	// otherwise.
	Until time.Time
}

// entry is one recorded request.
type entry struct {
	at  int64 // unix milliseconds
	sig Signature
}

// Window is one client's recent signatures and cooldown. The zero value is an
// empty window. It is not safe for concurrent use: the memory ledger guards
// it with the client's lock; the Redis ledger keeps its encoding (see
// MarshalBinary) under one key and runs the same algorithm in window.lua.
type Window struct {
	entries []entry // oldest first, at most MaxEntries
	until   int64   // cooldown end in unix ms; no cooldown when <= now
	kind    uint8   // code of the last loop
	repeats int     // Repeats of the last loop
}

// Observe records request s seen at now and says whether it makes a loop
// under c (which the caller has validated):
//   - during a cooldown it returns the stored loop with Cooldown set, and
//     records nothing;
//   - entries older than c.Window are dropped;
//   - it is a loop when at least c.MaxRepeats earlier entries are exact or
//     similar (Similarity >= c.Similarity) to s ("exact" when that many are
//     exact), or when s completes a run of c.MaxRepeats+1 requests that
//     repeats with period 2 or 3 ("cycle");
//   - on a loop the window is emptied, so that after the cooldown the client
//     starts afresh, and the cooldown starts; otherwise s is recorded and
//     the oldest entries beyond MaxEntries are dropped.
func (w *Window) Observe(now time.Time, s Signature, c Config) Verdict {
	t := now.UnixMilli()
	if w.until > t {
		return Verdict{Loop: true, Cooldown: true, Repeats: w.repeats, Kind: kindNames[w.kind], Until: time.UnixMilli(w.until)}
	}
	w.prune(t, c.Window.Milliseconds())

	similar, exact := 0, 0
	for i := range w.entries {
		e := &w.entries[i].sig
		if s.Exact != 0 && e.Exact == s.Exact {
			exact++
			similar++
		} else if sketchSimilarity(s, *e) >= c.Similarity {
			similar++
		}
	}
	code, repeats := codeNone, similar
	switch {
	case similar >= c.MaxRepeats:
		code = codeSimilar
		if exact >= c.MaxRepeats {
			code = codeExact
		}
	default:
		if run := w.cycle(s, c); run > 0 {
			code, repeats = codeCycle, run-1
		}
	}
	if code == codeNone {
		w.record(t, s)
		return Verdict{Repeats: similar}
	}
	w.entries = w.entries[:0]
	w.until, w.kind, w.repeats = t+c.Cooldown.Milliseconds(), code, min(repeats, maxRepeatsCode)
	v := Verdict{Loop: true, Repeats: repeats, Kind: kindNames[code]}
	if c.Cooldown > 0 {
		v.Until = time.UnixMilli(w.until)
	}
	return v
}

// prune drops entries at least window ms old. It filters rather than cuts
// the front, so clocks that disagree between replicas cannot keep an old
// entry alive behind a newer one.
func (w *Window) prune(t, window int64) {
	kept := w.entries[:0]
	for _, e := range w.entries {
		if t-e.at < window {
			kept = append(kept, e)
		}
	}
	w.entries = kept
}

func (w *Window) record(t int64, s Signature) {
	if len(w.entries) == MaxEntries {
		w.entries = append(w.entries[:0], w.entries[1:]...)
	}
	w.entries = append(w.entries, entry{at: t, sig: s})
}

// alike is the match used by cycle detection.
func alike(a, b Signature, c Config) bool {
	return (a.Exact != 0 && a.Exact == b.Exact) || sketchSimilarity(a, b) >= c.Similarity
}

// cycle returns the length of the periodic run that s completes, counting s,
// when it is at least max(c.MaxRepeats+1, 2p) for a period p of 2 or 3; else
// 0. The run is the longest suffix of entries+s in which every request is
// alike the one p before it. Its states need not be distinct: a run of one
// state is caught earlier by the count, and states that look alike (an edit
// and its undo have the same words) still make a loop.
func (w *Window) cycle(s Signature, c Config) int {
	n := len(w.entries) + 1
	at := func(i int) Signature {
		if i == n-1 {
			return s
		}
		return w.entries[i].sig
	}
	need := c.MaxRepeats + 1
	for p := 2; p <= 3; p++ {
		if n < max(need, 2*p) {
			return 0
		}
		run := p
		for i := n - 1; i >= p && alike(at(i), at(i-p), c); i-- {
			run++
		}
		if run >= max(need, 2*p) {
			return run
		}
	}
	return 0
}

// Cooldown returns the end of the client's cooldown and whether it is still
// running at now.
func (w *Window) Cooldown(now time.Time) (until time.Time, active bool) {
	if w.until <= now.UnixMilli() {
		return time.Time{}, false
	}
	return time.UnixMilli(w.until), true
}

// Reset clears the window and any cooldown (the admin API's
// DELETE /v1/loops/{client_id}).
func (w *Window) Reset() { *w = Window{} }

// Idle reports that the window holds nothing that matters at now under c: no
// entry younger than c.Window and no running cooldown. The memory ledger can
// then drop it (Redis expires the key at the same point).
func (w *Window) Idle(now time.Time, c Config) bool {
	t := now.UnixMilli()
	if w.until > t {
		return false
	}
	for _, e := range w.entries {
		if t-e.at < c.Window.Milliseconds() {
			return false
		}
	}
	return true
}

// Len is the number of recorded signatures.
func (w *Window) Len() int { return len(w.entries) }
