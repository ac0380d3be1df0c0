package rules

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyStringAndParse(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		want string
	}{
		{Rule{ClientID: "user-12345"}, "client:user-12345"},
		{Rule{ClientID: "client:x"}, "client:client:x"},
		{Rule{ClientID: "default"}, "client:default"},
		{Rule{Match: "user-*"}, "match:user-*"},
		{Rule{Match: "*"}, "match:*"},
		{Rule{}, "default"},
		{Rule{Daily: LimitOf(5)}, "default"},
	} {
		k := tc.rule.Key()
		require.Equal(t, tc.want, k.String())
		back, err := ParseKey(k.String())
		require.NoError(t, err, tc.want)
		require.Equal(t, k, back)
	}
	require.Empty(t, Key{}.String())
	for _, bad := range []string{"", "Default", "client:", "match:", "match:user-", "client:a\x00", "user-1", "id:x",
		"client:" + strings.Repeat("x", MaxClientIDBytes+1)} {
		_, err := ParseKey(bad)
		var fe *FieldError
		require.ErrorAs(t, err, &fe, "%q", bad)
	}
}

func TestCompare(t *testing.T) {
	rs := []Rule{{ClientID: "b"}, {Match: "z*"}, {ClientID: "a"}, {}, {Match: "*"}}
	Sort(rs)
	var keys []string
	for _, r := range rs {
		keys = append(keys, r.Key().String())
	}
	require.Equal(t, []string{"default", "match:*", "match:z*", "client:a", "client:b"}, keys,
		"the default rule, then patterns, then client ids, each by key string")
	require.Zero(t, Compare(Key{ClientID: "a"}, Key{ClientID: "a"}))
	require.Negative(t, Compare(Key{Default: true}, Key{Match: "*"}))
	require.Positive(t, Compare(Key{ClientID: "0"}, Key{Match: "z*"}))
}
