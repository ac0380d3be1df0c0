package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "litellm-model-prices-2030-01-02.json")
	require.NoError(t, os.WriteFile(in, []byte(`{
	  "last_updated": "2030-01-02T00:00:00Z",
	  "gpt-x": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "supports_vision": true}
	}`), 0o600))
	out := filepath.Join(dir, "data", "openai.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))

	var stdout bytes.Buffer
	require.NoError(t, run([]string{"-in", in, "-out", out}, &stdout))
	require.Contains(t, stdout.String(), "wrote 1 models")

	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"gpt-x\": {\n    \"input_cost_per_token\": 1e-06,\n    \"litellm_provider\": \"openai\",\n    \"mode\": \"chat\"\n  }\n}\n", string(got)) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
	source, err := os.ReadFile(filepath.Join(dir, "data", "SOURCE"))
	require.NoError(t, err)
	require.Contains(t, string(source), "Snapshot: litellm-model-prices-2030-01-02\n")
	require.Contains(t, string(source), "Models: 1\n")

	// With a supplement, its rows are merged and recorded.
	supplement := filepath.Join(dir, "supplement.json")
	require.NoError(t, os.WriteFile(supplement, []byte(`{"gpt-old-0613": {"mode": "chat", "input_cost_per_token": 2e-06, "source": "https://example.test"}}`), 0o600))
	stdout.Reset()
	require.NoError(t, run([]string{"-in", in, "-supplement", supplement, "-out", out}, &stdout))
	require.Contains(t, stdout.String(), "wrote 2 models")
	source, err = os.ReadFile(filepath.Join(dir, "data", "SOURCE"))
	require.NoError(t, err)
	require.Contains(t, string(source), "Supplement: gpt-old-0613 <- https://example.test\n")
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	var stdout bytes.Buffer
	require.ErrorContains(t, run(nil, &stdout), "make generate LITELLM=")
	require.ErrorContains(t, run([]string{"-in", "", "-out", "o.json"}, &stdout), "no LiteLLM snapshot", "go generate without $LITELLM")
	require.ErrorContains(t, run([]string{"-in", "x.json"}, &stdout), "-out is required")
	require.ErrorContains(t, run([]string{"-in", filepath.Join(dir, "missing.json"), "-out", filepath.Join(dir, "o.json")}, &stdout), "read snapshot")
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{`), 0o600))
	require.ErrorContains(t, run([]string{"-in", bad, "-out", filepath.Join(dir, "o.json")}, &stdout), "parse source")
	require.Error(t, run([]string{"-bogus"}, &stdout))
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"m": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06}}`), 0o600))
	require.ErrorContains(t, run([]string{"-in", good, "-supplement", filepath.Join(dir, "missing.json"), "-out", filepath.Join(dir, "o.json")}, &stdout), "read supplement")
}
