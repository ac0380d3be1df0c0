package usage

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The types below decode the polymorphic parts of OpenAI requests during the
// single json.Unmarshal of the body. Prompt text is decoded leniently: a
// shape we do not know is counted as its JSON text rather than rejected, so
// Proxide never refuses a request OpenAI would accept.

// firstByte returns the first non-space byte of a JSON value.
func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// rawJSON keeps a value's compact JSON text (tool definitions are counted as
// their JSON); null is empty.
type rawJSON string

func (r *rawJSON) UnmarshalJSON(b []byte) error {
	if firstByte(b) == 'n' {
		*r = ""
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	*r = rawJSON(validUTF8(buf.String()))
	return nil
}

// looseText is a string, or the JSON text of any other value; null is empty.
type looseText string

func (t *looseText) UnmarshalJSON(b []byte) error {
	*t = looseText(decodeLoose(b))
	return nil
}

// decodeLoose decodes valid JSON b as looseText.
func decodeLoose(b []byte) string {
	switch firstByte(b) {
	case 'n':
		return ""
	case '"':
		return unquoteValid(bytes.TrimSpace(b))
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return validUTF8(string(b))
	}
	return validUTF8(buf.String())
}

// validUTF8 replaces invalid bytes as encoding/json does for strings, so
// that "a token is at least one byte" holds for every counted text.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// content is a message's content: a string, an array of parts, or null.
// Parts are walked, not decoded, so an inline image or file is only skipped.
type content struct {
	text  string
	parts []contentPart
	set   bool
}

func (c *content) UnmarshalJSON(b []byte) error {
	switch firstByte(b) {
	case 'n':
	case '[':
		c.set = true
		eachElement(b, func(e []byte) { c.parts = append(c.parts, partOf(e)) })
	default:
		c.set = true
		c.text = decodeLoose(b)
	}
	return nil
}

func (c *content) present() bool { return c.set }

func (c *content) addTo(p *prompt) {
	p.text(c.text)
	for i := range c.parts {
		c.parts[i].addTo(p)
	}
}

// contentPart is one part of an array content: text, refusal, or an input
// (image, audio, file) whose tokens the body does not show.
type contentPart struct {
	typ, text, refusal string
	media              uint64 // mediaDigest of a media part, else 0
}

// mediaKind sorts a media part type: image parts have a per-model maximum,
// audio and file parts have none.
func mediaKind(typ string) byte {
	switch typ {
	case "image_url", "input_image", "image":
		return 'i'
	case "input_audio", "audio":
		return 'a'
	}
	return 'f'
}

// partOf reads a part; anything but an object counts as text.
func partOf(e []byte) contentPart {
	if firstByte(e) != '{' {
		return contentPart{text: decodeLoose(e)}
	}
	var c contentPart
	eachMember(e, func(m member, v []byte) {
		switch {
		case m.keyIs(e, "type"):
			c.typ = decodeLoose(v)
		case m.keyIs(e, "text"):
			c.text = decodeLoose(v)
		case m.keyIs(e, "refusal"):
			c.refusal = decodeLoose(v)
		}
	})
	if isMedia(c.typ) {
		c.media = mediaDigest(e)
	}
	return c
}

// isMedia reports the part types priced as a fixed-size input.
func isMedia(typ string) bool {
	switch typ {
	case "image_url", "input_image", "image", "input_audio", "audio", "file", "input_file":
		return true
	}
	return false
}

func (c *contentPart) addTo(p *prompt) {
	if c.media != 0 {
		switch mediaKind(c.typ) {
		case 'i':
			p.images++
		case 'a':
			p.audios++
		default:
			p.files++
		}
		return
	}
	p.text(c.text)
	p.text(c.refusal)
}

// respInput is a Responses input: a string or an array of items.
type respInput struct {
	text   string
	isText bool
	items  []respItem
}

func (r *respInput) UnmarshalJSON(b []byte) error {
	switch firstByte(b) {
	case 'n':
		return nil
	case '"':
		r.isText = true
		r.text = decodeLoose(b)
		return nil
	case '[':
		eachElement(b, func(e []byte) { r.items = append(r.items, itemOf(e)) })
		return nil
	default:
		return &fieldError{field: "input", msg: "must be a string or an array of input items"}
	}
}

// respItem is one item of a Responses input array: a message (with or
// without "type":"message"), a function call, a function call's output, a
// reasoning item. Unknown kinds contribute whatever text fields they have.
type respItem struct {
	content, output, summary content
	name, arguments          string
	typ, role                string
}

func itemOf(e []byte) respItem {
	var it respItem
	if firstByte(e) != '{' {
		it.content.text = decodeLoose(e)
		return it
	}
	eachMember(e, func(m member, v []byte) {
		switch {
		case m.keyIs(e, "content"):
			_ = it.content.UnmarshalJSON(v)
		case m.keyIs(e, "output"):
			_ = it.output.UnmarshalJSON(v)
		case m.keyIs(e, "summary"):
			_ = it.summary.UnmarshalJSON(v)
		case m.keyIs(e, "name"):
			it.name = decodeLoose(v)
		case m.keyIs(e, "arguments"):
			it.arguments = decodeLoose(v)
		case m.keyIs(e, "type"):
			it.typ = intern(v, itemTypes[:])
		case m.keyIs(e, "role"):
			it.role = intern(v, roles[:])
		}
	})
	return it
}

// textOrTokens is a completions prompt or an embeddings input: a string, an
// array of strings, an array of token ids, or an array of token-id arrays.
type textOrTokens struct {
	texts  []string
	tokens int64 // token ids given directly: an exact count
	inputs int64
	raw    uint64 // xxhash64 of the JSON of token ids, for Request.Digest
}

func (t *textOrTokens) decode(field string, b []byte) error {
	bad := &fieldError{field: field, msg: "must be a string, an array of strings, an array of token ids or an array of token-id arrays"}
	switch firstByte(b) {
	case 'n':
		return nil
	case '"':
		t.texts, t.inputs = []string{unquoteValid(bytes.TrimSpace(b))}, 1
		return nil
	case '[':
	default:
		return bad
	}
	i := bytes.IndexByte(b, '[')
	switch c := firstByte(b[i+1:]); {
	case c == ']':
		return nil
	case c == '"':
		// What json.Unmarshal into []string accepts: strings, and null as "".
		ok := true
		eachElement(b, func(e []byte) {
			switch firstByte(e) {
			case '"':
				t.texts = append(t.texts, unquoteValid(e))
			case 'n':
				t.texts = append(t.texts, "")
			default:
				ok = false
			}
		})
		if !ok {
			t.texts = nil
			return bad
		}
		t.inputs = int64(len(t.texts))
	case c == '[':
		var ids [][]int64
		if json.Unmarshal(b, &ids) != nil {
			return bad
		}
		t.inputs = int64(len(ids))
		for _, s := range ids {
			t.tokens += int64(len(s))
		}
		t.raw = rawDigest(b)
	case c == '-' || (c >= '0' && c <= '9'):
		var ids []int64
		if json.Unmarshal(b, &ids) != nil {
			return bad
		}
		t.inputs, t.tokens = 1, int64(len(ids))
		t.raw = rawDigest(b)
	default:
		return bad
	}
	return nil
}

func (t *textOrTokens) addTo(p *prompt) {
	for _, s := range t.texts {
		p.text(s)
	}
	p.tokens += t.tokens
}

type promptField struct{ textOrTokens }

func (f *promptField) UnmarshalJSON(b []byte) error { return f.decode("prompt", b) }

type inputField struct{ textOrTokens }

func (f *inputField) UnmarshalJSON(b []byte) error { return f.decode("input", b) }

// prompt collects the countable pieces of a request.
type prompt struct {
	texts    []string
	bytes    int
	overhead int64 // per-message framing tokens
	tokens   int64 // exact counts given as token ids
	images   int64 // image parts
	audios   int64 // audio parts
	files    int64 // file parts (by id or inline)
	// unbounded: something else adds tokens the body does not show (a stored
	// previous response or conversation)
	unbounded bool
}

// message adds OpenAI's per-message framing (cookbook: 3 tokens).
func (p *prompt) message() { p.overhead += 3 }

// reply adds the 3 tokens that prime the assistant's reply.
func (p *prompt) reply() { p.overhead += 3 }

func (p *prompt) text(s string) {
	if s != "" {
		p.texts = append(p.texts, s)
		p.bytes += len(s)
	}
}

// count returns the prompt estimate: tiktoken when the text is small enough,
// else its byte length, which bounds the token count from above because every
// token stands for at least one byte of UTF-8.
func (p *prompt) count(model string, o Options) (int64, bool) {
	perImage := o.ImageTokens
	if perImage == 0 {
		perImage = ImageTokensMax(model)
	}
	fixed := p.overhead + p.tokens + p.images*perImage
	if p.bytes > o.ExactPromptBytes {
		return int64(p.bytes) + fixed, false
	}
	n := fixed
	for _, s := range p.texts {
		n += o.Counts.Count(model, s)
	}
	return n, true
}
