package media

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// part is the part being read.
type part struct {
	name, filename, contentType string
	file                        bool
	size                        int64
	sink                        io.Writer
}

// header adds up to one line of a part's header block; a blank line ends
// the block.
func (f *Form) header(b []byte) (int, error) {
	i := bytes.IndexByte(b, '\n')
	n := len(b)
	if i >= 0 {
		n = i + 1
	}
	if len(f.hdr)+n > f.lim.MaxHeaderBytes {
		return n, fmt.Errorf("%w: headers of part %d longer than %d bytes", ErrTooLarge, f.parts+1, f.lim.MaxHeaderBytes)
	}
	f.hdr = appendCapped(f.hdr, b[:n], f.lim.MaxHeaderBytes)
	if i < 0 {
		return n, nil
	}
	if line := f.hdr[f.line:]; len(line) == 1 || len(line) == 2 && line[0] == '\r' {
		return n, f.beginPart(f.hdr[:f.line])
	}
	f.line = len(f.hdr)
	return n, nil
}

// appendCapped appends b to buf growing it to at most limit bytes of
// capacity (append's own growth could double past a limit); the caller has
// checked that len(buf)+len(b) <= limit.
func appendCapped(buf, b []byte, limit int) []byte {
	if need := len(buf) + len(b); need > cap(buf) {
		nb := make([]byte, len(buf), min(max(2*cap(buf), need, 256), limit))
		copy(nb, buf)
		buf = nb
	}
	return append(buf, b...)
}

// beginPart starts a part from its header block (without the blank line).
func (f *Form) beginPart(block []byte) error {
	f.parts++
	disp, ctype, err := partHeaders(block)
	if err != nil {
		return fmt.Errorf("%w: part %d: %w", ErrMalformed, f.parts, err)
	}
	if disp == "" {
		return fmt.Errorf("%w: part %d has no Content-Disposition", ErrMalformed, f.parts)
	}
	d, err := parseDisposition(disp)
	if err != nil {
		return fmt.Errorf("%w: part %d: Content-Disposition %q: %w", ErrMalformed, f.parts, disp, err)
	}
	if d.typ != "form-data" {
		return fmt.Errorf("%w: part %d: Content-Disposition is %q, not form-data", ErrMalformed, f.parts, d.typ)
	}
	if !d.hasName {
		return fmt.Errorf("%w: part %d: Content-Disposition has no name", ErrMalformed, f.parts)
	}
	f.part = part{name: d.name, filename: d.filename, contentType: ctype, file: d.hasFilename}
	if f.part.file {
		if len(f.res.Files) >= f.lim.MaxFiles {
			return fmt.Errorf("%w: more than %d files", ErrTooLarge, f.lim.MaxFiles)
		}
		if f.lim.FileSink != nil {
			f.part.sink = f.lim.FileSink(d.name, d.filename, ctype)
		}
	} else {
		if f.fields >= f.lim.MaxFields {
			return fmt.Errorf("%w: more than %d text fields", ErrTooLarge, f.lim.MaxFields)
		}
		f.fields++
	}
	f.val = f.val[:0]
	f.state, f.bodyStart = stateBody, true
	return nil
}

// content takes a piece of the current part's content (or of the preamble,
// which is dropped).
func (f *Form) content(b []byte) error {
	if f.state != stateBody || len(b) == 0 {
		return nil
	}
	if f.part.file {
		f.part.size += int64(len(b))
		if f.part.sink == nil {
			return nil
		}
		n, err := f.part.sink.Write(b)
		if err == nil && n < len(b) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return fmt.Errorf("media: file %q of field %q: %w", f.part.filename, f.part.name, err)
		}
		return nil
	}
	if len(f.val)+len(b) > f.lim.MaxFieldBytes {
		return fmt.Errorf("%w: field %q longer than %d bytes", ErrTooLarge, f.part.name, f.lim.MaxFieldBytes)
	}
	if f.total+len(b) > f.lim.MaxFieldsBytes {
		return fmt.Errorf("%w: text fields longer than %d bytes in all (at field %q)", ErrTooLarge, f.lim.MaxFieldsBytes, f.part.name)
	}
	f.total += len(b)
	f.val = appendCapped(f.val, b, f.lim.MaxFieldBytes)
	return nil
}

// endPart records the part a delimiter just ended.
func (f *Form) endPart() {
	p := &f.part
	if p.file {
		f.res.Files = append(f.res.Files, FilePart{Field: p.name, Filename: p.filename, ContentType: p.contentType, Size: p.size})
	} else {
		f.res.Fields[p.name] = append(f.res.Fields[p.name], string(f.val))
	}
	*p = part{}
}

// partHeaders returns a part's Content-Disposition and Content-Type values
// from its header block. Lines may end in CRLF or LF; an obsolete folded
// line (one starting with a space or tab) continues the header before it,
// as RFC 5322 unfolds it. A second Content-Disposition is an error: which one
// the upstream believes would decide the field's name.
func partHeaders(block []byte) (disposition, contentType string, err error) {
	var cur *string // the value a folded line continues; nil for other headers
	started, haveDisp, haveType := false, false, false
	for len(block) > 0 {
		line, rest, _ := bytes.Cut(block, []byte{'\n'})
		block = rest
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !started {
				return "", "", fmt.Errorf("header block starts with a folded line")
			}
			if cur != nil {
				*cur += " " + string(bytes.Trim(line, " \t"))
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || !isToken(name) {
			return "", "", fmt.Errorf("malformed header line %q", line)
		}
		started, cur = true, nil
		v := string(bytes.Trim(value, " \t"))
		switch {
		case bytes.EqualFold(name, []byte("Content-Disposition")):
			if haveDisp {
				return "", "", fmt.Errorf("two Content-Disposition headers")
			}
			haveDisp, disposition, cur = true, v, &disposition
		case bytes.EqualFold(name, []byte("Content-Type")) && !haveType:
			haveType, contentType, cur = true, v, &contentType
		}
	}
	return strings.TrimSpace(disposition), strings.TrimSpace(contentType), nil
}

// isToken reports whether b is a non-empty RFC 7230 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
