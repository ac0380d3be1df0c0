package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/admin/client"
)

// --help succeeds (exit 0) on every command and prints to stdout.
func TestHelpExitsZeroOnEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"-h"},
		{"serve", "--help"}, {"serve", "-h"}, {"dev", "--help"},
		{"keys", "--help"}, {"keys", "hash", "--help"},
		{"budgets", "--help"}, {"budgets", "set", "--help"}, {"clients", "--help"},
		{"spend", "--help"}, {"loops", "--help"}, {"loops", "clear", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			require.NoError(t, run(t.Context(), args, &out, &errOut, nil))
			require.Contains(t, strings.ToLower(out.String()), "usage: proxide")
			require.Empty(t, errOut.String())
		})
	}
}

// A command-line mistake prints the problem first, then the usage, and exits
// 2 (main prints nothing more for client.ErrUsage).
func TestFlagErrorsComeBeforeTheUsage(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		first string
	}{
		{[]string{"serve", "--no-such-flag"}, "proxide serve: unknown flag: --no-such-flag"},
		{[]string{"dev", "--listen"}, "proxide dev: flag needs an argument: --listen"},
		{[]string{"serve", "extra"}, `proxide serve: unexpected argument "extra"`},
		{[]string{"frobnicate"}, `proxide: unknown command "frobnicate"`},
		{nil, "proxide: missing command"},
		{[]string{"keys", "sha"}, "proxide keys: want the hash command"},
		{[]string{"budgets", "set", "u", "--daily", "ten"}, `proxide: --daily: "ten" is not a dollar amount`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), tc.args, &out, &errOut, nil)
			require.ErrorIs(t, err, client.ErrUsage)
			lines := strings.SplitN(errOut.String(), "\n", 2)
			require.True(t, strings.HasPrefix(lines[0], tc.first), "first line %q", lines[0])
			require.Contains(t, strings.ToLower(errOut.String()), "usage: proxide")
		})
	}
}
