package budget

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestModelName(t *testing.T) {
	require.Equal(t, "unknown", ModelName(""))
	require.Equal(t, "gpt-4o-2024-08-06", ModelName("gpt-4o-2024-08-06"))
	require.Equal(t, "a_b_c\uFFFD", ModelName("a|b\nc\xff"))
	long := ModelName("x" + strings.Repeat("é", 100)) // odd byte offset: 'é' is 2 bytes
	require.LessOrEqual(t, len(long), maxModelBytes)
	require.Equal(t, "é", long[len(long)-2:], "cut on a rune boundary")
}
