// Command gen writes pricing/data/openai.json (the embedded price table) and
// pricing/data/SOURCE from a LiteLLM model_prices_and_context_window.json
// snapshot and the hand-kept supplement (pricing/data/supplement.json). It
// runs via `make generate LITELLM=path/to/snapshot.json`, which sets $LITELLM
// for the go:generate directive of package pricing.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/proxide/proxide/pricing/internal/subset"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	in := fs.String("in", "", "LiteLLM model_prices_and_context_window.json snapshot to read")
	supplement := fs.String("supplement", "", "hand-kept LiteLLM-format rows the snapshot lacks (optional)")
	out := fs.String("out", "", "subset file to write; SOURCE is written beside it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("no LiteLLM snapshot: -in is empty (run `make generate LITELLM=path/to/snapshot.json`)")
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	src, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	var extra []byte
	if *supplement != "" {
		if extra, err = os.ReadFile(*supplement); err != nil {
			return fmt.Errorf("read supplement: %w", err)
		}
	}
	res, err := subset.OpenAI(src, extra)
	if err != nil {
		return err
	}
	// The outputs are checked-in source files, readable like the rest of the tree.
	if err := os.WriteFile(*out, res.JSON, 0o644); err != nil { //nolint:gosec // G306: see above
		return fmt.Errorf("write subset: %w", err)
	}
	sourcePath := filepath.Join(filepath.Dir(*out), "SOURCE")
	if err := os.WriteFile(sourcePath, subset.Source(*in, *supplement, res), 0o644); err != nil { //nolint:gosec // G306: see above
		return fmt.Errorf("write SOURCE: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "gen: wrote %d models to %s and %s\n", res.Models, *out, sourcePath)
	return err
}
