package clientid

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, id, want string
		err            error
	}{
		{"ascii unchanged", "user-12345", "user-12345", nil},
		{"ascii with inner space", "team a/user 1", "team a/user 1", nil},
		{"fullwidth folds to ascii", "ｕｓｅｒ－１２３４５", "user-12345", nil},
		{"ligature folds", "ﬁnance-1", "finance-1", nil},
		{"composed and decomposed are one id", "jose\u0301", "josé", nil},
		{"non-breaking space inside folds", "user\u00a012345", "user 12345", nil},
		{"single script cyrillic", "пользователь-1", "пользователь-1", nil},
		{"japanese mix", "ユーザー太郎-1", "ユーザー太郎-1", nil},
		{"latin with han", "team-中文-1", "team-中文-1", nil},
		{"korean with han", "사용자-韓-1", "사용자-韓-1", nil},
		{"zero-width space", "user-12345\u200b", "", ErrInvisible},
		{"zero-width joiner", "user\u200d-12345", "", ErrInvisible},
		{"byte order mark", "\ufeffuser-12345", "", ErrInvisible},
		{"soft hyphen", "user\u00ad-12345", "", ErrInvisible},
		{"bidi override", "user-\u202e54321", "", ErrInvisible},
		{"variation selector", "user\ufe0f-12345", "", ErrInvisible},
		{"hangul filler", "user-\u3164", "", ErrInvisible},
		{"line separator", "user\u2028-1", "", ErrInvisible},
		{"private use", "user-\ue000", "", ErrUnassigned},
		{"unassigned", "user-\u0378", "", ErrUnassigned},
		{"cyrillic e in latin id", "us\u0435r-12345", "", ErrMixedScript},
		{"greek omicron in latin id", "r\u03bfot", "", ErrMixedScript},
		{"trailing no-break space", "user-12345\u00a0", "", ErrEdgeSpace},
		{"leading space", " user-12345", "", ErrEdgeSpace},
		{"trailing ideographic space", "user-12345\u3000", "", ErrEdgeSpace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(tc.id)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.ErrorContains(t, err, "client id ")
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			again, err := Normalize(got)
			require.NoError(t, err)
			require.Equal(t, got, again, "normalising twice changes nothing")
		})
	}
}

func TestNormalizeInvalidUTF8(t *testing.T) {
	_, err := Normalize("user-\xff")
	require.ErrorContains(t, err, "not valid UTF-8")
}

func TestNormalizeNamesTheCharacter(t *testing.T) {
	_, err := Normalize("user-12345\u200b")
	require.EqualError(t, err, "client id has an invisible character (U+200B) at byte 10")
}

func BenchmarkNormalizeASCII(b *testing.B) {
	for b.Loop() {
		if _, err := Normalize("user-12345-tenant-a"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNormalPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   bool
	}{{"tenant-a-", true}, {"", true}, {"пользователь-", true}, {"ｔｅｎａｎｔ-", false}, {"tenant\u200b-", false}, {"team ", true}} {
		require.Equal(t, tc.want, NormalPrefix(tc.prefix), "%q", tc.prefix)
	}
}

func BenchmarkNormalizeCJK(b *testing.B) {
	id := strings.Repeat("ユーザー太郎", 14) // 252 bytes
	for b.Loop() {
		if _, err := Normalize(id); err != nil {
			b.Fatal(err)
		}
	}
}

// The slowest id: 64 runes of a script late in the table.
func BenchmarkNormalizeRareScript(b *testing.B) {
	id := strings.Repeat("\U00010000", 64) // Linear B, 256 bytes
	for b.Loop() {
		if _, err := Normalize(id); err != nil {
			b.Fatal(err)
		}
	}
}
