package usage

import (
	"strconv"
	"strings"
)

// Loop detection reads two more things from a request body: an exact digest
// of the canonical request and its meaningful tail. ParseRequest fills both
// from the structures it has already decoded, so detection costs no second
// parse; both are bounded and copy little (Tail items reference the decoded
// strings).

// Bounds of Request.Tail.
const (
	// MaxTailItems is the most items Request.Tail holds: the last ones of the
	// conversation, which is where a looping agent repeats itself.
	MaxTailItems = 8
	// MaxTailText bounds TailItem.Text in bytes. A longer text keeps its first
	// and last MaxTailText/2 bytes (cut at rune boundaries) joined by TailCut,
	// because a template's variable part is usually at one end.
	MaxTailText = 2 << 10
	// TailCut joins the two ends of a bounded TailItem.Text.
	TailCut = "\n…\n"
)

// Kinds of TailItem.
const (
	// KindText is the text of a message's content (all text parts joined by
	// a newline).
	KindText = "text"
	// KindRefusal is an assistant message's refusal.
	KindRefusal = "refusal"
	// KindCall is a tool or function call: Name is the function (or the
	// Responses item type for built-in tools), Text its arguments.
	KindCall = "call"
	// KindOutput is a tool result: a chat "tool"/"function" message, or a
	// Responses *_call_output item.
	KindOutput = "output"
	// KindMedia is an image, audio or file part; Text is a hex digest of the
	// part (its URL, file id or a sample of its data), not its content.
	KindMedia = "media"
)

// TailItem is one item of a request's tail, in conversation order.
type TailItem struct {
	// Role is the author: "system", "developer", "user", "assistant",
	// "tool" (tool results, also Responses *_call_output items), or whatever
	// the client sent.
	Role string
	// Kind is one of the Kind constants, or a Responses item type we do not
	// model (its text fields are kept).
	Kind string
	// Name is the called function for KindCall, the part type for KindMedia,
	// else the message's "name" field if any.
	Name string
	// Text is the item's text, bounded by MaxTailText.
	Text string
	// Size is the length of the text in bytes before bounding.
	Size int
}

// Common roles and Responses item types, decoded without allocating.
var (
	roles     = [...]string{"user", "assistant", "system", "tool", "developer", "function"}
	itemTypes = [...]string{"message", "function_call", "function_call_output", "reasoning"}
)

// intern decodes a JSON value as looseText, returning a constant from known
// when it is one of them.
func intern(b []byte, known []string) string {
	if n := len(b); n > 2 && b[0] == '"' && b[n-1] == '"' {
		for _, k := range known {
			if string(b[1:n-1]) == k {
				return k
			}
		}
	}
	return decodeLoose(b)
}

// roleName is a message role.
type roleName string

func (r *roleName) UnmarshalJSON(b []byte) error {
	*r = roleName(intern(b, roles[:]))
	return nil
}

// tail collects the last MaxTailItems items of a request in a ring, so a long
// conversation costs a few stores per message and only survivors are bounded.
type tail struct {
	ring [MaxTailItems]TailItem
	n    int // items added so far
}

func (t *tail) add(role, kind, name, text string) {
	t.ring[t.n%MaxTailItems] = TailItem{Role: role, Kind: kind, Name: name, Text: text}
	t.n++
}

// items returns the survivors in order with their texts bounded; nil if none.
func (t *tail) items() []TailItem {
	k := min(t.n, MaxTailItems)
	if k == 0 {
		return nil
	}
	out := make([]TailItem, k)
	for i := range k {
		it := t.ring[(t.n-k+i)%MaxTailItems]
		it.Size = len(it.Text)
		it.Text = boundText(it.Text)
		out[i] = it
	}
	return out
}

// boundText keeps both ends of a long s, cut at rune starts.
func boundText(s string) string {
	if len(s) <= MaxTailText {
		return s
	}
	half := MaxTailText / 2
	head, end := half, len(s)-half
	for head > 0 && !runeStart(s[head]) {
		head--
	}
	for end < len(s) && !runeStart(s[end]) {
		end++
	}
	return s[:head] + TailCut + s[end:]
}

func runeStart(b byte) bool { return b&0xC0 != 0x80 }

// hex16 formats v as 16 lowercase hex digits.
func hex16(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

// addContent adds a message content: its text parts joined as one item, then
// one item per media part.
func (t *tail) addContent(role, kind, name string, c *content) {
	text := c.text
	if len(c.parts) > 0 {
		var sb strings.Builder
		for i := range c.parts {
			p := &c.parts[i]
			if p.media != 0 {
				continue
			}
			for _, s := range [2]string{p.text, p.refusal} {
				if s != "" {
					if sb.Len() > 0 || text != "" {
						sb.WriteByte('\n')
					}
					sb.WriteString(s)
				}
			}
		}
		if sb.Len() > 0 {
			text += sb.String()
		}
	}
	if text != "" {
		t.add(role, kind, name, text)
	}
	for i := range c.parts {
		if p := &c.parts[i]; p.media != 0 {
			t.add(role, KindMedia, p.typ, hex16(p.media))
		}
	}
}

func (w *chatRequest) tail() []TailItem {
	var t tail
	for i := range w.Messages {
		m := &w.Messages[i]
		role := string(m.Role)
		kind := KindText
		if role == "tool" || role == "function" {
			kind = KindOutput
		}
		t.addContent(role, kind, string(m.Name), &m.Content)
		if m.Refusal != "" {
			t.add(role, KindRefusal, "", string(m.Refusal))
		}
		for _, tc := range m.ToolCalls {
			if f := tc.Function; f != nil {
				t.add(role, KindCall, string(f.Name), string(f.Arguments))
			}
		}
		if f := m.FunctionCall; f != nil {
			t.add(role, KindCall, string(f.Name), string(f.Arguments))
		}
	}
	return t.items()
}

func (w *responsesRequest) tail() []TailItem {
	var t tail
	t.addContent("system", KindText, "", &w.Instructions)
	if w.Input.isText && w.Input.text != "" {
		t.add("user", KindText, "", w.Input.text)
	}
	for i := range w.Input.items {
		it := &w.Input.items[i]
		switch typ := it.typ; {
		case typ == "" || typ == "message":
			role := it.role
			if role == "" {
				role = "user"
			}
			t.addContent(role, KindText, "", &it.content)
		case typ == "reasoning" || typ == "item_reference":
			// Model-internal or a pointer to stored state: nothing the
			// client wrote.
		case strings.HasSuffix(typ, "_output"):
			t.addContent("tool", KindOutput, "", &it.output)
		case strings.HasSuffix(typ, "_call"):
			name := it.name
			if name == "" {
				name = typ
			}
			t.add("assistant", KindCall, name, it.arguments)
		default:
			t.addContent(it.role, typ, it.name, &it.content)
		}
	}
	return t.items()
}

func (f *textOrTokens) tail() []TailItem {
	var t tail
	for _, s := range f.texts {
		if s != "" {
			t.add("user", KindText, "", s)
		}
	}
	return t.items()
}
