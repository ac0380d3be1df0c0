package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	const path = "../../testdata/corpus.jsonl.gz"
	var out bytes.Buffer
	require.NoError(t, run([]string{"-corpus", path}, &out))
	for _, want := range []string{"held-out split", "flagged   not flagged", "looping requests until stopped", "growing_tool_loop"} {
		require.Contains(t, out.String(), want)
	}
	out.Reset()
	require.NoError(t, run([]string{"-corpus", path, "-trace", "cycle2-000"}, &out))
	require.Contains(t, out.String(), "LOOP:cycle")
	require.Error(t, run([]string{"-corpus", path, "-trace", "nope"}, &out))
	require.Error(t, run([]string{"-corpus", path, "-similarity", "2"}, &out))
	require.Error(t, run([]string{"-corpus", "missing.jsonl"}, &out))
}
