package endpoints

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite ENDPOINTS.md from the table")

const tableDoc = "ENDPOINTS.md"

const tableDocHead = `# OpenAI endpoints and how Proxide treats them

Generated from the table in endpoints/table*.go by
` + "`go test ./internal/endpoints -run TestEndpointsDoc -update`" + `; do not edit.
Paths are matched after the API prefix (` + "`/openai/v1`" + ` in the shipped
Envoy configs), on the canonical path (see Canonicalize). **metered**: priced
and counted against the client's budget. **unmetered**: paid, but the cost is
invisible to an ext_proc sidecar: refused with 403 ` + "`endpoint_not_metered`" + `
unless allowed. **free**: passed on. A path missing here is free for GET,
HEAD, OPTIONS and DELETE and unmetered (refused) for anything else; a
WebSocket upgrade is always realtime (unmetered).

`

// The README shows the same table between these markers.
const (
	readme      = "../../README.md"
	readmeBegin = "<!-- endpoints:begin (go test ./internal/endpoints -run TestReadmeTable -update) -->\n"
	readmeEnd   = "<!-- endpoints:end -->"
)

// TestReadmeTable keeps the README's endpoint table in step with the code.
func TestReadmeTable(t *testing.T) {
	b, err := os.ReadFile(readme)
	require.NoError(t, err)
	doc := string(b)
	i, j := strings.Index(doc, readmeBegin), strings.Index(doc, readmeEnd)
	require.True(t, i >= 0 && j > i, "README.md lacks the endpoint table markers")
	want := doc[:i+len(readmeBegin)] + MarkdownTable() + doc[j:]
	if *update {
		require.NoError(t, os.WriteFile(readme, []byte(want), 0o644))
		return
	}
	require.Equal(t, want, doc, "run: go test ./internal/endpoints -run TestReadmeTable -update")
}

// TestEndpointsDoc keeps ENDPOINTS.md in step with the table.
func TestEndpointsDoc(t *testing.T) {
	want := tableDocHead + MarkdownTable()
	if *update {
		require.NoError(t, os.WriteFile(tableDoc, []byte(want), 0o644))
	}
	got, err := os.ReadFile(tableDoc)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "run: go test ./internal/endpoints -run TestEndpointsDoc -update")
}
