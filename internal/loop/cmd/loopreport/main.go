// Command loopreport replays the labelled loop-detection corpus through the
// request parser, loop.Compute and a per-client loop.Window, and prints the
// confusion matrix, the requests-to-detection distribution and the per-kind
// results for the tuning split, the held-out split and both:
//
//	go run ./internal/loop/cmd/loopreport [-corpus internal/loop/testdata/corpus.jsonl.gz] [-sweep] [-trace ID]
//
// -trace ID prints one trace request by request (signature, similarity to
// the previous requests, verdict). -sweep also prints detection and false positives on the tuning split for a
// grid of similarity thresholds and max_repeats, which is how the defaults
// were chosen.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/proxide/proxide/internal/loop"
	"github.com/proxide/proxide/internal/loop/corpus"
	"github.com/proxide/proxide/internal/loop/eval"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loopreport:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("loopreport", flag.ContinueOnError)
	path := fs.String("corpus", "internal/loop/testdata/corpus.jsonl.gz", "corpus file (JSON lines, gzipped if .gz)")
	c := loop.DefaultConfig()
	fs.DurationVar(&c.Window, "window", c.Window, "window")
	fs.IntVar(&c.MaxRepeats, "max-repeats", c.MaxRepeats, "max_repeats")
	fs.Float64Var(&c.Similarity, "similarity", c.Similarity, "similarity threshold")
	fs.DurationVar(&c.Cooldown, "cooldown", c.Cooldown, "cooldown")
	sweep := fs.Bool("sweep", false, "print a threshold sweep on the tuning split")
	explain := fs.String("trace", "", "explain one trace request by request instead")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	traces, err := corpus.ReadFile(*path)
	if err != nil {
		return err
	}
	if *explain != "" {
		for i := range traces {
			if traces[i].ID == *explain {
				return eval.Explain(out, &traces[i], c)
			}
		}
		return fmt.Errorf("no trace %q", *explain)
	}
	outs, err := eval.Replay(traces, c)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "loop detection on %s: window=%s max_repeats=%d similarity=%v cooldown=%s\n\n", *path, c.Window, c.MaxRepeats, c.Similarity, c.Cooldown); err != nil {
		return err
	}
	for _, sp := range []struct{ title, split string }{
		{"tuning split (thresholds chosen here)", corpus.SplitTune},
		{"held-out split", corpus.SplitTest},
		{"all traces", ""},
	} {
		if err := eval.Print(out, sp.title, eval.Summarize(eval.Filter(outs, sp.split), c), c); err != nil {
			return err
		}
	}
	if *sweep {
		return printSweep(out, traces, c)
	}
	return nil
}

// report writes lines as they are computed (a sweep takes a while) and keeps
// the first write error, returned once at the end.
type report struct {
	w   io.Writer
	err error
}

func (r *report) printf(format string, args ...any) {
	if r.err == nil {
		_, r.err = fmt.Fprintf(r.w, format, args...)
	}
}

func printSweep(out io.Writer, traces []corpus.Trace, base loop.Config) error {
	var tune []corpus.Trace
	for _, t := range traces {
		if t.Split == corpus.SplitTune {
			tune = append(tune, t)
		}
	}
	r := &report{w: out}
	r.printf("== sweep on the tuning split (%d traces): stopped in time / legit flagged\n\n", len(tune))
	r.printf("  %-11s", "similarity")
	reps := []int{3, 4, 5, 6, 8}
	for _, n := range reps {
		r.printf("  max_repeats=%-8d", n)
	}
	r.printf("\n")
	for _, sim := range []float64{0.7, 0.8, 0.85, 0.875, 0.9, 0.925, 0.95, 1} {
		r.printf("  %-11v", sim)
		for _, n := range reps {
			c := base
			c.Similarity, c.MaxRepeats = sim, n
			outs, err := eval.Replay(tune, c)
			if err != nil {
				return err
			}
			s := eval.Summarize(outs, c)
			r.printf("  %5.1f%% / %4.1f%%     ", 100*s.DetectionRate(), 100*s.FalsePositiveRate())
		}
		r.printf("\n")
	}
	return r.err
}
