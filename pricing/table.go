package pricing

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// Table is a price table keyed by model name. It is immutable after
// construction and safe for concurrent use.
type Table struct {
	// raw holds the prices as loaded or given to With; With rebuilds from it.
	raw map[string]Price
	// prices is raw with dated rows completed from their alias (see complete).
	prices map[string]Price
	// lower maps a lower-cased name to its key in prices (names are
	// case-insensitive); on a clash the smallest key wins.
	lower map[string]string
	// ftLatest maps a lower-cased "ft:BASE" to the newest "ft:BASE-<date>" key.
	ftLatest map[string]string
	// images maps a lower-cased model to its per-size image prices.
	images map[string]imageSet
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

// newTable builds the lookup indexes over raw, which it takes ownership of.
func newTable(raw map[string]Price) *Table {
	t := &Table{raw: raw, prices: make(map[string]Price, len(raw)), lower: make(map[string]string, len(raw)),
		ftLatest: make(map[string]string)}
	for k := range raw {
		l := strings.ToLower(k)
		if prev, ok := t.lower[l]; !ok || k < prev {
			t.lower[l] = k
		}
	}
	for k, p := range raw {
		t.prices[k] = t.complete(k, p)
		l := strings.ToLower(k)
		if !strings.HasPrefix(l, "ft:") || strings.Contains(l[3:], ":") {
			continue
		}
		if u, ok := undated(l); ok {
			if prev, ok := t.ftLatest[u]; !ok || newer(k, prev) {
				t.ftLatest[u] = k
			}
		}
	}
	t.images = indexImages(t.prices)
	return t
}

// complete gives a dated row (name-YYYY-MM-DD, name-MMDD) the flex, priority,
// batch and long-context prices it lacks from its alias row: LiteLLM lists
// them on the alias only, but OpenAI bills the snapshot the same. When the
// two rows' standard prices differ, each inherited price is scaled by the
// dated/alias ratio of its standard price (a plain copy when they agree).
func (t *Table) complete(name string, p Price) Price {
	u, ok := undated(name)
	if !ok {
		return p
	}
	k, ok := t.rawKey(u)
	if !ok {
		return p
	}
	a := t.raw[k]
	inherit := func(dst **TierPrice, src *TierPrice) {
		if *dst == nil && src != nil {
			s := scaleTier(*src, p.Standard, a.Standard)
			*dst = &s
		}
	}
	inherit(&p.Flex, a.Flex)
	inherit(&p.Priority, a.Priority)
	inherit(&p.Batch, a.Batch)
	if p.LongContext == nil && a.LongContext != nil {
		inherit(&p.LongContext, a.LongContext)
		p.LongContextThreshold = a.LongContextThreshold
	}
	return p
}

func (t *Table) rawKey(name string) (string, bool) {
	if _, ok := t.raw[name]; ok {
		return name, true
	}
	k, ok := t.lower[strings.ToLower(name)]
	return k, ok
}

// newer orders dated fine-tune keys: a later -YYYY-MM-DD first, any
// -YYYY-MM-DD before a -MMDD (which carries no year), then the smaller key.
func newer(a, b string) bool {
	da, db := dateOf(a), dateOf(b)
	if da != db {
		return da > db
	}
	return a < b
}

func dateOf(name string) string {
	u, _ := undated(name)
	d := name[len(u)+1:]
	if len(d) == 4 {
		return "0000-" + d
	}
	return d
}

// Len returns the number of models in the table.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.prices)
}

// Lookup finds the price of model; see the package doc for the rules
// (case-insensitive names, provider prefixes, dated snapshots, fine-tunes).
func (t *Table) Lookup(model string) (Price, bool) {
	p, ok := t.find(model)
	if !ok {
		return Price{}, false
	}
	return p.clone(), true
}

// Over returns a new table holding t's rows over base's: a model in both takes
// t's row, a model only in base keeps base's. A newer LiteLLM file loaded over
// the embedded table so keeps the legacy and supplement rows the file lacks.
func (t *Table) Over(base *Table) *Table {
	raw := make(map[string]Price, base.Len()+t.Len())
	if base != nil {
		for k, v := range base.raw {
			raw[k] = v
		}
	}
	if t != nil {
		for k, v := range t.raw {
			raw[k] = v
		}
	}
	return newTable(raw)
}

// With returns a new table holding t's prices overridden and extended by
// custom. The custom prices are copied, and a text-only TierPrice in them
// (see TierPrice) gets its audio, image and cache-write prices from its text
// prices; t is unchanged. Keys are trimmed and empty keys ignored.
func (t *Table) With(custom map[string]Price) *Table {
	raw := make(map[string]Price, t.Len()+len(custom))
	if t != nil {
		for k, v := range t.raw {
			raw[k] = v // entries are never mutated, so sharing is safe
		}
	}
	for k, v := range custom {
		if k = strings.TrimSpace(k); k != "" {
			raw[k] = v.clone().textDefaults()
		}
	}
	return newTable(raw)
}
