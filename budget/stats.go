package budget

import (
	"sort"
	"strconv"
	"strings"
)

// sortModels orders models by cost descending, then by name.
func sortModels(ms []ModelStats) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].CostNano != ms[j].CostNano {
			return ms[i].CostNano > ms[j].CostNano
		}
		return ms[i].Model < ms[j].Model
	})
}

// Day hash field names, shared by the Redis script (see lua/settle.lua) and the parser.
const (
	fieldSpent     = "spent"
	fieldRequests  = "req"
	fieldFailed    = "fail"
	fieldEstimated = "est"
	fieldEstCost   = "estc" // cost charged from estimates
	modelPrefix    = "m|"   // "m|<model>|<counter>"
)

// parseDayHash turns a Redis day hash into DayStats. Unknown fields (alert marks) are
// skipped; unparsable numbers count as 0 rather than failing a read-only query.
func parseDayHash(day string, h map[string]string) DayStats {
	ds := DayStats{Day: day}
	models := map[string]*ModelStats{}
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
			m = &ModelStats{Model: name}
			models[name] = m
		}
		switch counter {
		case "req":
			m.Requests = n
		case "fail":
			m.Failed = n
		case "est":
			m.Estimated = n
		case "p":
			m.Tokens.Prompt = n
		case "c":
			m.Tokens.Cached = n
		case "o":
			m.Tokens.Completion = n
		case "r":
			m.Tokens.Reasoning = n
		case "cost":
			m.CostNano = n
		case "estc":
			m.EstimatedNano = n
		}
	}
	for _, m := range models {
		ds.Models = append(ds.Models, *m)
	}
	sortModels(ds.Models)
	return ds
}
