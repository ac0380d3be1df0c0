// Package eval replays the labelled corpus through the request parser, the
// signature and the per-client window, exactly as the gateway does, and
// summarises detection: the confusion matrix, how many requests each loop got
// through, and which traces were missed or wrongly flagged.
package eval

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/proxide/proxide/internal/loop"
	"github.com/proxide/proxide/internal/loop/corpus"
	"github.com/proxide/proxide/internal/usage"
)

// Outcome is the replay of one trace.
type Outcome struct {
	Trace *corpus.Trace
	// Flagged is the index of the first request that completed a loop, or -1.
	Flagged int
	// Kind is the kind of that loop.
	Kind string
	// Requests is, for a loop detected at or after its onset, the number of
	// looping requests sent up to and including the flagged one (the flagged
	// one is blocked); 0 otherwise.
	Requests int
}

// Detected reports a loop trace flagged at or after its onset.
func (o Outcome) Detected() bool {
	return o.Trace.Label == corpus.LabelLoop && o.Flagged >= o.Trace.Onset
}

// epoch anchors the replay clock; traces carry relative times.
var epoch = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

// endpoints maps the corpus's endpoint names.
var endpoints = map[string]usage.Endpoint{
	corpus.EndpointChat:      usage.ChatCompletions,
	corpus.EndpointResponses: usage.Responses,
}

// Replay runs every trace through ParseRequest, Compute and one Window per
// client, all traces of a client in time order, under c.
func Replay(traces []corpus.Trace, c loop.Config) ([]Outcome, error) {
	out := make([]Outcome, len(traces))
	type ev struct {
		trace, req int
		at         int64
	}
	byClient := map[string][]ev{}
	var clients []string
	for ti := range traces {
		t := &traces[ti]
		out[ti] = Outcome{Trace: t, Flagged: -1}
		if _, ok := byClient[t.Client]; !ok {
			clients = append(clients, t.Client)
		}
		for ri, r := range t.Requests {
			byClient[t.Client] = append(byClient[t.Client], ev{ti, ri, r.At})
		}
	}
	opts := usage.Options{ExactPromptBytes: 1} // the token estimate plays no part here
	for _, cl := range clients {
		evs := byClient[cl]
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
		var w loop.Window
		for _, e := range evs {
			t := &traces[e.trace]
			r := t.Requests[e.req]
			req, err := usage.ParseRequest(endpoints[r.Endpoint], r.Body, opts)
			if err != nil {
				return nil, fmt.Errorf("eval: trace %s request %d: %w", t.ID, e.req, err)
			}
			v := w.Observe(epoch.Add(time.Duration(r.At)*time.Millisecond), loop.Compute(req), c)
			o := &out[e.trace]
			if v.Loop && !v.Cooldown && o.Flagged < 0 {
				o.Flagged, o.Kind = e.req, v.Kind
				if o.Detected() {
					o.Requests = e.req - t.Onset + 1
				}
			}
		}
	}
	return out, nil
}

// Summary aggregates outcomes.
type Summary struct {
	Loops, Legit int
	// Detected loops, and those stopped within MaxRepeats+2 looping requests.
	Detected, InTime int
	// Early: loop traces flagged before their onset (counted as misses).
	Early int
	// FalsePositives: legit traces flagged at all.
	FalsePositives int
	// ToDetection[n] counts loops detected at their n-th looping request.
	ToDetection map[int]int
	// ByKind holds per-kind counts: traces, flagged, in time.
	ByKind map[string]*KindStats
	// Misses and FalseIDs list the traces to look at.
	Misses, FalseIDs []string
}

// KindStats are one kind's counts.
type KindStats struct {
	Label                             string
	Traces, Flagged, Detected, InTime int
	// MinReq, MaxReq and TotalReq describe the requests to detection.
	MinReq, MaxReq, TotalReq int
}

// Summarize counts outcomes (of one split, or all) under c.
func Summarize(outs []Outcome, c loop.Config) Summary {
	s := Summary{ToDetection: map[int]int{}, ByKind: map[string]*KindStats{}}
	for _, o := range outs {
		t := o.Trace
		k := s.ByKind[t.Kind]
		if k == nil {
			k = &KindStats{Label: t.Label, MinReq: 1 << 30}
			s.ByKind[t.Kind] = k
		}
		k.Traces++
		if o.Flagged >= 0 {
			k.Flagged++
		}
		if t.Label == corpus.LabelLegit {
			s.Legit++
			if o.Flagged >= 0 {
				s.FalsePositives++
				s.FalseIDs = append(s.FalseIDs, fmt.Sprintf("%s@%d(%s)", t.ID, o.Flagged, o.Kind))
			}
			continue
		}
		s.Loops++
		switch {
		case o.Detected():
			s.Detected++
			k.Detected++
			s.ToDetection[o.Requests]++
			k.MinReq, k.MaxReq = min(k.MinReq, o.Requests), max(k.MaxReq, o.Requests)
			k.TotalReq += o.Requests
			if o.Requests <= c.MaxRepeats+2 {
				s.InTime++
				k.InTime++
			} else {
				s.Misses = append(s.Misses, fmt.Sprintf("%s(late:%d)", t.ID, o.Requests))
			}
		case o.Flagged >= 0:
			s.Early++
			s.Misses = append(s.Misses, fmt.Sprintf("%s(early@%d)", t.ID, o.Flagged))
		default:
			s.Misses = append(s.Misses, t.ID+"(missed)")
		}
	}
	slices.Sort(s.Misses)
	slices.Sort(s.FalseIDs)
	return s
}

// Filter returns the outcomes of one split ("" for all).
func Filter(outs []Outcome, split string) []Outcome {
	if split == "" {
		return outs
	}
	var r []Outcome
	for _, o := range outs {
		if o.Trace.Split == split {
			r = append(r, o)
		}
	}
	return r
}

// DetectionRate is the share of loops stopped within MaxRepeats+2 requests.
func (s Summary) DetectionRate() float64 { return ratio(s.InTime, s.Loops) }

// FalsePositiveRate is the share of legit traces ever flagged.
func (s Summary) FalsePositiveRate() float64 { return ratio(s.FalsePositives, s.Legit) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
