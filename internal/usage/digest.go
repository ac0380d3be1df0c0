package usage

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// Request.Digest is an xxhash64 of the canonical request: what was asked
// (endpoint, model, instructions, every message or input item with its role,
// text, media, tool calls and results, previous_response_id, conversation,
// the tool definitions), written field by field with tags and lengths, so it
// ignores whitespace, key order and escaping and two different requests cannot
// collide by moving text between fields.
//
// Left out on purpose, because a request that differs only in them is the
// same request sent again (what loop detection looks for): sampling and
// output knobs (temperature, top_p, seed, n, max_*tokens, response_format,
// tool_choice, stop, reasoning), transport and bookkeeping (stream,
// stream_options, user, metadata, store, service_tier, prompt_cache_key), and
// the ids that only link a tool result to its call (tool_call_id, call_id,
// item ids), which the model makes up afresh on every run. A harness that
// samples one prompt at several temperatures is what per-rule disabling of
// loop detection is for.

// Digest tags: one per endpoint, one per field kind.
const (
	tagChat        = 'C'
	tagResponses   = 'R'
	tagCompletions = 'P'
	tagEmbeddings  = 'E'

	tagModel    = 'm'
	tagMessage  = '{' // starts a message or input item
	tagRole     = 'r'
	tagType     = 'y'
	tagName     = 'n'
	tagText     = 't'
	tagRefusal  = 'x'
	tagMedia    = 'i'
	tagCall     = 'c'
	tagArgs     = 'a'
	tagOutput   = 'o'
	tagSummary  = 's'
	tagTools    = 'T'
	tagFuncs    = 'F'
	tagPrevious = 'p'
	tagConv     = 'v'
	tagInstr    = 'I'
	tagTokens   = 'k'
)

// digest writes tagged, length-prefixed fields into an xxhash64.
type digest struct {
	h   xxhash.Digest
	buf [1 + binary.MaxVarintLen64]byte
}

func (d *digest) begin(endpoint byte) {
	d.h.Reset()
	d.buf[0] = endpoint
	_, _ = d.h.Write(d.buf[:1])
}

func (d *digest) str(tag byte, s string) {
	d.buf[0] = tag
	n := binary.PutUvarint(d.buf[1:], uint64(len(s)))
	_, _ = d.h.Write(d.buf[:1+n])
	_, _ = d.h.WriteString(s)
}

func (d *digest) u64(tag byte, v uint64) {
	d.buf[0] = tag
	binary.LittleEndian.PutUint64(d.buf[1:], v)
	_, _ = d.h.Write(d.buf[:9])
}

func (d *digest) content(tag byte, c *content) {
	if !c.set {
		return
	}
	d.str(tag, c.text)
	for i := range c.parts {
		p := &c.parts[i]
		if p.media != 0 {
			d.u64(tagMedia, p.media)
			continue
		}
		d.str(tagText, p.text)
		d.str(tagRefusal, p.refusal)
	}
}

func (w *chatRequest) digest() uint64 {
	var d digest
	d.begin(tagChat)
	d.str(tagModel, deref(w.Model))
	for i := range w.Messages {
		m := &w.Messages[i]
		d.str(tagMessage, string(m.Role))
		d.str(tagName, string(m.Name))
		d.content(tagText, &m.Content)
		d.str(tagRefusal, string(m.Refusal))
		for _, tc := range m.ToolCalls {
			if f := tc.Function; f != nil {
				d.str(tagCall, string(f.Name))
				d.str(tagArgs, string(f.Arguments))
			}
		}
		if f := m.FunctionCall; f != nil {
			d.str(tagCall, string(f.Name))
			d.str(tagArgs, string(f.Arguments))
		}
	}
	d.str(tagTools, string(w.Tools))
	d.str(tagFuncs, string(w.Functions))
	return d.h.Sum64()
}

func (w *responsesRequest) digest() uint64 {
	var d digest
	d.begin(tagResponses)
	d.str(tagModel, deref(w.Model))
	d.str(tagPrevious, string(w.PreviousResponseID))
	d.str(tagConv, string(w.Conversation))
	d.content(tagInstr, &w.Instructions)
	if w.Input.isText {
		d.str(tagText, w.Input.text)
	}
	for i := range w.Input.items {
		it := &w.Input.items[i]
		d.str(tagMessage, it.typ)
		d.str(tagRole, it.role)
		d.content(tagText, &it.content)
		d.str(tagName, it.name)
		d.str(tagArgs, it.arguments)
		d.content(tagOutput, &it.output)
		d.content(tagSummary, &it.summary)
	}
	d.str(tagTools, string(w.Tools.raw))
	return d.h.Sum64()
}

func (f *textOrTokens) digest(endpoint byte, model *string) uint64 {
	var d digest
	d.begin(endpoint)
	d.str(tagModel, deref(model))
	for _, s := range f.texts {
		d.str(tagText, s)
	}
	d.u64(tagTokens, f.raw)
	return d.h.Sum64()
}

// deref dereferences an optional string.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rawDigest hashes a JSON value kept only as a count (token ids).
func rawDigest(b []byte) uint64 { return xxhash.Sum64(b) }

// mediaDigest identifies an image, audio or file part by its raw JSON: all of
// it when small (a URL or file id), else its length and first and last 1 KiB,
// so a multi-megabyte base64 image costs no more than a short one. Two
// different encoded files of the same length with the same 2 KiB of ends do
// not occur in practice (the end of a compressed file is entropy-coded data).
// Never 0, which marks a text part.
func mediaDigest(raw []byte) uint64 {
	const sample = 1 << 10
	var h uint64
	if len(raw) <= 4*sample {
		h = xxhash.Sum64(raw)
	} else {
		var d digest
		d.begin(tagMedia)
		d.u64(tagMedia, uint64(len(raw)))
		_, _ = d.h.Write(raw[:sample])
		_, _ = d.h.Write(raw[len(raw)-sample:])
		h = d.h.Sum64()
	}
	if h == 0 {
		h = 1
	}
	return h
}
