package budget

import (
	"cmp"
	"slices"
	"strings"
)

// The per-day and per-model counters are summed in one place: a settlement's counters
// (SettleRequest.Stats), added to a model's (ModelStats.Add) or a day's (DayStats.Add).
// The backends count settlements with them and the admin API sums days with them.

// Stats are the counters one settlement adds to its model: one request, failed and
// estimated when it was, its tokens and its cost. model is the normalised model name
// (ModelName).
func (s SettleRequest) Stats(model string) ModelStats {
	m := ModelStats{Model: model, Requests: 1, Tokens: s.Tokens, CostNano: s.ActualNano}
	if s.Failed {
		m.Failed = 1
	}
	if s.Estimated {
		m.Estimated, m.EstimatedNano = 1, s.ActualNano
	}
	return m
}

// Add adds o's counts to t, saturating.
func (t Tokens) Add(o Tokens) Tokens {
	return Tokens{Prompt: AddSat(t.Prompt, o.Prompt), Cached: AddSat(t.Cached, o.Cached),
		Completion: AddSat(t.Completion, o.Completion), Reasoning: AddSat(t.Reasoning, o.Reasoning)}
}

// Add adds o's counters to m (whatever o's model), saturating.
func (m *ModelStats) Add(o ModelStats) {
	m.Requests += o.Requests
	m.Failed += o.Failed
	m.Estimated += o.Estimated
	m.Tokens = m.Tokens.Add(o.Tokens)
	m.CostNano = AddSat(m.CostNano, o.CostNano)
	m.EstimatedNano = AddSat(m.EstimatedNano, o.EstimatedNano)
}

// Add adds o's counters to d and merges o's models into d's by name, keeping them sorted
// (SortModels). d.Day is kept.
func (d *DayStats) Add(o DayStats) {
	d.Requests += o.Requests
	d.Failed += o.Failed
	d.CostNano = AddSat(d.CostNano, o.CostNano)
	d.EstimatedNano = AddSat(d.EstimatedNano, o.EstimatedNano)
	for _, om := range o.Models {
		i := slices.IndexFunc(d.Models, func(m ModelStats) bool { return m.Model == om.Model })
		if i < 0 {
			d.Models = append(d.Models, ModelStats{Model: om.Model})
			i = len(d.Models) - 1
		}
		d.Models[i].Add(om)
	}
	SortModels(d.Models)
}

// Total sums the day's models: its estimated requests and its tokens (the day itself
// counts requests, failures and cost).
func (d DayStats) Total() ModelStats {
	var t ModelStats
	for _, m := range d.Models {
		t.Add(m)
	}
	return t
}

// SortModels orders models by cost descending, then by name.
func SortModels(ms []ModelStats) {
	slices.SortFunc(ms, func(a, b ModelStats) int {
		if c := cmp.Compare(b.CostNano, a.CostNano); c != 0 {
			return c
		}
		return strings.Compare(a.Model, b.Model)
	})
}
