package pricing

import "fmt"

// Options configures a Pricer.
type Options struct {
	// Table is the price table; nil = Default().
	Table *Table
	// Fallback prices models the table does not know; nil = they are refused
	// with ErrUnknownModel. A text-only fallback (see TierPrice) prices audio,
	// image and cache-write tokens at its text prices.
	Fallback *TierPrice
	// OnUnknown is called with the model name each time Lookup, LookupFor,
	// Cost or CostFor meets an unknown model, whether or not a fallback
	// applies (for a metric). Cost calls it once. May be nil.
	OnUnknown func(model string)
	// ToolFees overrides the per-call tool fees; nil = DefaultToolFees(),
	// with the 1g container session price taken from the table's
	// openai/container row when it has one. It is copied.
	ToolFees *ToolFees
}

// Pricer prices requests against a table. It is immutable and safe for
// concurrent use.
type Pricer struct {
	table     *Table
	fallback  *TierPrice
	onUnknown func(string)
	fees      ToolFees
}

// New returns a Pricer. The fallback price and tool fees are copied.
func New(opts Options) *Pricer {
	p := &Pricer{table: opts.Table, onUnknown: opts.OnUnknown}
	if p.table == nil {
		p.table = Default()
	}
	if opts.Fallback != nil {
		fb := opts.Fallback.textDefaults()
		p.fallback = &fb
	}
	if opts.ToolFees != nil {
		p.fees = opts.ToolFees.clone()
	} else {
		p.fees = DefaultToolFees()
		if row, ok := p.table.find(containerModel); ok && row.PerSession > 0 {
			p.fees.ContainerPerSession["1g"] = row.PerSession
		}
	}
	return p
}

// containerModel is LiteLLM's row for Code Interpreter containers.
const containerModel = "openai/container"

// Lookup resolves the price for (model, serviceTier). serviceTier "flex" or
// "priority" selects that tier when the model, or for a dated snapshot its
// alias, has it; anything else ("", "auto", "default", "scale") selects
// Standard. It applies no long-context, batch or regional price (see
// LookupFor). known=false means the model is unknown and the fallback price
// was used (info then holds only the fallback as Standard). err wraps
// ErrUnknownModel, naming the model, when the model is unknown and there is
// no fallback.
func (p *Pricer) Lookup(model, serviceTier string) (tp TierPrice, info Price, known bool, err error) {
	if price, ok := p.table.find(model); ok {
		return price.tier(serviceTier), price.clone(), true, nil
	}
	return p.unknownInfo(model)
}

// LookupFor is Lookup with every rule of Price.For: batch, service tier,
// long context and region. Use it for the reservation estimate, with
// q.PromptTokens the prompt's upper bound.
func (p *Pricer) LookupFor(model string, q Quote) (tp TierPrice, info Price, known bool, err error) {
	if price, ok := p.table.find(model); ok {
		return price.For(q), price.clone(), true, nil
	}
	return p.unknownInfo(model)
}

// Row is model's price row as LookupFor returns it, without the copy: its
// maps and tier pointers are the table's, shared by every caller — read it,
// never change it. known and err are as in Lookup (an unknown model's row
// holds only the fallback as Standard).
func (p *Pricer) Row(model string) (info Price, known bool, err error) {
	if price, ok := p.table.find(model); ok {
		return price, true, nil
	}
	_, info, known, err = p.unknownInfo(model)
	return info, known, err
}

// TierFor is LookupFor without the row: the prices that apply to q, and
// whether model is known (err as in Lookup). Callers that need only the
// prices skip the row's copy, maps included.
func (p *Pricer) TierFor(model string, q Quote) (tp TierPrice, known bool, err error) {
	if price, ok := p.table.find(model); ok {
		return price.For(q), true, nil
	}
	tp, err = p.unknown(model)
	return tp, false, err
}

func (p *Pricer) unknownInfo(model string) (TierPrice, Price, bool, error) {
	tp, err := p.unknown(model)
	if err != nil {
		return TierPrice{}, Price{}, false, err
	}
	return tp, Price{Standard: tp}, false, nil
}

// Cost prices usage for (model, serviceTier) with CostFor; a prompt above
// the model's long-context threshold is billed at its long-context prices.
// known and err are as in Lookup.
func (p *Pricer) Cost(model, serviceTier string, u Usage) (nanoUSD int64, known bool, err error) {
	return p.CostFor(model, Quote{ServiceTier: serviceTier}, u)
}

// CostFor prices usage at the prices Price.For(q) selects, in nano-USD,
// rounded as described in the package doc. The long-context decision uses
// u.PromptTokens, the billed prompt, not q.PromptTokens. An unknown model
// is priced at the fallback as is. known and err are as in Lookup.
func (p *Pricer) CostFor(model string, q Quote, u Usage) (nanoUSD int64, known bool, err error) {
	var tp TierPrice
	if price, ok := p.table.find(model); ok {
		q.PromptTokens = u.PromptTokens
		tp, known = price.For(q), true
	} else if tp, err = p.unknown(model); err != nil {
		return 0, false, err
	}
	nanoUSD, err = CostOf(tp, u)
	if err != nil {
		return 0, known, fmt.Errorf("pricing: model %q: %w", clip(model), err)
	}
	return nanoUSD, known, nil
}

func (p *Pricer) unknown(model string) (TierPrice, error) {
	if p.onUnknown != nil {
		p.onUnknown(model)
	}
	if p.fallback == nil {
		return TierPrice{}, fmt.Errorf("%w %q", ErrUnknownModel, clip(model))
	}
	return *p.fallback, nil
}

// ImagePrice is Table.ImagePrice on the Pricer's table: the nano-USD price
// of one image of size ("1024x1024") and quality. It does not call
// OnUnknown, and there is no fallback: known=false leaves the caller to
// price the request by its image tokens or refuse it.
func (p *Pricer) ImagePrice(model, size, quality string) (nanoPerImage int64, known bool) {
	return p.table.ImagePrice(model, size, quality)
}

// ImagePriceMax is Table.ImagePriceMax on the Pricer's table: the highest
// per-image price of model, the reservation for an image request.
func (p *Pricer) ImagePriceMax(model string) (nanoPerImage int64, known bool) {
	return p.table.ImagePriceMax(model)
}

// ContainerSession is the nano-USD price of one default (1g) Code
// Interpreter container session.
func (p *Pricer) ContainerSession() int64 { return p.fees.ContainerPerSession["1g"] }

// ToolFees returns a copy of the per-call tool fees in use.
func (p *Pricer) ToolFees() ToolFees { return p.fees.clone() }

// Fees returns the per-call tool fees in use without copying them: the
// request path reads them twice per request, and the copy (its maps
// included) was an allocation each time. They are shared by every caller
// and never change after New: read them, never modify them.
func (p *Pricer) Fees() *ToolFees { return &p.fees }
