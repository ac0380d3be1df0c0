// Command corpusgen writes the labelled loop-detection corpus:
//
//	go run ./internal/loop/internal/corpusgen -out internal/loop/testdata/corpus.jsonl.gz
//
// A name ending in .gz is gzipped (the committed corpus: 9 MB of JSON lines
// compress to 0.6 MB). The output is deterministic for a seed; the committed
// file uses corpus.DefaultSeed, and a test checks it is up to date.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/proxide/proxide/internal/loop/corpus"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "corpusgen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("corpusgen", flag.ContinueOnError)
	out := fs.String("out", "", "output file (default stdout)")
	seed := fs.Uint64("seed", corpus.DefaultSeed, "generator seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	traces := corpus.Generate(*seed)
	if *out == "" {
		return corpus.Write(stdout, traces)
	}
	return corpus.WriteFile(*out, traces)
}
