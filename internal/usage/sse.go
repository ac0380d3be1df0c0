package usage

import "bytes"

// sseState is the incremental server-sent-events parser (WHATWG spec):
// events end at a blank line; lines end with "\n", "\r\n" or "\r"; lines
// starting with ':' are comments; data lines are joined with "\n"; one
// space after the colon is dropped; fields other than data and event are
// ignored. Data is never buffered: it streams into the JSON scanner.
type sseState struct {
	ls        lineState
	afterCR   bool // a '\r' ended the last line; a '\n' right after belongs to it
	lineHad   bool // the current line has at least one byte
	field     [8]byte
	fieldN    int
	cur       fieldKind
	dataLines int
	dataLen   int64
	head      [6]byte   // first bytes of the data, to spot [DONE]
	evType    *[64]byte // made at the first "event:" line (Responses streams; chat has none)
	evTypeN   int
	evTypeSet bool
	lastData  int64 // absolute end of the last data line's value
	evStart   int64 // absolute start of the current event
}

type lineState uint8

const (
	lsStart lineState = iota
	lsField
	lsSpace
	lsValue
	lsSkip
)

type fieldKind uint8

const (
	fkOther fieldKind = iota
	fkData
	fkEvent
)

var newline = []byte("\n")

// feedSSE parses data, whose first byte is at absolute offset base.
func (m *Meter) feedSSE(data []byte, base int64) {
	s := &m.sse
	for i := 0; i < len(data); {
		c := data[i]
		if s.afterCR {
			s.afterCR = false
			if c == '\n' {
				i++
				m.lineTerminated(base + int64(i))
				continue
			}
			m.lineTerminated(base + int64(i))
		}
		if c == '\r' || c == '\n' {
			m.lineContentEnd(base + int64(i))
			i++
			if c == '\r' {
				s.afterCR = true
			} else {
				m.lineTerminated(base + int64(i))
			}
			continue
		}
		switch s.ls {
		case lsStart:
			s.lineHad = true
			switch {
			case c == 'd' && len(data)-i > 5 && string(data[i:i+5]) == "data:":
				// nearly every line: its field is resolved without a trip
				// round the loop per byte of its name
				s.fieldN = copy(s.field[:], "data")
				m.fieldResolved()
				s.ls = lsSpace
				i += 5
				if data[i] == ' ' {
					s.ls = lsValue
					i++
				}
			case c == ':':
				s.ls = lsSkip
				i++
			default:
				s.ls, s.fieldN = lsField, 0
			}
		case lsField:
			if c == ':' {
				m.fieldResolved()
				s.ls = lsSpace
			} else {
				if s.fieldN < len(s.field) {
					s.field[s.fieldN] = c
				}
				s.fieldN++
			}
			i++
		case lsSpace:
			if c == ' ' {
				i++
			}
			s.ls = lsValue
		case lsValue, lsSkip:
			end := len(data)
			if j := lineEnd(data[i:]); j >= 0 {
				end = i + j
			}
			if s.ls == lsValue {
				switch s.cur {
				case fkData:
					m.dataBytes(data[i:end], base+int64(i))
				case fkEvent:
					if b := data[i:end]; s.evTypeN+len(b) <= len(s.evType) {
						s.evTypeN += copy(s.evType[s.evTypeN:], b)
					} else {
						s.evTypeN = len(s.evType) + 1 // too long to be a type we know
					}
				}
			}
			i = end
		}
	}
}

// lineEnd returns the index of the first '\r' or '\n' in b, or -1.
func lineEnd(b []byte) int {
	j := bytes.IndexByte(b, '\n')
	if j < 0 {
		j = len(b)
	}
	if k := bytes.IndexByte(b[:j], '\r'); k >= 0 {
		return k
	}
	if j == len(b) {
		return -1
	}
	return j
}

// fieldResolved acts on a field name once it is complete.
func (m *Meter) fieldResolved() {
	s := &m.sse
	s.cur = fkOther
	if s.fieldN > len(s.field) {
		return
	}
	switch string(s.field[:s.fieldN]) {
	case "data":
		s.cur = fkData
		if s.dataLines == 0 {
			root, text := chatRoot, &m.pending
			if m.opts.Endpoint == Responses {
				root, text = responseEventRoot, &m.evText
			}
			if m.hasUsage {
				text = nil // output text is no longer counted
			}
			m.sc.reset(root, text)
		} else {
			m.dataBytes(newline, s.lastData)
		}
		s.dataLines++
	case "event":
		s.cur, s.evTypeN, s.evTypeSet = fkEvent, 0, true
		if s.evType == nil {
			s.evType = new([64]byte)
		}
	}
}

func (m *Meter) dataBytes(b []byte, base int64) {
	s := &m.sse
	if s.dataLen < int64(len(s.head)) {
		copy(s.head[s.dataLen:], b)
	}
	s.dataLen += int64(len(b))
	m.sc.feed(b, base)
	if len(m.evText) > maxEvText {
		m.evText = m.evText[:maxEvText]
	}
}

// lineContentEnd ends the current line's content at absolute offset pos.
func (m *Meter) lineContentEnd(pos int64) {
	s := &m.sse
	if s.ls == lsField { // a field name alone: its value is empty
		m.fieldResolved()
		s.ls = lsValue
	}
	if s.ls == lsSpace || s.ls == lsValue {
		if s.cur == fkData {
			s.lastData = pos
		}
	}
}

// lineTerminated runs after a line's terminator; a blank line dispatches.
func (m *Meter) lineTerminated(after int64) {
	s := &m.sse
	if !s.lineHad {
		m.dispatch(after)
	}
	s.lineHad, s.ls, s.cur = false, lsStart, fkOther
}

// endSSE runs at eos. An event whose blank line never came is still metered
// when its data is complete (a usage chunk or [DONE] without the final blank
// line is still worth reading), though nothing more is cut from it.
func (m *Meter) endSSE() {
	s := &m.sse
	if s.afterCR {
		s.afterCR = false
		m.lineTerminated(m.pos)
	}
	m.atEOS = true
	if s.dataLines > 0 {
		if s.ls != lsStart {
			m.lineContentEnd(m.pos)
		}
		m.dispatch(m.pos)
	}
}

// dispatch ends the event at absolute offset end.
func (m *Meter) dispatch(end int64) {
	s := &m.sse
	if s.dataLines > 0 {
		m.event(end)
	}
	s.dataLines, s.dataLen, s.evTypeSet = 0, 0, false
	s.evStart = end
	m.evText = m.evText[:0]
	if m.strip {
		m.emitTo = end
	}
}

func (m *Meter) event(end int64) {
	s := &m.sse
	if s.dataLen == int64(len(s.head)) && string(s.head[:]) == "[DONE]" {
		m.complete = true
		return
	}
	if !m.sc.finish(s.lastData) {
		m.bad++
		return
	}
	m.applyCaptures()
	if m.opts.Endpoint == Responses {
		m.responseEvent()
		return
	}
	if !m.strip || m.atEOS {
		return
	}
	sc := &m.sc
	switch {
	case sc.choicesSeen && sc.choices == 0 && sc.capSet[slotUsage] && string(sc.caps[slotUsage]) != "null":
		m.edits = append(m.edits, span{s.evStart, end}) // the usage-only chunk
	case sc.hasNullUsage:
		m.edits = append(m.edits, sc.nullUsage)
	}
}

// responseEvent handles a Responses stream event by its type (the data's
// "type", else the event field).
func (m *Meter) responseEvent() {
	s := &m.sse
	r := m.rs()
	var typ []byte
	if raw := m.sc.caps[slotType]; m.sc.capSet[slotType] && len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		typ = raw[1 : len(raw)-1]
	} else if s.evTypeSet && s.evTypeN <= len(s.evType) {
		typ = s.evType[:s.evTypeN]
	}
	switch string(typ) {
	case "response.output_text.delta", "response.refusal.delta",
		"response.function_call_arguments.delta", "response.custom_tool_call_input.delta",
		"response.reasoning_text.delta", "response.reasoning_summary_text.delta":
		if !m.hasUsage {
			m.pending = append(m.pending, m.evText...)
		}
	case "response.output_item.added":
		r.evCalls.add(r.calls)
	case "response.output_item.done":
		r.evDone.add(r.calls)
	case "response.completed", "response.incomplete", "response.failed", "response.cancelled":
		m.complete = true
		r.final, r.haveFinal = r.calls, true
	}
	r.calls = ToolCalls{}
}
