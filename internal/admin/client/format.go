package client

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proxide/proxide/internal/admin/api"
)

// Dollars formats an amount for people: at least 2 and at most 6 decimals,
// trailing zeros beyond the cents dropped ($0.50, $0.123457, $12.00); a
// positive amount under a micro-dollar is "<$0.000001".
func Dollars(usd float64) string {
	nano := int64(math.Round(usd * 1e9))
	sign := ""
	if nano < 0 {
		sign, nano = "-", -nano
	}
	micro := (nano + 500) / 1000 // round half up to 6 decimals
	if micro == 0 && nano > 0 {
		return "<" + sign + "$0.000001"
	}
	frac := fmt.Sprintf("%06d", micro%1_000_000)
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + "$" + strconv.FormatInt(micro/1_000_000, 10) + "." + frac
}

// limit formats an optional limit; "-" is unlimited.
func limit(usd *float64) string {
	if usd == nil {
		return "-"
	}
	return Dollars(*usd)
}

// percents formats alert thresholds as "80%,100%"; "none" for none.
func percents(ts []float64) string {
	if len(ts) == 0 {
		return "none"
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = strconv.FormatFloat(math.Round(t*1e4)/1e2, 'f', -1, 64) + "%"
	}
	return strings.Join(out, ",")
}

// table writes aligned columns; cells must not contain tabs or newlines.
type table struct {
	tw  *tabwriter.Writer
	err error // the first write error, which flush returns
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cleanCell(c)
	}
	if _, err := fmt.Fprintln(t.tw, strings.Join(cells, "\t")); err != nil && t.err == nil {
		t.err = err
	}
}

func (t *table) flush() error {
	if t.err != nil {
		return t.err
	}
	return t.tw.Flush()
}

// cleanCell keeps a client-supplied id from breaking the table layout.
func cleanCell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

func writeRules(w io.Writer, rules []api.RuleView) error {
	t := newTable(w, "KEY", "DAILY", "MONTHLY", "ACTION", "ALERTS", "LOOP", "SOURCE")
	for _, r := range rules {
		t.row(r.Key, limit(r.DailyLimitUSD), limit(r.MonthlyLimitUSD), r.Action, percents(r.AlertThresholds),
			loopSettings(r.LoopDetection), r.Source)
	}
	return t.flush()
}

// loopSettings shows a rule's own loop settings, e.g. "block window=90s
// repeats=3"; "-" when it inherits every one.
func loopSettings(l *api.LoopDetection) string {
	if l == nil {
		return "-"
	}
	var parts []string
	if l.Mode != "" {
		parts = append(parts, l.Mode)
	}
	for _, kv := range []struct{ k, v string }{
		{"window", l.Window},
		{"repeats", nonZero(strconv.Itoa(l.MaxRepeats))},
		{"similarity", nonZero(strconv.FormatFloat(l.Similarity, 'f', -1, 64))},
		{"cooldown", l.Cooldown},
	} {
		if kv.v != "" {
			parts = append(parts, kv.k+"="+kv.v)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func nonZero(s string) string {
	if s == "0" {
		return ""
	}
	return s
}

// timeCell shows an API time (RFC 3339) as "2006-01-02 15:04:05" UTC; "-" for none.
func timeCell(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return *s
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// maxExcerpt is how much of an excerpt a table shows, in runes.
const maxExcerpt = 48

// excerptCell puts an excerpt on one line and cuts it to maxExcerpt runes.
func excerptCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxExcerpt {
		s = string(r[:maxExcerpt-1]) + "…"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeLoops writes loop events; withClient adds the client column.
func writeLoops(w io.Writer, events []api.LoopEventView, withClient bool) error {
	header := []string{"TIME (UTC)", "CLIENT", "KIND", "REPEATS", "BLOCKED", "COOLDOWN UNTIL", "EXCERPT"}
	if !withClient {
		header = append(header[:1:1], header[2:]...)
	}
	t := newTable(w, header...)
	for _, e := range events {
		row := []string{timeCell(&e.At), e.ClientID, e.Kind, strconv.Itoa(e.Repeats), yesNo(e.Blocked), timeCell(e.CooldownUntil), excerptCell(e.Excerpt)}
		if !withClient {
			row = append(row[:1:1], row[2:]...)
		}
		t.row(row...)
	}
	return t.flush()
}

func writeClients(w io.Writer, clients []api.ClientView) error {
	t := newTable(w, "CLIENT", "STATE", "TODAY", "DAILY LIMIT", "MONTH", "MONTHLY LIMIT", "REQUESTS", "RULE")
	for _, c := range clients {
		t.row(c.ClientID, c.State, Dollars(c.Today.SpentUSD), limit(c.Today.LimitUSD), Dollars(c.Month.SpentUSD),
			limit(c.Month.LimitUSD), i64(c.Requests), c.Rule.Key)
	}
	return t.flush()
}

func writeSpend(w io.Writer, v api.SpendView) error {
	who := "all clients"
	if v.ClientID != "" {
		who = cleanCell(v.ClientID)
	}
	if _, err := fmt.Fprintf(w, "Spend of %s from %s to %s, by %s\n\n", who, v.From, v.To, v.GroupBy); err != nil {
		return err
	}
	first := "DATE"
	if v.GroupBy == api.GroupByModel {
		first = "MODEL"
	}
	t := newTable(w, first, "REQUESTS", "FAILED", "PROMPT", "CACHED", "COMPLETION", "REASONING", "COST")
	row := func(name string, r api.SpendRowView) {
		t.row(name, i64(r.Requests), i64(r.Failed), i64(r.PromptTokens), i64(r.CachedTokens),
			i64(r.CompletionTokens), i64(r.ReasoningTokens), Dollars(r.CostUSD))
	}
	for _, r := range v.Series {
		name := r.Date
		if v.GroupBy == api.GroupByModel {
			name = r.Model
		}
		row(name, r)
	}
	row("TOTAL", v.Total)
	return t.flush()
}
