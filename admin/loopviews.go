package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proxide/proxide/budget"
)

// LoopDetection is a rule's loop detection in the REST API, in the body of
// POST /v1/budgets and in every rule shown. Every field is optional: absent
// or zero inherits the global loop_detection setting. Durations are Go
// duration strings ("60s", "5m", "1h30m").
type LoopDetection struct {
	// Mode is off, block or alert.
	Mode       string  `json:"mode,omitempty"`
	Window     string  `json:"window,omitempty"`
	MaxRepeats int     `json:"max_repeats,omitempty"`
	Similarity float64 `json:"similarity,omitempty"`
	Cooldown   string  `json:"cooldown,omitempty"`
}

// loopParam names a field of loop_detection the way the REST body spells it.
func loopParam(field string) string { return "loop_detection." + field }

// UnmarshalJSON refuses unknown fields and names every bad field with its
// path (loop_detection.window): the body's decoder cannot do either inside a
// nested object.
func (l *LoopDetection) UnmarshalJSON(b []byte) error {
	type plain LoopDetection
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field == "" {
			return fieldErr("loop_detection", "expected an object, got %s", typ.Value)
		}
		var fe *FieldError
		if errors.As(bodyError(err), &fe) && fe.Param != "" {
			return fieldErr(loopParam(fe.Param), "%s", fe.Message)
		}
		return fieldErr("loop_detection", "%v", err)
	}
	*l = LoopDetection(p)
	return nil
}

// settings parses the durations; the Service checks the ranges.
func (l LoopDetection) settings() (budget.LoopSettings, error) {
	s := budget.LoopSettings{Mode: l.Mode, MaxRepeats: l.MaxRepeats, Similarity: l.Similarity}
	var err error
	if s.Window, err = parseDuration("window", l.Window); err != nil {
		return budget.LoopSettings{}, err
	}
	if s.Cooldown, err = parseDuration("cooldown", l.Cooldown); err != nil {
		return budget.LoopSettings{}, err
	}
	return s, nil
}

func parseDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fieldErr(loopParam(field), "%q is not a duration (want e.g. 60s, 5m or 1h30m)", v)
	}
	return d, nil
}

// loopView shows a rule's loop settings; nil when it inherits all of them.
func loopView(l budget.LoopSettings) *LoopDetection {
	if l.IsZero() {
		return nil
	}
	return &LoopDetection{Mode: l.Mode, Window: FormatDuration(l.Window), MaxRepeats: l.MaxRepeats,
		Similarity: l.Similarity, Cooldown: FormatDuration(l.Cooldown)}
}

// FormatDuration writes d as a Go duration string without zero trailing
// units ("1m" rather than "1m0s"); "" for zero.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

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
