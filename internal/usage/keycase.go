package usage

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unsafe"
)

// encoding/json matches object keys to struct fields case-insensitively
// ("Model" fills Model), and a later key wins over an earlier one. OpenAI's
// parameters are case-sensitive, so {"model":"o3","Model":"gpt-4o-mini"}
// would run o3 upstream while Proxide priced gpt-4o-mini, and
// {"max_tokens":10,"MAX_TOKENS":1} would shrink the worst case Proxide
// reserves. A top-level key that equals a known parameter only when case is
// folded is therefore refused: OpenAI refuses an unknown parameter too.
// (Keys nested deeper only change text Proxide counts: a "Content" it reads
// and OpenAI ignores makes the estimate larger, never smaller.)

// knownKeys maps each request type to the JSON names of its fields,
// embedded structs included.
var knownKeys sync.Map // reflect.Type → []string

func jsonNames(t reflect.Type) []string {
	if names, ok := knownKeys.Load(t); ok {
		return names.([]string)
	}
	var names []string
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			names = append(names, jsonNames(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	knownKeys.Store(t, names)
	return names
}

// checkKeyCase refuses a top-level key of the valid JSON object body that
// matches one of v's fields only case-insensitively.
func checkKeyCase(body []byte, v any) error {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := jsonNames(t)
	start := skipSpace(body, 0)
	if start >= len(body) || body[start] != '{' {
		return nil
	}
	// The walk of objectMembers, without keeping the members.
	for i := skipSpace(body, start+1); i < len(body) && body[i] == '"'; {
		m := member{key: i, keyEnd: skipValue(body, i)}
		key := memberKey(body, m)
		for _, name := range names {
			if key != name && strings.EqualFold(key, name) {
				return fmt.Errorf("%w: unknown parameter %q: parameters are case-sensitive (did you mean %q?)", ErrBadRequest, key, name)
			}
		}
		i = skipValue(body, skipSpace(body, skipSpace(body, m.keyEnd)+1))
		if i = skipSpace(body, i); i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return nil
}

// memberKey is the member's key, unescaped. An unescaped key is a view of
// b, not a copy: it is only compared, while b stays unchanged.
func memberKey(b []byte, m member) string {
	raw := b[m.key:m.keyEnd]
	if len(raw) > 2 && bytes.IndexByte(raw, '\\') < 0 {
		return unsafe.String(&raw[1], len(raw)-2) //nolint:gosec // G103: a view of b, only compared and never kept, while b is not written (see above)
	}
	k, _ := unquote(raw) // "" when it is not a string
	return k
}
