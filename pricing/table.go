package pricing

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// TierPrice is the price of one service tier in nano-USD per 1M tokens.
// CachedInput is used as given, including 0 (free cached tokens): the loader
// sets it to Input when the file has no cache price, and callers building
// custom prices must do the same.
type TierPrice struct{ Input, CachedInput, Output int64 }

// Price is everything the table knows about one model.
type Price struct {
	Standard TierPrice
	// Flex and Priority are nil when the model has no such tier; then the
	// Standard price applies.
	Flex, Priority *TierPrice
	// Mode is chat, completion, embedding or responses.
	Mode string
	// MaxInputTokens and MaxOutputTokens are the context limits; 0 = unknown.
	MaxInputTokens, MaxOutputTokens int64
}

// clone returns p with its own copies of the tier prices, so callers cannot
// mutate a shared table through the pointers.
func (p Price) clone() Price {
	if p.Flex != nil {
		f := *p.Flex
		p.Flex = &f
	}
	if p.Priority != nil {
		q := *p.Priority
		p.Priority = &q
	}
	return p
}

// tier returns the price for an OpenAI service_tier value. "auto",
// "default", "scale" and anything unknown are billed at the standard price.
func (p *Price) tier(serviceTier string) TierPrice {
	serviceTier = strings.TrimSpace(serviceTier)
	switch {
	case p.Flex != nil && strings.EqualFold(serviceTier, "flex"):
		return *p.Flex
	case p.Priority != nil && strings.EqualFold(serviceTier, "priority"):
		return *p.Priority
	}
	return p.Standard
}

// Table is a price table keyed by model name. It is immutable after
// construction and safe for concurrent use.
type Table struct {
	prices map[string]Price
}

//go:embed data/openai.json
var embedded []byte

// defaultTable parses the embedded table once; it is shared read-only.
var defaultTable = sync.OnceValue(func() *Table {
	t, err := Parse(bytes.NewReader(embedded))
	if err != nil {
		// The embedded file is checked by the tests, so this is a broken
		// build, not a runtime condition.
		panic(fmt.Sprintf("pricing: embedded table %s is invalid: %v", Snapshot, err))
	}
	return t
})

// Default returns the embedded price table (snapshot [Snapshot]). It is parsed
// on first use and shared.
func Default() *Table { return defaultTable() }

// Len returns the number of models in the table.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.prices)
}

// Lookup finds the price of model. It tries, in order: the exact name (after
// trimming surrounding whitespace); the same rules without any provider prefix
// ("openai/gpt-4o" → "gpt-4o"); the name without a trailing date
// ("-2099-01-01" or "-0613"); and for fine-tunes "ft:BASE:org:suffix:id" the
// fine-tune price "ft:BASE" (undated too), then BASE itself. Names are
// case-sensitive.
func (t *Table) Lookup(model string) (Price, bool) {
	p, ok := t.find(model)
	if !ok {
		return Price{}, false
	}
	return p.clone(), true
}

// With returns a new table holding t's prices overridden and extended by
// custom. The custom prices are copied; t is unchanged. Keys are trimmed and
// empty keys ignored.
func (t *Table) With(custom map[string]Price) *Table {
	n := &Table{prices: make(map[string]Price, t.Len()+len(custom))}
	if t != nil {
		for k, v := range t.prices {
			n.prices[k] = v // entries are never mutated, so sharing is safe
		}
	}
	for k, v := range custom {
		if k = strings.TrimSpace(k); k != "" {
			n.prices[k] = v.clone()
		}
	}
	return n
}

// find resolves model without copying; the result shares t's tier pointers
// and must not be handed out.
func (t *Table) find(model string) (Price, bool) {
	if t == nil {
		return Price{}, false
	}
	name := strings.TrimSpace(model)
	if p, ok := t.prices[name]; ok { // the hot path: no allocation
		return p, true
	}
	if p, ok := t.resolveBare(name); ok {
		return p, true
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			if p, ok := t.resolveBare(name[i+1:]); ok {
				return p, true
			}
		}
	}
	return Price{}, false
}

// resolveBare applies the exact, fine-tune and undated rules to one name.
func (t *Table) resolveBare(name string) (Price, bool) {
	if rest, ok := strings.CutPrefix(name, "ft:"); ok {
		// OpenAI bills fine-tuned inference at the fine-tune price of the
		// base model, which LiteLLM lists as "ft:BASE"; the base model's own
		// price is the last resort.
		base, _, _ := strings.Cut(rest, ":")
		if base == "" {
			return Price{}, false
		}
		if p, ok := t.prices["ft:"+base]; ok {
			return p, true
		}
		if u, ok := undated(base); ok {
			if p, ok := t.prices["ft:"+u]; ok {
				return p, true
			}
		}
		return t.undatedOrExact(base)
	}
	return t.undatedOrExact(name)
}

func (t *Table) undatedOrExact(name string) (Price, bool) {
	if name == "" {
		return Price{}, false
	}
	if p, ok := t.prices[name]; ok {
		return p, true
	}
	if u, ok := undated(name); ok {
		if p, ok := t.prices[u]; ok {
			return p, true
		}
	}
	return Price{}, false
}

// undated strips a trailing "-YYYY-MM-DD" or "-MMDD" snapshot suffix.
func undated(name string) (string, bool) {
	n := len(name)
	if n > 11 && name[n-11] == '-' && digits(name[n-10:n-6]) && name[n-6] == '-' &&
		digits(name[n-5:n-3]) && name[n-3] == '-' && digits(name[n-2:]) {
		return name[:n-11], true
	}
	if n > 5 && name[n-5] == '-' && digits(name[n-4:]) {
		return name[:n-5], true
	}
	return "", false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
