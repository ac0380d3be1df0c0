package alerts

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Event types.
const (
	TypeThresholdCrossed = "budget.threshold_crossed"
	TypeBudgetExceeded   = "budget.exceeded"
	TypeLoopDetected     = "loop.detected"
	TypeUnmeteredAllowed = "endpoint.unmetered_allowed"
)

// Event is the JSON body POSTed to each webhook.
type Event struct {
	// ID is unique per event; receivers deduplicate retries by it.
	ID   string    `json:"id"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`

	ClientID string `json:"client_id"`
	// Rule is the key of the budget rule that applies: "client:<id>",
	// "match:<pattern>" or "default".
	Rule string `json:"rule"`

	// LimitType is "daily" or "monthly" for budget events; Period is the
	// period's key ("2026-12-02", "2026-12").
	LimitType string   `json:"limit_type,omitempty"`
	Period    string   `json:"period,omitempty"`
	LimitUSD  *float64 `json:"limit_usd,omitempty"`
	SpentUSD  *float64 `json:"spent_usd,omitempty"`
	// Threshold is the fraction of the limit crossed (threshold events).
	Threshold *float64 `json:"threshold,omitempty"`

	// Loop events: the kind of loop, the repeats seen, whether requests are
	// refused (action block) and when the cooldown ends.
	LoopKind      string     `json:"loop_kind,omitempty"`
	Repeats       int        `json:"repeats,omitempty"`
	Blocked       *bool      `json:"blocked,omitempty"`
	CooldownUntil *time.Time `json:"cooldown_until,omitempty"`

	// Endpoint is the unmetered endpoint used.
	Endpoint string `json:"endpoint,omitempty"`

	// dedupKey, when set, is claimed in the ledger before the event is
	// queued, so only one replica sends it.
	dedupKey string
	dedupTTL time.Duration
}

// newID returns a random event id.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "evt_" + hex.EncodeToString(b[:])
}

// usd converts nano-dollars to dollars for the wire.
func usd(nano int64) *float64 {
	v := float64(nano) / 1e9
	return &v
}

func ptr[T any](v T) *T { return &v }
