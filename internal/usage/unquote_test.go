package usage

import (
	"encoding/json"
	"testing"
)

// FuzzUnquote: unquoteValid decodes every valid JSON string literal exactly
// as json.Unmarshal does (escapes, surrogates, invalid UTF-8).
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{
		``, `plain`, `caf\u00e9 \"q\" \\ \/ \b\f\n\r\t`, `\ud83d\ude00`, `\ud83d`, `\ud83dx`,
		`\ude00\ud83d`, `\ud83d\u0041`, `\ud83d\ud83d\ude00`, "\xff\xfe ok \xe2\x82", "héllo\\n", `\u0000`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit := []byte(`"` + s + `"`)
		var want string
		if json.Unmarshal(lit, &want) != nil {
			return // not a valid literal: unquoteValid is never given one
		}
		if got := unquoteValid(lit); got != want {
			t.Fatalf("unquoteValid(%q) = %q, json.Unmarshal: %q", lit, got, want)
		}
	})
}
