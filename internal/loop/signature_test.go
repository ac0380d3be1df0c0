package loop

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/usage"
)

// sketchOf is the prose sketch of one text.
func sketchOf(s string) (uint64, int) {
	var k sketcher
	k.weight = weightProse
	k.text(s)
	return k.bits, k.size
}

func TestNormalisation(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"Attempt 7: run the tests", "Attempt 12: run the tests", true},
		{"[retry 3/10] fetch the page", "[retry 4/10] fetch the page", true},
		{"retry #3 of 5", "retry #4 of 5", true},
		{"for the 3rd time", "for the 11th time", true},
		{"now 2025-06-02T09:00:00Z", "now 2025-06-03T17:45:12.123Z", true},
		{"at 12:34:56 today", "at 01:02:03 today", true},
		{"on 2025-06-02", "on 2024-12-31", true},
		{"id 550e8400-e29b-41d4-a716-446655440000", "id f4ae35cc-39fc-46b9-afec-3ca0f396e6c7", true},
		{"request_id=req_8f3a2b1c9d", "request_id=req_1a2b3c4d5e", true},
		{"commit 3f2a9c1", "commit 9be0d41", true},
		{"ts=1712345678901", "ts=1712345699999", true},
		{"took 250ms", "took 1200ms", true},
		{"age 5m12s", "age 17s", true},
		{"elapsed 0.53 seconds", "elapsed 12.07 seconds", true},
		{"Hello World", "hello   world", true},
		{`{"path": "a.go"}`, `{ "path" : "a.go" }`, true},
		{"page 2", "page 3", false},
		{"404 Not Found", "500 Not Found", false},
		{"3 failed, 10 passed", "2 failed, 11 passed", false},
		{"read_file", "write_file", false},
		{"café", "cafe", false},
		{"gpt-4o", "gpt-4.1", false},
		{"error error", "error", false}, // a repeated word does not cancel itself
		{"the cat sat", "the the cat sat", false},
	}
	for _, tc := range tests {
		ha, na := sketchOf(tc.a)
		hb, nb := sketchOf(tc.b)
		require.Equal(t, tc.same, ha == hb && na == nb, "%q vs %q", tc.a, tc.b)
	}
}

func TestVolatileWord(t *testing.T) {
	for text, want := range map[string]bool{
		"2025": true, "404": false, "7": false, "abc12345": true, "v2": false, "x86": false,
		"deadbeef": true, "3f2a9c": true, "ab12": false, "250ms": true, "1080p": false, "4o": false, "2nd": true, "4k": true,
	} {
		w := word{start: 0, end: len(text), all: 0xff}
		for i := 0; i < len(text); i++ {
			w.some |= byteFlags[text[i]]
			w.all &= byteFlags[text[i]]
		}
		if w.some&fDigit == 0 {
			continue // only words with digits are asked
		}
		require.Equal(t, want, volatileWord(text, &w), text)
	}
}

// parse is ParseRequest for tests.
func parse(t *testing.T, ep usage.Endpoint, body string) usage.Request {
	t.Helper()
	r, err := usage.ParseRequest(ep, []byte(body), usage.Options{ExactPromptBytes: 1})
	require.NoError(t, err)
	return r
}

// agentChat renders an agent conversation: task, then one assistant call
// (with prose) and tool result per step.
func agentChat(model string, steps ...[3]string) string {
	var b strings.Builder
	b.WriteString(`{"model":"` + model + `","messages":[{"role":"system","content":"You are a coding agent."},{"role":"user","content":"Fix the failing tests in the billing package, then run them."}`)
	for i, s := range steps {
		id := "call_" + strings.Repeat(string(rune('a'+i)), 8)
		b.WriteString(`,{"role":"assistant","content":` + quote(s[0]) + `,"tool_calls":[{"id":"` + id + `","type":"function","function":{"name":"run_tests","arguments":` + quote(s[1]) + `}}]}`)
		b.WriteString(`,{"role":"tool","tool_call_id":"` + id + `","content":` + quote(s[2]) + `}`)
	}
	return b.String() + `]}`
}

func quote(s string) string {
	if s == "" {
		return "null"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func TestCompute(t *testing.T) {
	const fail = "--- FAIL: TestSettle (0.02s)\n    ledger_test.go:88: want 3, got 2\nFAIL\t1 failed, 12 passed in 0.41s"
	step := [3]string{"Let me run the tests.", `{"package":"./billing"}`, fail}
	retry := [3]string{"Retrying once more.", `{"package":"./billing"}`, strings.Replace(fail, "0.41s", "0.38s", 1)}
	other := [3]string{"", `{"package":"./ledger"}`, "ok  \tledger\t0.2s\n12 passed"}
	progress := [3]string{"", `{"package":"./billing"}`, strings.Replace(fail, "1 failed, 12 passed", "0 failed, 13 passed", 1)}

	sig := func(body string) Signature { return Compute(parse(t, usage.ChatCompletions, body)) }
	base := sig(agentChat("gpt-4o", step))
	require.NotZero(t, base.Exact)
	require.GreaterOrEqual(t, int(base.Size), MinSize)

	t.Run("a growing conversation repeating its last call and error is the same", func(t *testing.T) {
		grown := sig(agentChat("gpt-4o", step, retry, retry))
		require.NotEqual(t, base.Exact, grown.Exact)
		require.Equal(t, base.Sim, grown.Sim, "prose next to a call, timings and the history do not count")
		require.InDelta(t, 1.0, Similarity(base, grown), 1e-12)
	})
	t.Run("progress is different", func(t *testing.T) {
		require.Less(t, Similarity(base, sig(agentChat("gpt-4o", step, progress))), DefaultSimilarity)
		require.Less(t, Similarity(base, sig(agentChat("gpt-4o", step, other))), 0.5)
	})
	t.Run("another model is another request", func(t *testing.T) {
		require.Less(t, Similarity(base, sig(agentChat("gpt-4o-mini", step))), 0.5)
	})
	t.Run("chat and Responses tails of the same exchange match", func(t *testing.T) {
		resp := Compute(parse(t, usage.Responses, `{"model":"gpt-4o","previous_response_id":"resp_1","input":[`+
			`{"type":"function_call_output","call_id":"call_x","output":`+quote(fail)+`}]}`))
		// Responses with previous_response_id sends no call: only the output.
		require.Less(t, Similarity(base, resp), 1.0)
		resp2 := Compute(parse(t, usage.Responses, `{"model":"gpt-4o","previous_response_id":"resp_2","input":[`+
			`{"type":"function_call_output","call_id":"call_y","output":`+quote(strings.Replace(fail, "0.41s", "9.99s", 1))+`}]}`))
		require.NotEqual(t, resp.Exact, resp2.Exact)
		require.InDelta(t, 1.0, Similarity(resp, resp2), 1e-12)
	})
	t.Run("new images with the same words differ", func(t *testing.T) {
		img := func(url string) Signature {
			return sig(`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Describe this photo of our product in two sentences for the catalogue."},` +
				`{"type":"image_url","image_url":{"url":"` + url + `"}}]}]}`)
		}
		a, b := img("https://cdn.example.com/p/1.jpg"), img("https://cdn.example.com/p/2.jpg")
		require.Less(t, Similarity(a, b), DefaultSimilarity)
		require.InDelta(t, 1.0, Similarity(a, img("https://cdn.example.com/p/1.jpg")), 1e-12)
	})
	t.Run("short tails only match exactly", func(t *testing.T) {
		ok1 := Compute(parse(t, usage.Responses, `{"model":"gpt-5","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"c1","output":"OK"}]}`))
		ok2 := Compute(parse(t, usage.Responses, `{"model":"gpt-5","previous_response_id":"resp_2","input":[{"type":"function_call_output","call_id":"c2","output":"OK"}]}`))
		require.Less(t, int(ok1.Size), MinSize)
		require.Equal(t, ok1.Sim, ok2.Sim)
		require.Zero(t, Similarity(ok1, ok2))
		require.InDelta(t, 1.0, Similarity(ok1, ok1), 1e-12)
	})
	t.Run("a system-only request uses its system text", func(t *testing.T) {
		s := sig(`{"model":"gpt-4o","messages":[{"role":"system","content":"Summarise the incident report of 2025-06-02 for the on-call engineer in three bullet points."}]}`)
		require.GreaterOrEqual(t, int(s.Size), MinSize)
	})
	t.Run("a bounded text keeps a trace of its hidden middle", func(t *testing.T) {
		head, end := strings.Repeat("alpha beta ", 200), strings.Repeat(" gamma delta", 200)
		a := sig(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + head + strings.Repeat("x ", 10) + end + `"}]}`)
		b := sig(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + head + strings.Repeat("x ", 200) + end + `"}]}`)
		require.NotEqual(t, a.Sim, b.Sim)
	})
}

func TestTailRange(t *testing.T) {
	it := func(role, kind string) usage.TailItem { return usage.TailItem{Role: role, Kind: kind} }
	user, sys, tool := it("user", usage.KindText), it("system", usage.KindText), it("tool", usage.KindOutput)
	prose, callIt := it("assistant", usage.KindText), it("assistant", usage.KindCall)
	tests := []struct {
		name                string
		tail                []usage.TailItem
		lo, hi              int
		skipProse, keepSyst bool
	}{
		{"empty", nil, 0, 0, false, true},
		{"system only", []usage.TailItem{sys}, 0, 1, false, true},
		{"system and question", []usage.TailItem{sys, user}, 1, 2, false, false},
		{"chat turn", []usage.TailItem{sys, user, prose, user}, 2, 4, false, false},
		{"agent step", []usage.TailItem{user, prose, callIt, tool}, 1, 4, true, false},
		{"parallel calls", []usage.TailItem{user, callIt, tool, callIt, callIt, tool, tool}, 3, 7, true, false},
		{"ends with the assistant", []usage.TailItem{user, prose, user, prose}, 2, 4, false, false},
		{"trailing system note", []usage.TailItem{user, prose, user, sys}, 1, 4, false, false},
	}
	for _, tc := range tests {
		lo, hi, skip, keep := tailRange(tc.tail)
		require.Equal(t, []any{tc.lo, tc.hi, tc.skipProse, tc.keepSyst}, []any{lo, hi, skip, keep}, tc.name)
	}
}

func TestSimilarity(t *testing.T) {
	a := Signature{Exact: 1, Sim: 0xff, Size: 100}
	tests := []struct {
		name string
		b    Signature
		want float64
	}{
		{"same digest", Signature{Exact: 1, Size: 1}, 1},
		{"same sketch", Signature{Exact: 2, Sim: 0xff, Size: 80}, 1},
		{"3 bits of a long tail", Signature{Exact: 2, Sim: 0xf8, Size: 100}, 1 - 3.101/(SimScale*BitsPerEdit)},
		{"3 bits of a short tail", Signature{Exact: 2, Sim: 0xf8, Size: 20}, 1 - 3.101/(60*BitsPerEdit)},
		{"31 bits: far apart", Signature{Exact: 2, Sim: 0xff ^ (1<<31 - 1), Size: 1000}, 0},
		{"32 bits: unrelated", Signature{Exact: 2, Sim: 0xff ^ (1<<32 - 1), Size: 1000}, 0},
		{"64 bits", Signature{Exact: 2, Sim: ^uint64(0xff), Size: 100}, 0},
		{"too short to judge", Signature{Exact: 2, Sim: 0xff, Size: MinSize - 1}, 0},
		{"unknown digests never match", Signature{Exact: 0, Sim: 0, Size: 0}, 0},
	}
	for _, tc := range tests {
		require.InDelta(t, tc.want, Similarity(a, tc.b), 1e-12, tc.name)
		require.InDelta(t, Similarity(a, tc.b), Similarity(tc.b, a), 0, tc.name+": exactly symmetric")
	}
	require.Zero(t, Similarity(Signature{}, Signature{}), "two unknown requests are not alike")
}

func TestComputeDoesNotAllocate(t *testing.T) {
	r := parse(t, usage.ChatCompletions, agentChat("gpt-4o", [3]string{"", `{"package":"./x"}`, "FAIL 2025-06-02T09:00:00Z attempt 3"}))
	require.Zero(t, testing.AllocsPerRun(50, func() { Compute(r) }))
}

// FuzzSketch: any text is tokenised without panicking, deterministically.
func FuzzSketch(f *testing.F) {
	f.Add("Attempt 7: 2025-06-02T09:00:00Z 550e8400-e29b-41d4-a716-446655440000 café 3rd")
	f.Add("----::..//1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16-17-18-19-20")
	f.Fuzz(func(t *testing.T, s string) {
		a, na := sketchOf(s)
		b, nb := sketchOf(s)
		if a != b || na != nb {
			t.Fatal("not deterministic")
		}
		if na > len(s) {
			t.Fatalf("%d tokens from %d bytes", na, len(s))
		}
	})
}
