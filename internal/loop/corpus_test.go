package loop_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/loop"
	"github.com/proxide/proxide/internal/loop/corpus"
	"github.com/proxide/proxide/internal/loop/eval"
)

// corpusPath is the committed corpus (go run ./internal/loop/internal/corpusgen).
const corpusPath = "testdata/corpus.jsonl.gz"

// TestCorpusIsUpToDate: the committed corpus is what the generator makes, so
// it can be grown by editing the generator.
func TestCorpusIsUpToDate(t *testing.T) {
	f, err := os.Open(corpusPath)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.Close()) })
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	committed, err := io.ReadAll(zr)
	require.NoError(t, err)
	var fresh bytes.Buffer
	require.NoError(t, corpus.Write(&fresh, corpus.Generate(corpus.DefaultSeed)))
	require.True(t, bytes.Equal(fresh.Bytes(), committed),
		"testdata/corpus.jsonl.gz is stale: go run ./internal/loop/internal/corpusgen -out internal/loop/testdata/corpus.jsonl.gz")
}

// TestCorpusDetection replays the corpus through ParseRequest, Compute and a
// per-client Window with the default config and checks the targets of the
// loop-detection issue on the held-out split and on all traces: at least 95%
// of loops stopped within max_repeats+2 requests, at most 1% of legitimate
// traces ever flagged.
func TestCorpusDetection(t *testing.T) {
	traces, err := corpus.ReadFile(corpusPath)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(traces), 200)
	kinds, endpoints := map[string]bool{}, map[string]bool{}
	for _, tr := range traces {
		kinds[tr.Label+"/"+tr.Kind] = true
		for _, r := range tr.Requests {
			endpoints[r.Endpoint] = true
		}
	}
	for _, k := range []string{
		"loop/exact_retry", "loop/volatile_retry", "loop/reworded_retry", "loop/growing_tool_loop", "loop/cycle2", "loop/cycle3",
		"legit/long_chat", "legit/batch_template", "legit/n_samples", "legit/popular_prompt", "legit/agent_progress", "legit/transient_retry",
	} {
		require.True(t, kinds[k], "the corpus has no %s traces", k)
	}
	require.Len(t, endpoints, 2, "chat completions and Responses")

	c := loop.DefaultConfig()
	outs, err := eval.Replay(traces, c)
	require.NoError(t, err)
	for _, split := range []string{corpus.SplitTest, ""} {
		s := eval.Summarize(eval.Filter(outs, split), c)
		require.Positive(t, s.Loops)
		require.Positive(t, s.Legit)
		require.GreaterOrEqual(t, s.DetectionRate(), 0.95, "split %q: loops not stopped in time: %v", split, s.Misses)
		require.LessOrEqual(t, s.FalsePositiveRate(), 0.01, "split %q: legit traces flagged: %v", split, s.FalseIDs)
	}
}
