package corpus

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenerate(t *testing.T) {
	a, b := Generate(7), Generate(7)
	require.Equal(t, a, b, "deterministic for a seed")
	require.NotEqual(t, a[0].Requests[0].Body, Generate(8)[0].Requests[0].Body)
	clients := map[string]bool{}
	for _, tr := range a {
		require.NoError(t, tr.check())
		require.False(t, clients[tr.Client], "client %s reused", tr.Client)
		clients[tr.Client] = true
		if tr.Label == LabelLoop {
			require.GreaterOrEqual(t, len(tr.Requests)-tr.Onset, 8, "%s: a loop long enough to be caught", tr.ID)
		}
	}
}

func TestWriteRead(t *testing.T) {
	traces := Generate(1)[:20]
	for _, name := range []string{"c.jsonl", "c.jsonl.gz"} {
		path := filepath.Join(t.TempDir(), name)
		require.NoError(t, WriteFile(path, traces))
		back, err := ReadFile(path)
		require.NoError(t, err)
		require.Len(t, back, len(traces))
		var x, y bytes.Buffer
		require.NoError(t, Write(&x, traces))
		require.NoError(t, Write(&y, back))
		require.Equal(t, x.String(), y.String())
	}
}

func TestReadRejects(t *testing.T) {
	req := `"requests":[{"t_ms":0,"endpoint":"chat","body":{}}]`
	for name, line := range map[string]string{
		"not json":       `{`,
		"no client":      `{"id":"a","label":"legit",` + req + `}`,
		"label":          `{"id":"a","client":"c","label":"maybe",` + req + `}`,
		"no requests":    `{"id":"a","client":"c","label":"legit","requests":[]}`,
		"onset":          `{"id":"a","client":"c","label":"loop","onset":3,` + req + `}`,
		"endpoint":       `{"id":"a","client":"c","label":"legit","requests":[{"t_ms":0,"endpoint":"embeddings","body":{}}]}`,
		"time goes back": `{"id":"a","client":"c","label":"legit","requests":[{"t_ms":5,"endpoint":"chat","body":{}},{"t_ms":1,"endpoint":"chat","body":{}}]}`,
	} {
		_, err := Read(strings.NewReader(line + "\n"))
		require.ErrorIs(t, err, ErrCorpus, name)
	}
}
