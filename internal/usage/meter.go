package usage

import (
	"bytes"
	"slices"
	"unicode/utf8"
)

// MeterOptions configure a Meter for one response.
type MeterOptions struct {
	Endpoint     Endpoint
	RequestModel string // for the tokenizer when the response names no model
	SSE          bool   // the response content-type is text/event-stream
	// StripInjectedUsage: Proxide injected include_usage, so remove the
	// usage-only chunk and the `"usage":null` member OpenAI then adds to every
	// other chunk; the client gets byte for byte what it would have got
	// without the option. Ignored for Responses and non-SSE bodies.
	StripInjectedUsage bool
	// ReuseOutput lets Write return its rewritten bytes in a buffer the Meter
	// reuses (see Write): no allocation per stripped chunk. Off, each
	// replaced output is a fresh slice the caller may keep, for callers
	// (and test fakes) that hold on to earlier replies.
	ReuseOutput bool
}

const (
	// textBatch bounds the output text kept untokenised. Text is counted only
	// for settling when a response carries no exact usage, which OpenAI
	// streams nearly always do, so it waits uncounted until it outgrows this
	// (then a batch is tokenised to keep memory bounded) or Result needs it,
	// and is dropped once exact usage arrives.
	textBatch = 64 << 10
	maxHold   = 1 << 20 // a partial event held longer than this disables stripping
	// maxReusedOut bounds the output buffer a Meter keeps between chunks
	// (ReuseOutput): one huge event must not pin its size for the rest of
	// a stream, as every open stream holds its Meter.
	maxReusedOut = 64 << 10
	maxEvText    = 1 << 20 // output text kept per Responses event
)

// Meter follows one response body chunk by chunk in memory bounded by the
// chunk size (plus one SSE event when stripping). It is not safe for
// concurrent use; one Meter serves one response.
type Meter struct {
	opts  MeterOptions
	strip bool
	sc    scanner
	sse   sseState
	pos   int64 // absolute offset of the next byte
	atEOS bool

	usage    Usage
	usageRaw []byte
	hasUsage bool
	model    string
	modelRaw []byte
	tier     string
	tierRaw  []byte
	complete bool
	bad      int

	// resp is what only a Responses body needs (nil for the other endpoints):
	// kept apart, a chat stream's Meter is 360 bytes smaller, which every
	// open stream holds.
	resp *responsesState

	pending   []byte // output text not yet tokenised; nil once hasUsage
	evText    []byte // a Responses event's delta, kept once its type is known
	outTokens int64
	tokenised int // tiktoken calls made, for tests

	// stripping: bytes since holdStart not yet forwarded, the end of the last
	// complete event, and the ranges to cut from what is held
	hold      []byte
	holdStart int64
	emitTo    int64
	edits     []span
	// out is reused for the bytes Write returns when stripping: a stream
	// rewrites nearly every chunk, and a fresh slice per chunk was most of
	// a stripped stream's allocations (and the GC work they cause).
	out []byte
}

// responsesState is a Responses object's id and status, and the built-in tool
// calls of its output: calls counts the document being scanned; evCalls what
// output_item events announced; final the completed object's output, which
// wins when seen.
type responsesState struct {
	respID, status     string
	respIDRaw, statRaw []byte
	calls, evCalls     ToolCalls
	evDone             ToolCalls
	final              ToolCalls
	haveFinal          bool
	containers         map[string]bool
	tools              []string // types of the tools the object declares
	memory             string   // its code_interpreter container memory_limit
}

// noResponses is the (never written) state Result reads for other endpoints.
var noResponses responsesState

// rs is the Responses state. NewMeter makes it for the Responses endpoint,
// whose trees are the only ones that capture into it; should another tree
// ever do so, it is made here rather than dereferenced as nil.
func (m *Meter) rs() *responsesState {
	if m.resp == nil {
		m.resp = new(responsesState)
	}
	return m.resp
}

// NewMeter returns a Meter for one response body.
func NewMeter(opts MeterOptions) *Meter {
	m := &Meter{opts: opts, strip: opts.SSE && opts.StripInjectedUsage && opts.Endpoint != Responses}
	if opts.Endpoint == Responses {
		m.sc.onEach = m.tally
		m.resp = new(responsesState)
	}
	if !opts.SSE {
		root := chatRoot
		if opts.Endpoint == Responses {
			root = responseRoot
		}
		m.sc.reset(root, &m.pending)
	}
	return m
}

// Write consumes the next chunk of the body; eos marks the last one, which
// may be empty. It returns the bytes to forward instead of chunk, with
// replaced=true only when they differ from chunk. When stripping, only whole
// SSE events are forwarded: a partial event is held until its end arrives,
// and everything held is forwarded at eos. Without stripping, Write always
// returns chunk, false.
//
// When replaced is true and MeterOptions.ReuseOutput is set, out aliases a
// buffer the Meter reuses: it is valid only until the next call of Write, so
// the caller must send (or copy) it before writing the next chunk. Without
// ReuseOutput a replaced out is the caller's. Write never modifies chunk,
// and never keeps it past the call (held bytes are copied).
func (m *Meter) Write(chunk []byte, eos bool) (out []byte, replaced bool) {
	base := m.pos
	m.pos += int64(len(chunk))
	if m.opts.SSE {
		m.feedSSE(chunk, base)
		if eos {
			m.endSSE()
		}
	} else {
		m.sc.feed(chunk, base)
		if eos {
			m.complete = m.sc.finish(m.pos)
			if !m.complete {
				m.bad++
			}
			m.applyCaptures()
		}
	}
	if len(m.pending) >= textBatch {
		m.flushText(false)
	}
	if !m.strip {
		return chunk, false
	}
	return m.emit(chunk, base, eos)
}

// Result returns what the Meter has learned so far. It may be called at any
// time, also on a stream that was cut: output text still waiting for a
// batch is counted now. Once exact usage has arrived (HasUsage), output text
// is no longer kept or counted and OutputTokens is 0: Usage is
// authoritative.
func (m *Meter) Result() Result {
	if !m.opts.SSE {
		m.applyCaptures()
	}
	m.flushText(true)
	r := m.resp
	if r == nil {
		r = &noResponses
	}
	calls := r.evCalls.atLeast(r.evDone)
	if r.haveFinal {
		calls = r.final
	}
	if !m.opts.SSE && m.opts.Endpoint == Responses {
		calls = r.calls // one document: its output is the result
	}
	return Result{
		Usage:        m.usage,
		HasUsage:     m.hasUsage,
		Model:        m.model,
		ServiceTier:  m.tier,
		OutputTokens: m.outTokens,
		Complete:     m.complete,
		Malformed:    m.bad,
		ResponseID:   r.respID,
		Status:       r.status,
		ToolCalls:    calls,
		Tools:        r.tools,
		Memory:       r.memory,
	}
}

// tally counts an output item's type or container id as the scanner meets it.
func (m *Meter) tally(s slot, raw []byte) {
	r := m.rs()
	v, ok := unquote(raw)
	if !ok {
		return
	}
	switch s {
	case slotItemType:
		r.calls.count(v)
	case slotToolType:
		if v != "" && !slices.Contains(r.tools, v) && len(r.tools) < maxContainers {
			r.tools = append(r.tools, v)
		}
	case slotMemory:
		r.memory = v
	case slotContainer:
		if v == "" {
			return
		}
		if r.containers == nil {
			r.containers = map[string]bool{}
		}
		if !r.containers[v] && len(r.containers) < maxContainers {
			r.containers[v] = true
			r.calls.Containers++
		}
	}
}

// maxContainers bounds the container ids remembered per response.
const maxContainers = 256

// applyCaptures takes the billing fields of the document just scanned.
// Chat chunks repeat model and service_tier in every event: a value equal to
// the last one is not decoded again.
func (m *Meter) applyCaptures() {
	sc := &m.sc
	if sc.capSet[slotUsage] && !bytes.Equal(sc.caps[slotUsage], m.usageRaw) {
		m.usageRaw = append(m.usageRaw[:0], sc.caps[slotUsage]...)
		u, ok, err := decodeUsage(sc.caps[slotUsage])
		switch {
		case err != nil:
			m.bad++
		case ok:
			m.usage, m.hasUsage = u, true
			m.dropText()
		}
	}
	if sc.capSet[slotModel] {
		m.model = decodeString(sc.caps[slotModel], &m.modelRaw, m.model)
	}
	if sc.capSet[slotTier] {
		m.tier = decodeString(sc.caps[slotTier], &m.tierRaw, m.tier)
	}
	if sc.capSet[slotID] {
		r := m.rs()
		r.respID = decodeString(sc.caps[slotID], &r.respIDRaw, r.respID)
	}
	if sc.capSet[slotStatus] {
		r := m.rs()
		r.status = decodeString(sc.caps[slotStatus], &r.statRaw, r.status)
	}
}

// decodeString decodes a captured JSON string unless it equals the previous
// one; anything but a non-empty string keeps the previous value.
func decodeString(raw []byte, prevRaw *[]byte, prev string) string {
	if bytes.Equal(raw, *prevRaw) {
		return prev
	}
	s, ok := unquote(raw)
	if !ok || s == "" {
		return prev
	}
	*prevRaw = append((*prevRaw)[:0], raw...)
	return s
}

// dropText discards the output text and its count once exact usage makes
// them moot, and stops the scanner from decoding more: tokenising output is
// most of a stream's metering cost.
func (m *Meter) dropText() {
	m.pending, m.evText, m.outTokens = nil, nil, 0
	m.sc.text = nil
}

// flushText tokenises pending output text: all of it, or (in batches) up to
// the last whitespace in its second half, where a token boundary almost
// always lies, so batching barely changes the count.
func (m *Meter) flushText(all bool) {
	p := m.pending
	if len(p) == 0 {
		return
	}
	cut := len(p)
	if !all {
		half := len(p) / 2
		if k := bytes.LastIndexAny(p[half:], " \n"); k >= 0 {
			cut = half + k
		}
		for cut > 0 && cut < len(p) && !utf8.RuneStart(p[cut]) {
			cut--
		}
		if cut == 0 {
			return
		}
	}
	model := m.model
	if model == "" {
		model = m.opts.RequestModel
	}
	m.outTokens += CountTokens(model, string(p[:cut]))
	m.tokenised++
	m.pending = p[:copy(p, p[cut:])]
}

// emit returns the bytes to forward when stripping: the held bytes and chunk
// up to the end of the last complete event (everything at eos), minus the
// cut ranges; the rest is held.
func (m *Meter) emit(chunk []byte, base int64, eos bool) ([]byte, bool) {
	end := m.emitTo
	if eos {
		end = m.pos
	}
	if m.holdStart == base && end == m.pos && len(m.edits) == 0 {
		m.holdStart = m.pos
		return chunk, false
	}
	piece := func(out []byte, from, to int64) []byte {
		if from < base { // from the held bytes
			out = append(out, m.hold[from-m.holdStart:min(to, base)-m.holdStart]...)
			from = base
		}
		if from < to {
			out = append(out, chunk[from-base:to-base]...)
		}
		return out
	}
	var out []byte
	if m.opts.ReuseOutput {
		out = slices.Grow(m.out[:0], int(end-m.holdStart))
	} else {
		out = make([]byte, 0, end-m.holdStart)
	}
	at := m.holdStart
	for _, e := range m.edits {
		out = piece(out, at, e.from)
		at = e.to
	}
	out = piece(out, at, end)
	m.edits = m.edits[:0]

	if end >= base {
		m.hold = append(m.hold[:0], chunk[end-base:]...)
	} else {
		n := copy(m.hold, m.hold[end-m.holdStart:])
		m.hold = append(m.hold[:n], chunk...)
	}
	m.holdStart = end
	if len(m.hold) > maxHold {
		// Not SSE after all, or an absurd event: forward as is from now on
		// rather than buffer without bound.
		out = append(out, m.hold...)
		m.hold, m.holdStart, m.strip = nil, m.pos, false
	}
	if m.opts.ReuseOutput && cap(out) <= maxReusedOut {
		m.out = out
	}
	return out, true
}
