package pricing

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// ToolFees are OpenAI's per-call fees for built-in tools, in nano-USD. The
// LiteLLM snapshot does not carry them for OpenAI (only the 1g container
// session), so they are kept here and can be overridden by config through
// Options.ToolFees. The search content tokens some tools add are ordinary
// prompt tokens and are priced by Usage, not here.
type ToolFees struct {
	// WebSearchPerCall is the web_search tool, every model.
	WebSearchPerCall int64
	// WebSearchPreviewPerCall is web_search_preview on non-reasoning models
	// (gpt-4o, gpt-4.1), WebSearchPreviewReasoningPerCall on reasoning models
	// (Price.Reasoning).
	WebSearchPreviewPerCall, WebSearchPreviewReasoningPerCall int64
	// FileSearchPerCall is the file_search tool.
	FileSearchPerCall int64
	// ContainerPerSession is a Code Interpreter container session by memory
	// limit: "1g" (the default), "4g", "16g", "64g".
	ContainerPerSession map[string]int64
}

// DefaultToolFees returns OpenAI's published tool prices
// (https://platform.openai.com/docs/pricing#built-in-tools, as of the
// snapshot date): web_search $10 per 1k calls; web_search_preview $25 per
// 1k calls for non-reasoning models and $10 per 1k for reasoning models;
// file_search $2.50 per 1k calls; containers $0.03 (1g, as the snapshot's
// openai/container row), $0.12 (4g), $0.48 (16g), $1.92 (64g) per session.
func DefaultToolFees() ToolFees {
	return ToolFees{
		WebSearchPerCall:                 10_000_000, // $10 / 1000 = $0.01
		WebSearchPreviewPerCall:          25_000_000, // $25 / 1000
		WebSearchPreviewReasoningPerCall: 10_000_000, // $10 / 1000
		FileSearchPerCall:                2_500_000,  // $2.50 / 1000
		ContainerPerSession: map[string]int64{
			"1g":  30_000_000,
			"4g":  120_000_000,
			"16g": 480_000_000,
			"64g": 1_920_000_000,
		},
	}
}

// WebSearchPreview is the web_search_preview fee for a model of that kind.
func (f ToolFees) WebSearchPreview(reasoning bool) int64 {
	if reasoning {
		return f.WebSearchPreviewReasoningPerCall
	}
	return f.WebSearchPreviewPerCall
}

// Validate reports every negative fee and a missing 1g container price,
// for config validation.
func (f ToolFees) Validate() error {
	var errs []error
	check := func(name string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%w: %s is negative (%d nano-USD)", ErrInvalidAmount, name, v))
		}
	}
	check("web_search_per_call", f.WebSearchPerCall)
	check("web_search_preview_per_call", f.WebSearchPreviewPerCall)
	check("web_search_preview_reasoning_per_call", f.WebSearchPreviewReasoningPerCall)
	check("file_search_per_call", f.FileSearchPerCall)
	for _, k := range slices.Sorted(maps.Keys(f.ContainerPerSession)) {
		check("container_per_session."+k, f.ContainerPerSession[k])
	}
	if _, ok := f.ContainerPerSession["1g"]; !ok {
		errs = append(errs, errors.New("pricing: container_per_session needs a 1g price (the default container)"))
	}
	return errors.Join(errs...)
}

func (f ToolFees) clone() ToolFees {
	f.ContainerPerSession = maps.Clone(f.ContainerPerSession)
	return f
}
