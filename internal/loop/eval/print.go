package eval

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/proxide/proxide/internal/loop"
	"github.com/proxide/proxide/internal/loop/corpus"
	"github.com/proxide/proxide/internal/usage"
)

// Print writes the report of one split: the confusion matrix, the
// requests-to-detection distribution and the per-kind table. The report is
// built in memory and written at once, so a failed write is one error.
func Print(w io.Writer, title string, s Summary, c loop.Config) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("== %s: %d loop traces, %d legit traces\n\n", title, s.Loops, s.Legit)
	flaggedLoops := s.Detected + s.Early
	p("                 flagged   not flagged\n")
	p("  loop      %10d %13d\n", flaggedLoops, s.Loops-flaggedLoops)
	p("  legit     %10d %13d\n\n", s.FalsePositives, s.Legit-s.FalsePositives)
	p("  loops stopped within max_repeats+2 = %d requests: %d/%d = %.1f%% (target >= 95%%)\n",
		c.MaxRepeats+2, s.InTime, s.Loops, 100*s.DetectionRate())
	p("  legit traces ever flagged: %d/%d = %.1f%% (target <= 1%%)\n\n", s.FalsePositives, s.Legit, 100*s.FalsePositiveRate())

	p("  looping requests until stopped (the last one is refused):\n")
	var ns []int
	for n := range s.ToDetection {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	for _, n := range ns {
		p("    %3d  %-40s %d\n", n, strings.Repeat("#", min(s.ToDetection[n], 40)), s.ToDetection[n])
	}
	p("\n  %-20s %-6s %7s %8s %8s %14s\n", "kind", "label", "traces", "flagged", "in time", "requests min/mean/max")
	var kinds []string
	for k := range s.ByKind {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int {
		la, lb := s.ByKind[a].Label, s.ByKind[b].Label
		if la != lb {
			return strings.Compare(lb, la) // loops first
		}
		return strings.Compare(a, b)
	})
	for _, k := range kinds {
		st := s.ByKind[k]
		req := ""
		if st.Detected > 0 {
			req = fmt.Sprintf("%d/%.1f/%d", st.MinReq, float64(st.TotalReq)/float64(st.Detected), st.MaxReq)
		}
		inTime := "-"
		if st.Label == corpus.LabelLoop {
			inTime = fmt.Sprint(st.InTime)
		}
		p("  %-20s %-6s %7d %8d %8s %14s\n", k, st.Label, st.Traces, st.Flagged, inTime, req)
	}
	if len(s.Misses) > 0 {
		p("\n  loops not stopped in time: %s\n", strings.Join(s.Misses, " "))
	}
	if len(s.FalseIDs) > 0 {
		p("  legit traces flagged: %s\n", strings.Join(s.FalseIDs, " "))
	}
	p("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Explain replays one trace and prints, for each request, its signature, its
// similarity to the previous requests (most recent first) and the verdict:
// what to look at when a trace is missed or wrongly flagged.
func Explain(w io.Writer, t *corpus.Trace, c loop.Config) error {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s (%s, %s, onset %d, client %s)\n", t.ID, t.Label, t.Kind, t.Onset, t.Client)
	var (
		win  loop.Window
		sigs []loop.Signature
	)
	opts := usage.Options{ExactPromptBytes: 1}
	for i, r := range t.Requests {
		req, err := usage.ParseRequest(endpoints[r.Endpoint], r.Body, opts)
		if err != nil {
			return fmt.Errorf("eval: trace %s request %d: %w", t.ID, i, err)
		}
		s := loop.Compute(req)
		v := win.Observe(epoch.Add(time.Duration(r.At)*time.Millisecond), s, c)
		var sims []string
		for j := len(sigs) - 1; j >= 0 && j >= len(sigs)-8; j-- {
			sims = append(sims, fmt.Sprintf("%.2f", loop.Similarity(s, sigs[j])))
		}
		sigs = append(sigs, s)
		verdict := "-"
		switch {
		case v.Cooldown:
			verdict = "cooldown"
		case v.Loop:
			verdict = "LOOP:" + v.Kind
		}
		fmt.Fprintf(&b, "  %2d t=%6.1fs size=%4d sim=%016x %-13s rep=%d  vs prev: %s\n",
			i, float64(r.At)/1000, s.Size, s.Sim, verdict, v.Repeats, strings.Join(sims, " "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
