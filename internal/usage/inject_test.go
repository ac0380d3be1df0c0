package usage

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInjectIncludeUsage(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"absent", `{"model":"gpt-4o","stream":true}`, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`},
		{"absent, pretty", "{\n  \"model\": \"gpt-4o\",\n  \"stream\": true\n}\n", "{\n  \"model\": \"gpt-4o\",\n  \"stream\": true,\"stream_options\":{\"include_usage\":true}\n}\n"},
		{"empty object", `{}`, `{"stream_options":{"include_usage":true}}`},
		{"empty object with spaces", " { } ", ` {"stream_options":{"include_usage":true} } `},
		{"other keys kept", `{"model":"m","stream_options":{"include_obfuscation":false},"stream":true}`, `{"model":"m","stream_options":{"include_obfuscation":false,"include_usage":true},"stream":true}`},
		{"false to true", `{"stream":true,"stream_options":{"include_usage":false}}`, `{"stream":true,"stream_options":{"include_usage":true}}`},
		{"false to true, spaced", `{"stream_options" : { "include_usage" : false , "x" : 1 } }`, `{"stream_options" : { "include_usage" : true , "x" : 1 } }`},
		{"already true", `{"stream_options":{"include_usage":true}}`, `{"stream_options":{"include_usage":true}}`},
		{"null include_usage", `{"stream_options":{"include_usage":null}}`, `{"stream_options":{"include_usage":true}}`},
		{"empty stream_options", `{"stream_options":{ }}`, `{"stream_options":{"include_usage":true }}`},
		{"null stream_options", `{"stream_options":null,"model":"m"}`, `{"stream_options":{"include_usage":true},"model":"m"}`},
		{"escaped key", `{"stream\u005foptions":{"include\u005fusage":false}}`, `{"stream\u005foptions":{"include\u005fusage":true}}`},
		{"nested look-alikes untouched", `{"metadata":{"stream_options":"x"},"messages":[{"content":"\"stream_options\":{}"}]}`,
			`{"metadata":{"stream_options":"x"},"messages":[{"content":"\"stream_options\":{}"}],"stream_options":{"include_usage":true}}`},
		{"duplicates all rewritten", `{"stream_options":{"include_usage":false},"stream_options":{}}`, `{"stream_options":{"include_usage":true},"stream_options":{"include_usage":true}}`},
		{"unicode and escapes kept", `{"messages":[{"content":"caf\u00e9 \"x\" 日本"}],"n":1e0}`, `{"messages":[{"content":"caf\u00e9 \"x\" 日本"}],"n":1e0,"stream_options":{"include_usage":true}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InjectIncludeUsage([]byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			require.True(t, json.Valid(got))

			// Every original key survives with its value, except the
			// include_usage we set.
			var before, after map[string]any
			require.NoError(t, json.Unmarshal([]byte(tc.in), &before))
			require.NoError(t, json.Unmarshal(got, &after))
			so, ok := after["stream_options"].(map[string]any)
			require.True(t, ok)
			require.Equal(t, true, so["include_usage"])
			for k, v := range before {
				if k == "stream_options" {
					if m, ok := v.(map[string]any); ok {
						for k2, v2 := range m {
							if k2 != "include_usage" {
								require.Equal(t, v2, so[k2], k2)
							}
						}
					}
					continue
				}
				require.Equal(t, v, after[k], k)
			}
			_, had := before["stream_options"]
			wantKeys := len(before)
			if !had {
				wantKeys++
			}
			require.Len(t, after, wantKeys)

			// The request parser now sees the option.
			req, err := ParseRequest(Other, got, Options{})
			require.NoError(t, err)
			require.True(t, req.IncludeUsage)
		})
	}
}

func TestInjectIncludeUsageErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `"x"`, `null`, `{"a":1}}`, `{"stream_options":"yes"}`, `{"stream_options":[]}`} {
		_, err := InjectIncludeUsage([]byte(in))
		require.ErrorIs(t, err, ErrBadRequest, in)
	}
}
