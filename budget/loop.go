package budget

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// Bounds of the loop events a ledger keeps.
const (
	// MaxClientLoopEvents is how many events each client keeps (the newest).
	MaxClientLoopEvents = 50
	// MaxLoopEvents is how many events the all-clients listing keeps (the newest).
	MaxLoopEvents = 10_000
	// LoopEventTTL is how long events live after a client's (or any client's) last event.
	LoopEventTTL = 7 * 24 * time.Hour
	// MaxExcerptBytes caps LoopCheck.Excerpt; longer excerpts are cut on a rune boundary.
	MaxExcerptBytes = 256
	// DefaultLoopLimit and MaxLoopLimit bound LoopQuery.Limit.
	DefaultLoopLimit = 50
	MaxLoopLimit     = 1000
)

// LoopCheck asks Reserve to run loop detection in the same round trip, before the budget
// check: the client's window observes Sig (loop.Window.Observe semantics).
type LoopCheck struct {
	Sig loop.Signature
	// Config is the rule's effective loop config (rules.LoopSettings.Effective); it must be valid.
	Config loop.Config
	// Block refuses the request on a loop or during its cooldown (action block); without
	// it the verdict is only reported and a new loop recorded (action alert).
	Block bool
	// Excerpt is a short redacted excerpt (loop.Excerpt) stored with the event when a
	// loop fires; cut to MaxExcerptBytes, invalid UTF-8 replaced.
	Excerpt string
}

// LoopEvent is one detected loop (not the refused requests of its cooldown).
type LoopEvent struct {
	ClientID string
	// At is the request time of the request that completed the loop (ms precision, UTC).
	At time.Time
	// Kind is loop.KindExact, loop.KindSimilar or loop.KindCycle.
	Kind    string
	Repeats int
	// Exact and Sim are the request's loop.Signature.
	Exact, Sim uint64
	Excerpt    string
	// Blocked: the rule's action was block, so this request and the cooldown's were refused.
	Blocked bool
	// Until is the end of the cooldown (UTC); zero without a cooldown.
	Until time.Time
}

// LoopQuery selects one page of LoopEvents.
type LoopQuery struct {
	// ClientID limits the listing to one client; "" lists all clients.
	ClientID string
	// Limit is the page size, 1–1000; 0 means 50.
	Limit int
	// Cursor is "" for the first page, else the NextCursor of the previous page.
	Cursor string
}

// LoopPage is one page of LoopEvents.
type LoopPage struct {
	// Events are newest first (by At, then by their encoding, descending).
	Events []LoopEvent
	// NextCursor continues the listing; "" on the last page.
	NextCursor string
}

// LoopStore lists loop events and manages cooldowns (admin API); part of Store.
type LoopStore interface {
	// LoopEvents returns one page of events, newest first. A client's own listing is
	// immediate; the all-clients listing lags by up to 250 ms on Redis.
	LoopEvents(ctx context.Context, q LoopQuery) (LoopPage, error)
	// LoopState returns the end of the client's cooldown and whether it runs at now.
	LoopState(ctx context.Context, clientID string, now time.Time) (until time.Time, inCooldown bool, err error)
	// ClearLoop ends the client's cooldown and empties its window; true if there was
	// something to clear. Events stay.
	ClearLoop(ctx context.Context, clientID string) (bool, error)
}

// validate checks the loop part of a ReserveRequest.
func (c *LoopCheck) validate() error {
	if c == nil {
		return nil
	}
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	return nil
}

// excerpt returns the stored form of c.Excerpt.
func (c *LoopCheck) excerpt() string { return cutExcerpt(c.Excerpt) }

func cutExcerpt(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxExcerptBytes {
		return s
	}
	n := MaxExcerptBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Loop events are stored as one string each, the same in both stores and in the
// client's Redis list (written by redis/lua/reserve.lua) and the global zset (written by the
// batcher):
//
//	entry:  1|<at ms>|<kind code>|<repeats>|<until ms>|<blocked 0|1>|<exact hex16>|<sim hex16>|<excerpt>
//	member: <base64url(client id)>|<entry>
//
// The listing order is (at, member) descending; the cursor is base64url("l1|" + member)
// of the last event returned. The excerpt comes last because it may hold '|'.

// kind codes of loop_observe (window.lua).
var loopKinds = [...]string{"", loop.KindExact, loop.KindSimilar, loop.KindCycle}

func loopKindCode(kind string) int {
	for i, k := range loopKinds {
		if k == kind {
			return i
		}
	}
	return 0
}

// LoopEntryHead is what redis/lua/reserve.lua prepends to LoopEntryTail: the verdict's fields.
func LoopEntryHead(at int64, v loop.Verdict) string {
	until := int64(0)
	if !v.Until.IsZero() {
		until = v.Until.UnixMilli()
	}
	return "1|" + strconv.FormatInt(at, 10) + "|" + strconv.Itoa(loopKindCode(v.Kind)) + "|" + strconv.Itoa(v.Repeats) + "|" +
		strconv.FormatInt(until, 10)
}

// LoopEntryTail is the part of an entry Go knows before the script runs.
func LoopEntryTail(c *LoopCheck) string {
	blocked := "0"
	if c.Block {
		blocked = "1"
	}
	return "|" + blocked + "|" + hex16(c.Sig.Exact) + "|" + hex16(c.Sig.Sim) + "|" + c.excerpt()
}

func hex16(x uint64) string {
	s := strconv.FormatUint(x, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

// LoopMember is the global (all-clients) form of a client's entry.
func LoopMember(clientID, entry string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(clientID)) + "|" + entry
}

// errLoopEntry is returned for an entry that does not decode.
var errLoopEntry = errors.New("malformed loop event")

// parseLoopMember decodes a member into its event.
func parseLoopMember(member string) (LoopEvent, error) {
	tag, entry, ok := strings.Cut(member, "|")
	if !ok {
		return LoopEvent{}, errLoopEntry
	}
	id, err := base64.RawURLEncoding.DecodeString(tag)
	if err != nil || rules.ValidClientID(string(id)) != nil {
		return LoopEvent{}, errLoopEntry
	}
	return ParseLoopEntry(string(id), entry)
}

// ParseLoopEntry decodes a client's entry.
func ParseLoopEntry(clientID, entry string) (LoopEvent, error) {
	f := strings.SplitN(entry, "|", 9)
	if len(f) != 9 || f[0] != "1" {
		return LoopEvent{}, errLoopEntry
	}
	at, err1 := strconv.ParseInt(f[1], 10, 64)
	kind, err2 := strconv.Atoi(f[2])
	reps, err3 := strconv.Atoi(f[3])
	until, err4 := strconv.ParseInt(f[4], 10, 64)
	exact, err5 := strconv.ParseUint(f[6], 16, 64)
	sim, err6 := strconv.ParseUint(f[7], 16, 64)
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil || at <= 0 || until < 0 || reps < 0 ||
		kind < 1 || kind >= len(loopKinds) || (f[5] != "0" && f[5] != "1") {
		return LoopEvent{}, errLoopEntry
	}
	return LoopEvent{ClientID: clientID, At: UnixMilli(at), Kind: loopKinds[kind], Repeats: reps, Exact: exact, Sim: sim,
		Excerpt: f[8], Blocked: f[5] == "1", Until: UnixMilli(until)}, nil
}

// loopCursorVersion starts every loop cursor.
const loopCursorVersion = "l1|"

// LoopKey is an event's position in the listing order: its time (unix ms) and member.
type LoopKey struct {
	At     int64
	Member string
}

// Before reports whether k comes before o in the listing (newest first).
func (k LoopKey) Before(o LoopKey) bool {
	return k.At > o.At || (k.At == o.At && k.Member > o.Member)
}

func (k LoopKey) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(loopCursorVersion + k.Member))
}

// LoopPageQuery is a validated LoopQuery with its defaults applied.
type LoopPageQuery struct {
	LoopQuery
	// After is the cursor's event; nil on the first page.
	After *LoopKey
}

// Validate checks q and applies the defaults; a problem wraps ErrInvalid.
func (q LoopQuery) Validate() (LoopPageQuery, error) {
	var errs []error
	if q.ClientID != "" {
		if err := rules.ValidClientID(q.ClientID); err != nil {
			errs = append(errs, fmt.Errorf("client_id: %w", err))
		}
	}
	lq := LoopPageQuery{LoopQuery: q}
	switch {
	case q.Limit == 0:
		lq.Limit = DefaultLoopLimit
	case q.Limit < 1 || q.Limit > MaxLoopLimit:
		errs = append(errs, fmt.Errorf("limit: %d is outside [1, %d]", q.Limit, MaxLoopLimit))
	}
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		member, ok := strings.CutPrefix(string(raw), loopCursorVersion)
		var ev LoopEvent
		if err == nil && ok {
			ev, err = parseLoopMember(member)
		}
		if err != nil || !ok {
			errs = append(errs, errors.New("cursor: malformed; pass the next_cursor of the previous page unchanged"))
		} else {
			lq.After = &LoopKey{At: ev.At.UnixMilli(), Member: member}
		}
	}
	return lq, invalid("loop events", errs)
}

// Page cuts one page from keys sorted in listing order that all come after the cursor;
// keys may hold one more than the page, which only says that another page follows.
func (q LoopPageQuery) Page(keys []LoopKey) (LoopPage, error) {
	n := min(len(keys), q.Limit)
	out := LoopPage{Events: make([]LoopEvent, 0, n)}
	for _, k := range keys[:n] {
		ev, err := parseLoopMember(k.Member)
		if err != nil {
			return LoopPage{}, fmt.Errorf("loop event %q: %w", truncate(k.Member, 64), err)
		}
		out.Events = append(out.Events, ev)
	}
	if len(keys) > q.Limit {
		out.NextCursor = keys[n-1].cursor()
	}
	return out, nil
}

// ValidateLoopState checks the arguments of LoopStore.LoopState.
func ValidateLoopState(clientID string, now time.Time) error {
	var errs []error
	if err := rules.ValidClientID(clientID); err != nil {
		errs = append(errs, fmt.Errorf("client_id: %w", err))
	}
	if now.IsZero() {
		errs = append(errs, errors.New("now: zero time"))
	}
	return invalid("loop state", errs)
}

// ValidateClearLoop checks the argument of LoopStore.ClearLoop.
func ValidateClearLoop(clientID string) error {
	if err := rules.ValidClientID(clientID); err != nil {
		return invalid("clear loop", []error{fmt.Errorf("client_id: %w", err)})
	}
	return nil
}
