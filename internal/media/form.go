package media

import (
	"errors"
	"fmt"
	"io"
	"mime"
)

// Default limits of a Form, used where FormLimits leaves a field zero.
const (
	DefaultMaxFieldBytes  = 64 << 10
	DefaultMaxFields      = 256
	DefaultMaxFieldsBytes = 1 << 20
	DefaultMaxFiles       = 64
	DefaultMaxHeaderBytes = 8 << 10
)

// maxBoundary is RFC 2046's limit on a boundary's length.
const maxBoundary = 70

// Errors a Form reports, wrapped with the details; test with errors.Is.
var (
	// ErrNotMultipart: the content type is not multipart/form-data with a
	// valid boundary.
	ErrNotMultipart = errors.New("media: not a multipart/form-data content type")
	// ErrMalformed: the body breaks the multipart syntax.
	ErrMalformed = errors.New("media: malformed multipart body")
	// ErrTruncated: the body ends before its closing boundary.
	ErrTruncated = errors.New("media: multipart body ends before its closing boundary")
	// ErrTooLarge: a part's headers, a text field or the number of parts
	// passes its FormLimits.
	ErrTooLarge = errors.New("media: multipart body over its limits")
)

// FormLimits bound what a Form keeps; a zero field takes its default.
type FormLimits struct {
	// MaxFieldBytes caps one text field's value (default 64 KiB). A longer
	// one is an error naming the field.
	MaxFieldBytes int
	// MaxFields caps the number of text fields (default 256).
	MaxFields int
	// MaxFieldsBytes caps all text values together (default 1 MiB, or
	// MaxFieldBytes when that is larger), so a form of many maximal fields
	// cannot make one request hold MaxFields × MaxFieldBytes.
	MaxFieldsBytes int
	// MaxFiles caps the number of file parts (default 64).
	MaxFiles int
	// MaxHeaderBytes caps one part's header block, line endings included
	// (default 8 KiB).
	MaxHeaderBytes int

	// FileSink, when set, is asked once per file part for a writer that then
	// receives the part's bytes as they pass (to measure audio without
	// buffering it). A nil writer, or a nil FileSink, keeps only the size.
	// It lives here because it bounds nothing but is the one other thing a
	// Form needs up front.
	FileSink func(field, filename, contentType string) io.Writer
}

func (l FormLimits) withDefaults() FormLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxFieldBytes, DefaultMaxFieldBytes)
	def(&l.MaxFields, DefaultMaxFields)
	def(&l.MaxFieldsBytes, max(DefaultMaxFieldsBytes, l.MaxFieldBytes))
	def(&l.MaxFiles, DefaultMaxFiles)
	def(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	return l
}

// FormResult is what a Form read from a body.
type FormResult struct {
	// Fields holds the text fields (parts without a filename), each name's
	// values in body order (`image[]` or `timestamp_granularities[]` repeat).
	// Values are the part's bytes unchanged: OpenAI reads them as UTF-8 and
	// so does Proxide; a part's charset parameter is not applied.
	Fields map[string][]string
	// Files holds the file parts in body order.
	Files []FilePart
}

// FilePart describes one file part: a part whose Content-Disposition has a
// filename (or filename*) parameter, even an empty one, as browsers send for
// an empty file input.
type FilePart struct {
	Field       string // the part's name parameter
	Filename    string // as sent (filename* decoded), paths not stripped
	ContentType string // the part's Content-Type header as sent, "" if none
	Size        int64  // bytes of content
}

// Value returns the first value of the text field name.
func (r FormResult) Value(name string) (string, bool) {
	if v := r.Fields[name]; len(v) > 0 {
		return v[0], true
	}
	return "", false
}

// Form reads a multipart/form-data body (RFC 7578, RFC 2046) written to it
// in pieces of any size: NewForm, Write each piece, Close for the result.
// Every split of the same body gives the same result. It holds at most one
// part's header block, the text fields it keeps and a few dozen bytes that
// may begin a delimiter: never a file's content, which goes to the
// FileSink, nor the preamble or epilogue, which are ignored.
//
// Line endings are CRLF as RFC 2046 says, or LF throughout for the sloppy
// clients that send that: the first delimiter line decides, as in Go's
// mime/multipart, and a later delimiter line that ends the other way is an
// error; in a CRLF body "\n--boundary" is content, as it is to a strict
// server. Header lines may end either way, and an obsolete folded header
// line is unfolded. Like Go's reader, a Form takes the boundary string
// inside content for content unless padding, a line end or "--" follows it,
// and lets an empty part's delimiter follow its headers' blank line
// directly. Content-Transfer-Encoding, deprecated by RFC 7578, is ignored:
// sizes are of the bytes sent.
//
// A Form is not safe for concurrent use.
type Form struct {
	lim   FormLimits
	delim []byte // "\r\n--boundary"; in an LF body delim[1:]
	crlf  bool   // decided by the first delimiter line
	first bool   // the next delimiter line is the first
	sawCR bool   // in a delimiter line: a CR was read
	// bodyStart: no byte of the current part's content is decided yet
	bodyStart bool
	state     formState

	// carry holds bytes that may start a delimiter, from one Write to the
	// next; it is backed by carryBuf so it never allocates.
	carry    []byte
	carryBuf [2 * maxUndecided]byte

	hdr    []byte // the current part's header block
	line   int    // where the current header line starts in hdr
	parts  int    // parts begun
	fields int    // text fields begun
	part   part   // the current part
	val    []byte // the current text field's value
	total  int    // bytes of all text values

	res    FormResult
	err    error
	closed bool
}

var errClosed = errors.New("media: Write after Close")

// NewForm returns a Form for a body sent with the given Content-Type header,
// which must be multipart/form-data with a boundary parameter, quoted or not,
// of 1–70 characters from RFC 2046's set.
func NewForm(contentType string, limits FormLimits) (*Form, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotMultipart, err)
	}
	if mt != "multipart/form-data" {
		return nil, fmt.Errorf("%w: %q", ErrNotMultipart, mt)
	}
	b, ok := params["boundary"]
	if !ok {
		return nil, fmt.Errorf("%w: no boundary parameter", ErrNotMultipart)
	}
	if !validBoundary(b) {
		return nil, fmt.Errorf("%w: invalid boundary %q", ErrNotMultipart, b)
	}
	f := &Form{
		lim:   limits.withDefaults(),
		delim: []byte("\r\n--" + b),
		first: true,
		res:   FormResult{Fields: map[string][]string{}},
	}
	// A virtual line break before the body lets the first boundary match at
	// offset 0 with the same "\n--boundary" pattern as after a preamble line.
	f.carry = append(f.carryBuf[:0], '\n')
	return f, nil
}

// Write consumes the next piece of the body. After an error every call
// returns the same error.
func (f *Form) Write(p []byte) error {
	if f.closed {
		return errClosed
	}
	if f.err != nil {
		return f.err
	}
	for len(p) > 0 {
		if len(f.carry) == 0 {
			n, err := f.step(p)
			if err != nil {
				return f.fail(err)
			}
			f.carry = append(f.carry, p[n:]...)
			return nil
		}
		// Join the held bytes with the start of p so that a delimiter split
		// between them is seen whole, copying no more than the join needs.
		held := len(f.carry)
		take := min(len(p), cap(f.carry)-held)
		f.carry = append(f.carry, p[:take]...)
		n, err := f.step(f.carry)
		if err != nil {
			return f.fail(err)
		}
		if left := len(f.carry) - n; left <= take {
			// What is still undecided came from p: read on from p in place.
			p = p[take-left:]
			f.carry = f.carry[:0]
			continue
		}
		f.carry = f.carry[:copy(f.carry, f.carry[n:])]
		p = p[take:]
	}
	return nil
}

// Close ends the body and returns what was read. A body cut short or
// malformed returns an error together with what was read before it.
func (f *Form) Close() (FormResult, error) {
	f.closed = true
	if f.err == nil && f.state != stateEpilogue {
		switch {
		case f.first:
			f.err = fmt.Errorf("%w (no complete first boundary)", ErrTruncated)
		case f.state == stateDelimLine:
			f.err = fmt.Errorf("%w (in the boundary line after part %d)", ErrTruncated, f.parts)
		case f.state == stateHeader:
			f.err = fmt.Errorf("%w (in the headers of part %d)", ErrTruncated, f.parts+1)
		default:
			f.err = fmt.Errorf("%w (in part %d, %q)", ErrTruncated, f.parts, f.part.name)
		}
	}
	return f.res, f.err
}

func (f *Form) fail(err error) error {
	f.err = err
	f.carry = f.carry[:0] // nothing more will be read
	return err
}

// validBoundary reports whether b is an RFC 2046 boundary: 1–70 bchars, not
// ending in a space.
func validBoundary(b string) bool {
	if b == "" || len(b) > maxBoundary || b[len(b)-1] == ' ' {
		return false
	}
	for i := range len(b) {
		c := b[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '\'' || c == '(' || c == ')' || c == '+' || c == '_' || c == ',' ||
			c == '-' || c == '.' || c == '/' || c == ':' || c == '=' || c == '?' || c == ' ':
		default:
			return false
		}
	}
	return true
}

// Complete reports whether the closing boundary has been read: the whole form is
// known even if more bytes (an epilogue, an empty end-of-stream piece) follow.
func (f *Form) Complete() bool { return f.err == nil && !f.first && f.state == stateEpilogue }
