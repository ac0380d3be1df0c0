package media

import (
	"bytes"
	"fmt"
)

// maxUndecided is the most a Form leaves unconsumed between writes: a
// delimiter ("\r\n--" and the boundary) and the two bytes after it that tell
// a real delimiter from the boundary string inside content.
const maxUndecided = 4 + maxBoundary + 2

type formState uint8

const (
	statePreamble  formState = iota // before the first delimiter: ignored
	stateDelimLine                  // after a delimiter: padding, then the line end
	stateHeader                     // a part's header block
	stateBody                       // a part's content
	stateEpilogue                   // after the close delimiter: ignored
)

// step consumes a prefix of b and returns its length. What it leaves (less
// than maxUndecided bytes) may begin a delimiter and needs more input.
func (f *Form) step(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		var k int
		var err error
		switch f.state {
		case statePreamble, stateBody:
			var wait bool
			k, wait, err = f.scan(b[n:])
			if wait {
				return n + k, err
			}
		case stateDelimLine:
			k, err = f.delimLine(b[n:])
		case stateHeader:
			k, err = f.header(b[n:])
		default: // the epilogue, ignored as RFC 2046 says
			return len(b), nil
		}
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// pattern is the delimiter to look for: "\n--boundary" in the preamble (at
// a line start, after the virtual first line break), the body's own line
// ending and "--boundary" after a part.
func (f *Form) pattern() []byte {
	if f.state == statePreamble || !f.crlf {
		return f.delim[1:]
	}
	return f.delim
}

// scan passes content up to the next delimiter. wait reports that b[k:]
// may start a delimiter that only more input can confirm.
func (f *Form) scan(b []byte) (k int, wait bool, err error) {
	pat := f.pattern()
	if f.bodyStart {
		// A part may end right after its headers' blank line, whose line
		// break then doubles as the delimiter's (sloppy clients send empty
		// parts so; Go's reader allows it too).
		dash := pat[len(pat)-len(f.delim)+2:]
		if bytes.HasPrefix(dash, b) {
			return 0, true, nil
		}
		if bytes.HasPrefix(b, dash) {
			isDelim, isClose, known := afterBoundary(b[len(dash):])
			if !known {
				return 0, true, nil
			}
			if isDelim {
				return f.delimiter(len(dash), isClose), false, nil
			}
		}
		f.bodyStart = false
	}
	for from := 0; ; {
		i := bytes.Index(b[from:], pat)
		if i < 0 {
			break
		}
		i += from
		end := i + len(pat)
		isDelim, isClose, known := afterBoundary(b[end:])
		if !known {
			return i, true, f.content(b[:i])
		}
		if !isDelim {
			// The boundary string inside content ("--boundaryX"), which
			// RFC 2046 lets senders avoid but Go's reader tolerates too.
			from = i + 1
			continue
		}
		if err := f.content(b[:i]); err != nil {
			return i, false, err
		}
		return f.delimiter(end, isClose), false, nil
	}
	j := heldFrom(b, pat)
	return j, j < len(b), f.content(b[:j])
}

// delimiter ends the part (if any) at a delimiter that ends at end, and
// returns end with the "--" of a close delimiter.
func (f *Form) delimiter(end int, isClose bool) int {
	if f.state == stateBody {
		f.endPart()
	}
	if isClose {
		f.state = stateEpilogue
		return end + 2
	}
	f.state = stateDelimLine
	return end
}

// afterBoundary classifies what follows "--boundary": padding or a line end
// makes a delimiter, "--" the close delimiter, anything else content.
func afterBoundary(rest []byte) (isDelim, isClose, known bool) {
	if len(rest) == 0 {
		return false, false, false
	}
	switch rest[0] {
	case ' ', '\t', '\r', '\n':
		return true, false, true
	case '-':
		if len(rest) < 2 {
			return false, false, false
		}
		return rest[1] == '-', rest[1] == '-', true
	}
	return false, false, true
}

// heldFrom returns where the longest suffix of b that is a proper prefix of
// pat starts (len(b) if none): those bytes must wait for more input.
func heldFrom(b, pat []byte) int {
	for j := max(0, len(b)-len(pat)+1); j < len(b); j++ {
		k := bytes.IndexByte(b[j:], pat[0])
		if k < 0 {
			break
		}
		j += k
		if bytes.HasPrefix(pat, b[j:]) {
			return j
		}
	}
	return len(b)
}

// delimLine reads the rest of a delimiter line: transport padding (spaces,
// tabs) and the line end.
func (f *Form) delimLine(b []byte) (int, error) {
	for i, c := range b {
		if f.sawCR {
			f.sawCR = false
			if c != '\n' {
				return i, f.badDelimLine()
			}
			return i + 1, f.beginHeaders(true)
		}
		switch c {
		case ' ', '\t':
		case '\r':
			f.sawCR = true
		case '\n':
			return i + 1, f.beginHeaders(false)
		default:
			return i, f.badDelimLine()
		}
	}
	return len(b), nil
}

// badDelimLine: a preamble line that only starts like the first boundary is
// still preamble (as in Go's reader); after a part it is an error.
func (f *Form) badDelimLine() error {
	if f.first {
		f.state = statePreamble
		return nil
	}
	return fmt.Errorf("%w: unexpected bytes after the boundary that ends part %d", ErrMalformed, f.parts)
}

func (f *Form) beginHeaders(crlf bool) error {
	switch {
	case f.first:
		f.crlf, f.first = crlf, false
	case crlf != f.crlf && f.crlf:
		return fmt.Errorf("%w: delimiter line ends in a bare LF in a CRLF body", ErrMalformed)
	case crlf != f.crlf:
		return fmt.Errorf("%w: delimiter line ends in CRLF in an LF-only body", ErrMalformed)
	}
	f.state = stateHeader
	f.hdr, f.line = f.hdr[:0], 0
	return nil
}
