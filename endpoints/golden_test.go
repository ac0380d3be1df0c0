package endpoints

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite ENDPOINTS.md from the table")

const tableDoc = "ENDPOINTS.md"

const tableDocHead = `# OpenAI endpoints and how Proxide treats them

Generated from the table in endpoints/table*.go by
` + "`go test ./endpoints -run TestEndpointsDoc -update`" + `; do not edit.
Paths are matched after the API prefix (` + "`/openai/v1`" + ` in the shipped
Envoy configs), on the canonical path (see Canonicalize). **metered**: priced
and counted against the client's budget. **unmetered**: paid, but the cost is
invisible to an ext_proc sidecar: refused with 403 ` + "`endpoint_not_metered`" + `
unless allowed. **free**: passed on. A path missing here is free for GET,
HEAD, OPTIONS and DELETE and unmetered (refused) for anything else; a
WebSocket upgrade is always realtime (unmetered).

`

// TestEndpointsDoc keeps ENDPOINTS.md in step with the table.
func TestEndpointsDoc(t *testing.T) {
	want := tableDocHead + MarkdownTable()
	if *update {
		require.NoError(t, os.WriteFile(tableDoc, []byte(want), 0o644))
	}
	got, err := os.ReadFile(tableDoc)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "run: go test ./endpoints -run TestEndpointsDoc -update")
}
