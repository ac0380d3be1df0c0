package usage

import (
	"encoding/json"
	"testing"
)

// FuzzUnquote: unquoteValid decodes every valid JSON string literal exactly
// as json.Unmarshal does (escapes, surrogates, invalid UTF-8), and unquote
// accepts exactly the literals json.Unmarshal does.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{
		``, `plain`, `caf\u00e9 \"q\" \\ \/ \b\f\n\r\t`, `\ud83d\ude00`, `\ud83d`, `\ud83dx`,
		`\ude00\ud83d`, `\ud83d\u0041`, `\ud83d\ud83d\ude00`, "\xff\xfe ok \xe2\x82", "héllo\\n", `\u0000`, `\u12`, `\q`, "tab\there", `\`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit := []byte(`"` + s + `"`)
		var want string
		jerr := json.Unmarshal(lit, &want)
		// unquote takes any bytes: it decodes what json.Unmarshal accepts.
		if got, ok := unquote(lit); ok != (jerr == nil) || got != want {
			t.Fatalf("unquote(%q) = %q, %v; json.Unmarshal: %q, %v", lit, got, ok, want, jerr)
		}
		if jerr != nil {
			return // not a valid literal: unquoteValid is never given one
		}
		if got := unquoteValid(lit); got != want {
			t.Fatalf("unquoteValid(%q) = %q, json.Unmarshal: %q", lit, got, want)
		}
	})
}
