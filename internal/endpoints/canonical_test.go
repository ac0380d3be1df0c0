package endpoints

import (
	"testing"

	"github.com/stretchr/testify/require"
)

var testPrefixes = []string{"/openai/v1", "/v1"}

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name, raw  string
		suffix     string
		query      string
		unprefixed bool // no prefix matched
		ambiguous  bool
	}{
		{name: "plain", raw: "/openai/v1/chat/completions", suffix: "/chat/completions"},
		{name: "second prefix", raw: "/v1/chat/completions", suffix: "/chat/completions"},
		{name: "prefix only", raw: "/openai/v1", suffix: "/"},
		{name: "prefix with slash", raw: "/openai/v1/", suffix: "/"},
		{name: "escaped slash", raw: "/openai/v1/chat%2Fcompletions", ambiguous: true},
		{name: "escaped slash lower", raw: "/openai/v1/chat%2fcompletions", ambiguous: true},
		{name: "escaped backslash", raw: "/openai/v1/chat%5Ccompletions", ambiguous: true},
		{name: "escaped backslash lower", raw: "/openai/v1/chat%5ccompletions", ambiguous: true},
		{name: "raw backslash", raw: "/openai/v1/chat\\completions", ambiguous: true},
		{name: "backslash dot dot", raw: "/openai/v1/x\\..\\chat/completions", ambiguous: true},
		{name: "doubled slash", raw: "/openai/v1//chat/completions", suffix: "/chat/completions"},
		{name: "slashes everywhere", raw: "//openai//v1///chat//completions//", suffix: "/chat/completions"},
		{name: "escaped unreserved", raw: "/openai/v1/%63hat/completions", suffix: "/chat/completions"},
		{name: "escaped unreserved keeps case", raw: "/openai/v1/%63HAT/%43ompletions", suffix: "/cHAT/Completions"},
		{name: "escaped tilde and dash", raw: "/openai/v1/files/a%7eb%2Dc%5f", suffix: "/files/a~b-c_"},
		{name: "dot segment", raw: "/openai/v1/./chat/completions", suffix: "/chat/completions"},
		{name: "trailing dot", raw: "/openai/v1/chat/completions/.", suffix: "/chat/completions"},
		{name: "escaped dot segment", raw: "/openai/v1/%2E/chat/%2e/completions", suffix: "/chat/completions"},
		{name: "case and trailing slash", raw: "/OpenAI/V1/chat/completions/", suffix: "/chat/completions"},
		{name: "case of the path kept", raw: "/OPENAI/v1/Chat/Completions", suffix: "/Chat/Completions"},
		{name: "dot dot after the prefix", raw: "/openai/v1/x/../chat/completions", suffix: "/chat/completions"},
		{name: "escaped dot dot after the prefix", raw: "/openai/v1/x/%2e%2E/chat/completions", suffix: "/chat/completions"},
		{name: "escaped dot dot into the prefix", raw: "/openai/v1/%2e%2e/v1/chat/completions", ambiguous: true},
		{name: "dot dot into the prefix", raw: "/openai/v1/../v1/chat/completions", ambiguous: true},
		{name: "dot dot out of the prefix", raw: "/openai/v1/../../v1/chat/completions", ambiguous: true},
		{name: "dot dot above the root", raw: "/../openai/v1/chat/completions", ambiguous: true},
		{name: "dot dot before the prefix", raw: "/openai/x/../v1/chat/completions", suffix: "/chat/completions"},
		{name: "dot dot to the root and back", raw: "/x/../openai/v1/embeddings", suffix: "/embeddings"},
		{name: "double escaped slash stays", raw: "/openai/v1/files/file-abc%252Fdef", suffix: "/files/file-abc%252Fdef"},
		{name: "double escaped slash is one segment", raw: "/openai/v1/chat%252Fcompletions", suffix: "/chat%252Fcompletions"},
		{name: "other escapes upper-cased", raw: "/openai/v1/files/a%2ab%3a", suffix: "/files/a%2Ab%3A"},
		{name: "escaped semicolon is a literal", raw: "/openai/v1/chat/completions%3Bx=1", suffix: "/chat/completions%3Bx=1"},
		{name: "matrix parameters", raw: "/openai/v1/chat/completions;x=1", ambiguous: true},
		{name: "matrix parameters mid-path", raw: "/openai/v1/chat;v=2/completions", ambiguous: true},
		{name: "query with slash", raw: "/openai/v1/chat/completions?after=a/b&x=%2F", suffix: "/chat/completions", query: "after=a/b&x=%2F"},
		{name: "query with dots", raw: "/openai/v1/files?x=/../../y", suffix: "/files", query: "x=/../../y"},
		{name: "empty query", raw: "/openai/v1/models?", suffix: "/models"},
		{name: "fragment", raw: "/openai/v1/models#top", suffix: "/models"},
		{name: "query then fragment", raw: "/openai/v1/models?a=1#top", suffix: "/models", query: "a=1"},
		{name: "bad escape", raw: "/openai/v1/files/%ZZ", ambiguous: true},
		{name: "short escape", raw: "/openai/v1/files/%4", ambiguous: true},
		{name: "percent at the end", raw: "/openai/v1/files/%", ambiguous: true},
		{name: "escaped NUL", raw: "/openai/v1/files/a%00", ambiguous: true},
		{name: "escaped newline", raw: "/openai/v1/files/a%0A", ambiguous: true},
		{name: "raw control", raw: "/openai/v1/files/a\x01", ambiguous: true},
		{name: "raw DEL", raw: "/openai/v1/files/a\x7f", ambiguous: true},
		{name: "invalid UTF-8 escape", raw: "/openai/v1/files/%FF", ambiguous: true},
		{name: "invalid raw UTF-8", raw: "/openai/v1/files/\xc3", ambiguous: true},
		{name: "valid UTF-8 escape", raw: "/openai/v1/files/%c3%a9", suffix: "/files/%C3%A9"},
		{name: "raw UTF-8 escaped", raw: "/openai/v1/files/\u00e9", suffix: "/files/%C3%A9"},
		{name: "space escaped", raw: "/openai/v1/files/a b", suffix: "/files/a%20b"},
		{name: "sub-delims kept", raw: "/openai/v1/files/a:b@c!$&'()*+,=", suffix: "/files/a:b@c!$&'()*+,="},
		{name: "prefix at a segment boundary only", raw: "/openai/v1x/chat/completions", suffix: "/openai/v1x/chat/completions", unprefixed: true},
		{name: "no prefix", raw: "/healthz", suffix: "/healthz", unprefixed: true},
		{name: "root", raw: "/", suffix: "/", unprefixed: true},
		{name: "relative", raw: "openai/v1/chat/completions", ambiguous: true},
		{name: "asterisk", raw: "*", ambiguous: true},
		{name: "empty", raw: "", ambiguous: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Canonicalize(tt.raw, testPrefixes)
			if tt.ambiguous {
				require.Error(t, err, "got %+v", p)
				require.ErrorIs(t, err, ErrAmbiguousPath)
				return
			}
			require.NoError(t, err)
			require.Equal(t, Path{Suffix: tt.suffix, Query: tt.query, Prefixed: !tt.unprefixed}, p)
		})
	}
}

func TestCanonicalizeLongestPrefixWins(t *testing.T) {
	p, err := Canonicalize("/openai/v1/models", []string{"/openai", "/openai/v1/"})
	require.NoError(t, err)
	require.Equal(t, Path{Suffix: "/models", Prefixed: true}, p)

	p, err = Canonicalize("/openai/v2/models", []string{"/openai", "/openai/v1/"})
	require.NoError(t, err)
	require.Equal(t, Path{Suffix: "/v2/models", Prefixed: true}, p)

	p, err = Canonicalize("/anything", []string{"/"})
	require.NoError(t, err)
	require.Equal(t, Path{Suffix: "/anything", Prefixed: true}, p, `"/" is every path`)
}

// TestCanonicalizeIsIdempotent: a canonical path canonicalises to itself.
func TestCanonicalizeIsIdempotent(t *testing.T) {
	for _, raw := range []string{"/openai/v1//%63hat/./completions/", "/openai/v1/files/a%2ab%C3%A9 c", "/OpenAI/V1/x/../models"} {
		p, err := Canonicalize(raw, testPrefixes)
		require.NoError(t, err)
		q, err := Canonicalize("/v1"+p.Suffix, testPrefixes)
		require.NoError(t, err)
		require.Equal(t, p.Suffix, q.Suffix, raw)
	}
}
