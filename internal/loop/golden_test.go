package loop

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/usage"
)

// goldenCases pin Compute's output. Signatures are stored in every client's
// window (in Redis, across sidecar versions) and the equivalence tests
// compare Compute with a reference that shares its constants (salts,
// weights, cuts): a change to one of those changes every signature, and only
// these values show it.
var goldenCases = []struct {
	name string
	ep   usage.Endpoint
	body string
	want Signature
}{
	{"chat prose", usage.ChatCompletions,
		`{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Summarise order 84512 placed on 2025-06-02 for customer req_8f3a2b1c9d, page 2 of the ledger."}]}`,
		Signature{Exact: 0xc0217ec7a4bc7acf, Sim: 0xa020870201028002, Size: 14}},
	{"agent tool call and error", usage.ChatCompletions,
		agentChat("gpt-4o", [3]string{"Let me run the tests.", `{"package":"./billing"}`, "--- FAIL: TestSettle (0.02s)\n    ledger_test.go:88: want 3, got 2\nFAIL"}),
		Signature{Exact: 0x4194272959ea527b, Sim: 0x49100ca40800cc0, Size: 28}},
	{"responses input", usage.Responses,
		`{"model":"gpt-5","input":[{"role":"user","content":[{"type":"input_text","text":"Translate the invoice INV-20931 into French, keeping amounts."}]}]}`,
		Signature{Exact: 0xd9b53767e03acd10, Sim: 0x21020400003c4, Size: 9}},
}

func TestSignatureGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, Compute(parse(t, c.ep, c.body)))
		})
	}
}
