package alerts

import (
	"fmt"
	"strconv"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/loop"
)

// The notifications a gateway raises; each builds its Event and queues it.
// A Dispatcher is what extproc's alert sink calls.

// ThresholdCrossed reports an alert threshold crossed for the first time in
// its period (the ledger's settlement reports each once per period, on one
// replica).
func (d *Dispatcher) ThresholdCrossed(clientID, rule string, c budget.Crossing) {
	d.Notify(Event{Type: TypeThresholdCrossed, ClientID: clientID, Rule: rule, LimitType: string(c.Kind),
		Period: c.Period.Key, LimitUSD: usd(c.LimitNano), SpentUSD: usd(c.SpentNano), Threshold: ptr(c.Threshold)})
}

// BudgetExceeded reports a request refused for its budget, once per client,
// limit type and period.
func (d *Dispatcher) BudgetExceeded(clientID, rule string, ex budget.Exceeded, now time.Time) {
	d.Notify(Event{Type: TypeBudgetExceeded, ClientID: clientID, Rule: rule, LimitType: string(ex.Kind),
		Period: ex.Period.Key, LimitUSD: usd(ex.LimitNano), SpentUSD: usd(ex.SpentNano),
		dedupKey: "exceeded\x00" + clientID + "\x00" + string(ex.Kind) + "\x00" + ex.Period.Key,
		dedupTTL: untilPlusHour(ex.Period.End, now)})
}

// LoopDetected reports a new loop (not the requests of its cooldown), once
// per loop.
func (d *Dispatcher) LoopDetected(clientID, rule string, v loop.Verdict, blocked bool, now time.Time) {
	ev := Event{Type: TypeLoopDetected, ClientID: clientID, Rule: rule, LoopKind: v.Kind, Repeats: v.Repeats,
		Blocked:  ptr(blocked),
		dedupKey: "loop\x00" + clientID + "\x00" + strconv.FormatInt(v.Until.UnixMilli(), 10),
		dedupTTL: untilPlusHour(v.Until, now)}
	if !v.Until.IsZero() {
		ev.CooldownUntil = ptr(v.Until.UTC())
	}
	d.Notify(ev)
}

// UnmeteredAllowed reports a client using a paid endpoint Proxide lets
// through unmetered, once per client, endpoint and day.
func (d *Dispatcher) UnmeteredAllowed(clientID, rule, endpoint string, day budget.Period, now time.Time) {
	d.Notify(Event{Type: TypeUnmeteredAllowed, ClientID: clientID, Rule: rule, Endpoint: endpoint, Period: day.Key,
		dedupKey: "unmetered\x00" + clientID + "\x00" + endpoint + "\x00" + day.Key,
		dedupTTL: untilPlusHour(day.End, now)})
}

// untilPlusHour keeps a claim past the end of what it is about, so a replica
// whose clock runs a little behind does not send the event again.
func untilPlusHour(end, now time.Time) time.Duration {
	if d := end.Sub(now); d > 0 {
		return d + time.Hour
	}
	return time.Hour
}

// SlackText is the one-line message of ev for a Slack-compatible webhook.
func SlackText(ev Event) string {
	switch ev.Type {
	case TypeThresholdCrossed:
		return fmt.Sprintf("Proxide: client %#q crossed %s of its %s budget: $%.2f of $%.2f (%s, rule %s)",
			ev.ClientID, percent(ev.Threshold), ev.LimitType, deref(ev.SpentUSD), deref(ev.LimitUSD), ev.Period, ev.Rule)
	case TypeBudgetExceeded:
		return fmt.Sprintf("Proxide: client %#q is refused: %s budget of $%.2f exhausted ($%.2f, %s, rule %s)",
			ev.ClientID, ev.LimitType, deref(ev.LimitUSD), deref(ev.SpentUSD), ev.Period, ev.Rule)
	case TypeLoopDetected:
		action := "alert only"
		if ev.Blocked != nil && *ev.Blocked {
			action = "blocked"
		}
		return fmt.Sprintf("Proxide: client %#q is looping (%s, %d repeats; %s)", ev.ClientID, ev.LoopKind, ev.Repeats, action)
	case TypeUnmeteredAllowed:
		return fmt.Sprintf("Proxide: client %#q used %s, which is allowed unmetered (its cost is not on the ledger)", ev.ClientID, ev.Endpoint)
	}
	return "Proxide: " + ev.Type + " for client `" + ev.ClientID + "`"
}

func percent(f *float64) string {
	if f == nil {
		return "?"
	}
	return strconv.FormatFloat(*f*100, 'f', -1, 64) + "%"
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
