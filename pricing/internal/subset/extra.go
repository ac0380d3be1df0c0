package subset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Legacy lists OpenAI models that the snapshot prices only under another
// provider, and the row each is copied from. The Azure rows carry OpenAI's
// own prices except azure/o1-mini, whose $1.21/$4.84 per M includes Azure's
// 10% regional uplift; o1-mini therefore comes from the dated Azure row,
// which has OpenAI's $1.10/$0.55/$4.40.
var Legacy = []Origin{
	{Name: "computer-use-preview", From: "computer-use-preview"}, // bare row, litellm_provider azure
	{Name: "gpt-4-32k", From: "azure/gpt-4-32k"},
	{Name: "gpt-4-32k-0613", From: "azure/gpt-4-32k-0613"},
	{Name: "o1-mini", From: "azure/o1-mini-2024-09-12"},
	{Name: "o1-mini-2024-09-12", From: "azure/o1-mini-2024-09-12"},
	{Name: "o1-preview", From: "azure/o1-preview"},
	{Name: "o1-preview-2024-09-12", From: "azure/o1-preview-2024-09-12"},
}

// addLegacy copies the Legacy rows into out under their OpenAI names, with a
// "source" naming the row. A name the snapshot now has as an OpenAI row is
// left alone; a missing source row is recorded, and the pricing tests fail
// on it.
func (r *Result) addLegacy(top file, out map[string]map[string]json.RawMessage) error {
	for _, l := range Legacy {
		if _, ok := out[l.Name]; ok {
			continue
		}
		raw, ok := top[l.From]
		if !ok || !isObject(raw) {
			r.LegacyMissing = append(r.LegacyMissing, l.Name)
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return fmt.Errorf("subset: legacy row %q: %w", l.From, err)
		}
		entry := keep(fields)
		src, _ := json.Marshal("litellm row " + l.From)
		entry["source"] = src
		out[l.Name] = entry
		r.Legacy = append(r.Legacy, l)
	}
	return nil
}

// addSupplement adds the hand-kept rows of supplement that out lacks. Every
// entry must be a priceable row of a metered mode with a "source" naming
// where its price was published.
func (r *Result) addSupplement(supplement []byte, out map[string]map[string]json.RawMessage) error {
	if len(bytes.TrimSpace(supplement)) == 0 {
		return nil
	}
	top, err := decode(supplement, "supplement")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(top))
	for name := range top {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		var fields map[string]json.RawMessage
		if !isObject(top[name]) || json.Unmarshal(top[name], &fields) != nil {
			return fmt.Errorf("subset: supplement %q: not an object", name)
		}
		source := str(fields["source"])
		switch {
		case source == "":
			return fmt.Errorf("subset: supplement %q: needs a \"source\" naming the published price", name)
		case !modes[str(fields["mode"])]:
			return fmt.Errorf("subset: supplement %q: mode %s is not metered", name, fields["mode"])
		case !priceable(fields):
			return fmt.Errorf("subset: supplement %q: has no price", name)
		}
		if _, ok := out[name]; ok {
			r.Shadowed = append(r.Shadowed, name)
			continue
		}
		out[name] = keep(fields)
		r.Supplement = append(r.Supplement, Origin{Name: name, From: source})
	}
	return nil
}

var dateRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)

// Source renders the data/SOURCE note that records which snapshot and
// supplement the embedded table was generated from. Only base names are
// recorded so the note does not depend on where the generator ran.
func Source(snapshotPath, supplementPath string, r Result) []byte {
	file := filepath.Base(snapshotPath)
	name := strings.TrimSuffix(file, ".json")
	var b bytes.Buffer
	fmt.Fprintf(&b, "Snapshot: %s\n", name)
	fmt.Fprintf(&b, "File: %s\n", file)
	fmt.Fprintf(&b, "Date: %s\n", dateRE.FindString(name))
	if r.LastUpdated != "" {
		fmt.Fprintf(&b, "Last-Updated: %s\n", r.LastUpdated)
	}
	fmt.Fprintf(&b, "Models: %d\n", r.Models)
	b.WriteString("Origin: BerriAI/litellm model_prices_and_context_window.json (MIT licence)\n")
	b.WriteString("Filter: litellm_provider in {openai, text-completion-openai}; mode in {chat, completion, embedding, responses, " +
		"image_generation, audio_transcription, audio_speech, moderation, realtime, video_generation}; has input_cost_per_token, " +
		"or no token price and a per-character, per-second, per-image, per-pixel or per-session price\n")
	for _, l := range r.Legacy {
		fmt.Fprintf(&b, "Legacy: %s <- snapshot row %s\n", l.Name, l.From)
	}
	for _, n := range r.LegacyMissing {
		fmt.Fprintf(&b, "Legacy-Missing: %s (its source row is not in the snapshot)\n", n)
	}
	if supplementPath != "" {
		fmt.Fprintf(&b, "Supplement-File: pricing/data/%s (hand-kept; rows the snapshot lacks)\n", filepath.Base(supplementPath))
	}
	for _, s := range r.Supplement {
		fmt.Fprintf(&b, "Supplement: %s <- %s\n", s.Name, s.From)
	}
	for _, n := range r.Shadowed {
		fmt.Fprintf(&b, "Supplement-Shadowed: %s (the snapshot has it; remove it from the supplement)\n", n)
	}
	b.WriteString("Generated-By: make generate LITELLM=<snapshot> (pricing/internal/gen); do not edit data/openai.json by hand\n")
	return b.Bytes()
}
