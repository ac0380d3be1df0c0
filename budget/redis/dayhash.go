package redis

import (
	"strconv"
	"strings"

	"github.com/proxide/proxide/budget"
)

// Day hash field names, shared by the scripts (count in lua/common.lua, lua/settle.lua),
// the batcher's global aggregates and the parser. A model's counters are
// "m|<model>|<counter>".
const (
	fieldSpent     = "spent"
	fieldRequests  = "req"
	fieldFailed    = "fail"
	fieldEstimated = "est"
	fieldEstCost   = "estc" // cost charged from estimates
	modelPrefix    = "m|"

	counterRequests   = "req"
	counterFailed     = "fail"
	counterEstimated  = "est"
	counterPrompt     = "p"
	counterCached     = "c"
	counterCompletion = "o"
	counterReasoning  = "r"
	counterCost       = "cost"
	counterEstCost    = "estc"
)

// modelFields are a model's counters with their field suffix, in one list for the parser
// and the batcher.
var modelFields = [...]struct {
	counter string
	get     func(m *budget.ModelStats) *int64
}{
	{counterRequests, func(m *budget.ModelStats) *int64 { return &m.Requests }},
	{counterFailed, func(m *budget.ModelStats) *int64 { return &m.Failed }},
	{counterEstimated, func(m *budget.ModelStats) *int64 { return &m.Estimated }},
	{counterPrompt, func(m *budget.ModelStats) *int64 { return &m.Tokens.Prompt }},
	{counterCached, func(m *budget.ModelStats) *int64 { return &m.Tokens.Cached }},
	{counterCompletion, func(m *budget.ModelStats) *int64 { return &m.Tokens.Completion }},
	{counterReasoning, func(m *budget.ModelStats) *int64 { return &m.Tokens.Reasoning }},
	{counterCost, func(m *budget.ModelStats) *int64 { return &m.CostNano }},
	{counterEstCost, func(m *budget.ModelStats) *int64 { return &m.EstimatedNano }},
}

// parseDayHash turns a Redis day hash into DayStats. Unknown fields (alert marks) are
// skipped; unparsable numbers count as 0 rather than failing a read-only query.
func parseDayHash(day string, h map[string]string) budget.DayStats {
	ds := budget.DayStats{Day: day}
	models := map[string]*budget.ModelStats{}
	for f, v := range h {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch f {
		case fieldSpent:
			ds.CostNano = n
			continue
		case fieldRequests:
			ds.Requests = n
			continue
		case fieldFailed:
			ds.Failed = n
			continue
		case fieldEstCost:
			ds.EstimatedNano = n
			continue
		}
		rest, ok := strings.CutPrefix(f, modelPrefix)
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, '|')
		if i < 0 {
			continue
		}
		name, counter := rest[:i], rest[i+1:]
		m := models[name]
		if m == nil {
			m = &budget.ModelStats{Model: name}
			models[name] = m
		}
		for _, mf := range modelFields {
			if mf.counter == counter {
				*mf.get(m) = n
				break
			}
		}
	}
	for _, m := range models {
		ds.Models = append(ds.Models, *m)
	}
	budget.SortModels(ds.Models)
	return ds
}
