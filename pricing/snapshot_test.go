package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/pricing/internal/subset"
)

// sharedSnapshot returns the path and bytes of the LiteLLM snapshot, which is
// kept outside the repository: make generate's default LITELLM file in
// ../shared/data beside the repository (pricing/ → ../ is the repo root →
// ../../ its parent). It skips when the file is absent.
func sharedSnapshot(t *testing.T) (string, []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "data", Snapshot+".json")
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("shared snapshot %s not present; skipping the check against it", path)
	}
	require.NoError(t, err)
	return path, src
}

// TestEmbeddedMatchesGenerator fails when data/ was edited by hand or the
// generator changed without `make generate`.
func TestEmbeddedMatchesGenerator(t *testing.T) {
	path, src := sharedSnapshot(t)
	supplementPath := filepath.Join("data", "supplement.json")
	supplement, err := os.ReadFile(supplementPath)
	require.NoError(t, err)
	res, err := subset.OpenAI(src, supplement)
	require.NoError(t, err)
	require.True(t, bytes.Equal(res.JSON, embedded), "data/openai.json is stale: run make generate")
	require.Empty(t, res.LegacyMissing)
	require.Empty(t, res.Shadowed)

	source, err := os.ReadFile(filepath.Join("data", "SOURCE"))
	require.NoError(t, err)
	require.Equal(t, string(subset.Source(path, supplementPath, res)), string(source), "data/SOURCE is stale: run make generate")
}

// TestSourceRecordsSnapshot runs without ../shared: the recorded snapshot
// and model count must agree with the code and the embedded table.
func TestSourceRecordsSnapshot(t *testing.T) {
	source, err := os.ReadFile(filepath.Join("data", "SOURCE"))
	require.NoError(t, err)
	fields := map[string]string{}
	for _, line := range strings.Split(string(source), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			fields[k] = v
		}
	}
	require.Equal(t, Snapshot, fields["Snapshot"])
	require.Equal(t, "2026-07-24", fields["Date"])
	n, err := strconv.Atoi(fields["Models"])
	require.NoError(t, err)
	require.Equal(t, Default().Len(), n)
	// 225 OpenAI rows of the snapshot + 7 legacy rows + 6 supplement rows.
	require.Equal(t, 238, n)

	// The embedded file is plain LiteLLM format: every top-level value is a
	// model object, no metadata entries.
	var top map[string]map[string]any
	require.NoError(t, json.Unmarshal(embedded, &top))
	require.Len(t, top, n)
}

func TestParseFullSnapshot(t *testing.T) {
	_, src := sharedSnapshot(t)
	full, err := Parse(bytes.NewReader(src))
	require.NoError(t, err)
	require.Greater(t, full.Len(), 2000)
	want, _ := Default().Lookup("gpt-4o")
	got, ok := full.Lookup("gpt-4o")
	require.True(t, ok)
	require.Equal(t, want, got)
}

// TestDefaultCoversSnapshot checks every priceable OpenAI model of the
// shared snapshot is in the embedded table under its own name, priced
// exactly as the full file prices it, and that the only other rows are the
// legacy and supplement rows (so subset's filter agrees with Parse's).
func TestDefaultCoversSnapshot(t *testing.T) {
	_, src := sharedSnapshot(t)
	full, err := Parse(bytes.NewReader(src))
	require.NoError(t, err)
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(src, &top))

	def := Default()
	count := 0
	for name, raw := range top {
		var e struct {
			Provider string `json:"litellm_provider"`
		}
		if json.Unmarshal(raw, &e) != nil || (e.Provider != "openai" && e.Provider != "text-completion-openai") {
			continue
		}
		if _, ok := full.prices[name]; !ok {
			continue // not priceable: Parse skips it
		}
		count++
		got, ok := def.prices[name]
		require.True(t, ok, "%s missing from the embedded table", name)
		want := full.prices[name]
		require.Equal(t, want, got, name)
	}
	extra := len(subset.Legacy)
	var supplement map[string]json.RawMessage
	b, err := os.ReadFile(filepath.Join("data", "supplement.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &supplement))
	extra += len(supplement)
	require.Equal(t, count+extra, def.Len(), "embedded table holds models the snapshot does not")
}
