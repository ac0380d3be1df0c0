package admin

import (
	"fmt"

	"github.com/proxide/proxide/budget"
)

// LoopSignatureView identifies the request that completed a loop.
type LoopSignatureView struct {
	// Exact is the digest of the canonical request, 16 hex digits.
	Exact string `json:"exact"`
	// Sim is the similarity fingerprint of the request's tail, 16 hex digits.
	Sim string `json:"sim"`
}

// LoopEventView is one loop event: GET /v1/loops and recent_loops of
// GET /v1/clients/{client_id}.
type LoopEventView struct {
	ClientID string `json:"client_id"`
	// At is when the loop fired (RFC 3339, with fractional seconds when any).
	At string `json:"at"`
	// Kind is exact, similar or cycle.
	Kind    string            `json:"kind"`
	Repeats int               `json:"repeats"`
	Sig     LoopSignatureView `json:"signature"`
	// Excerpt is a short, redacted excerpt of the request.
	Excerpt string `json:"excerpt"`
	// Blocked is true when the request was refused (mode block).
	Blocked bool `json:"blocked"`
	// CooldownUntil (RFC 3339) is when the client's cooldown ends; null: none.
	CooldownUntil *string `json:"cooldown_until"`
}

// LoopListView is GET /v1/loops.
type LoopListView struct {
	// Loops are the events, newest first.
	Loops []LoopEventView `json:"loops"`
	// NextCursor fetches the next page (?cursor=); "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// ClearLoopView is DELETE /v1/loops/{client_id}.
type ClearLoopView struct {
	ClientID string `json:"client_id"`
	// Cleared is false when the client had no loop state.
	Cleared bool `json:"cleared"`
}

// hex16 writes a 64-bit signature as 16 lower-case hex digits.
func hex16(v uint64) string { return fmt.Sprintf("%016x", v) }

func loopEventView(e budget.LoopEvent) LoopEventView {
	v := LoopEventView{ClientID: e.ClientID, At: rfc3339Nano(e.At), Kind: e.Kind, Repeats: e.Repeats,
		Sig: LoopSignatureView{Exact: hex16(e.Exact), Sim: hex16(e.Sim)}, Excerpt: e.Excerpt, Blocked: e.Blocked}
	if u := rfc3339Nano(e.Until); u != "" {
		v.CooldownUntil = &u
	}
	return v
}

func loopListView(p budget.LoopPage) LoopListView {
	v := LoopListView{Loops: make([]LoopEventView, 0, len(p.Events)), NextCursor: p.NextCursor}
	for _, e := range p.Events {
		v.Loops = append(v.Loops, loopEventView(e))
	}
	return v
}
