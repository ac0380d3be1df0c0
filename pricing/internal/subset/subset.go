// Package subset cuts the OpenAI text models out of a LiteLLM
// model_prices_and_context_window.json file. It is shared by the go:generate
// tool (pricing/internal/gen) and by the pricing tests, which check that the
// embedded table is exactly what the generator produces.
//
// It deliberately does not import package pricing, so the pricing tests can
// import it without a cycle.
package subset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// Providers are the litellm_provider values that OpenAI's own API serves.
var providers = map[string]bool{"openai": true, "text-completion-openai": true}

// Modes are the LiteLLM modes priced by tokens that the gateway meters.
var modes = map[string]bool{"chat": true, "completion": true, "embedding": true, "responses": true}

// kept lists the only fields copied into the subset; everything else in a
// LiteLLM entry (capabilities, batch prices, audio prices) is irrelevant to
// metering and would only make the embedded file harder to review.
var kept = map[string]bool{
	"input_cost_per_token":                 true,
	"output_cost_per_token":                true,
	"cache_read_input_token_cost":          true,
	"input_cost_per_token_flex":            true,
	"output_cost_per_token_flex":           true,
	"cache_read_input_token_cost_flex":     true,
	"input_cost_per_token_priority":        true,
	"output_cost_per_token_priority":       true,
	"cache_read_input_token_cost_priority": true,
	"max_input_tokens":                     true,
	"max_output_tokens":                    true,
	"mode":                                 true,
	"litellm_provider":                     true,
}

// Result is the generated subset.
type Result struct {
	JSON        []byte // LiteLLM-format object keyed by model name, indented, sorted, trailing newline
	Models      int    // number of entries in JSON
	LastUpdated string // the source's top-level "last_updated", "" when absent
}

// OpenAI returns the subset of src (a LiteLLM-format file) holding every model
// whose provider is openai or text-completion-openai, whose mode is chat,
// completion, embedding or responses, and which has an input price (entries
// without one cannot be priced and the loader would skip them anyway).
// Number literals are copied byte for byte so the output is reviewable
// against the source.
func OpenAI(src []byte) (Result, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(src, &top); err != nil {
		return Result{}, fmt.Errorf("subset: parse source: %w", err)
	}
	var res Result
	if raw, ok := top["last_updated"]; ok {
		// Not an error when it is something else: it is informational only.
		_ = json.Unmarshal(raw, &res.LastUpdated)
	}
	out := make(map[string]map[string]json.RawMessage)
	for name, raw := range top {
		if !isObject(raw) {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return Result{}, fmt.Errorf("subset: model %q: %w", name, err)
		}
		if !providers[str(fields["litellm_provider"])] || !modes[str(fields["mode"])] {
			continue
		}
		if in, ok := fields["input_cost_per_token"]; !ok || string(in) == "null" {
			continue
		}
		entry := make(map[string]json.RawMessage, len(kept))
		for k, v := range fields {
			if kept[k] && string(v) != "null" {
				entry[k] = v
			}
		}
		out[name] = entry
	}
	if len(out) == 0 {
		return Result{}, errors.New("subset: no OpenAI text models in source")
	}
	// encoding/json sorts map keys, which makes the output deterministic.
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return Result{}, fmt.Errorf("subset: encode: %w", err)
	}
	res.JSON = append(b, '\n')
	res.Models = len(out)
	return res, nil
}

var dateRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)

// Source renders the data/SOURCE note that records which snapshot the
// embedded table was generated from. snapshotPath is the generator's -in
// argument; only its base name is recorded so the note does not depend on
// where the generator ran.
func Source(snapshotPath string, r Result) []byte {
	file := filepath.Base(snapshotPath)
	name := strings.TrimSuffix(file, ".json")
	date := dateRE.FindString(name)
	var b bytes.Buffer
	fmt.Fprintf(&b, "Snapshot: %s\n", name)
	fmt.Fprintf(&b, "File: shared/data/%s\n", file)
	fmt.Fprintf(&b, "Date: %s\n", date)
	if r.LastUpdated != "" {
		fmt.Fprintf(&b, "Last-Updated: %s\n", r.LastUpdated)
	}
	fmt.Fprintf(&b, "Models: %d\n", r.Models)
	b.WriteString("Origin: BerriAI/litellm model_prices_and_context_window.json (MIT licence)\n")
	b.WriteString("Filter: litellm_provider in {openai, text-completion-openai}; mode in {chat, completion, embedding, responses}; has input_cost_per_token\n")
	b.WriteString("Generated-By: go generate ./pricing (pricing/internal/gen); do not edit data/openai.json by hand\n")
	return b.Bytes()
}

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// str decodes a JSON string, returning "" for anything else.
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
