package usage

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzMeterPieces is the differential test of the scanner's in-piece fast
// paths (keys matched in place, a member's key, colon and value read in one
// call): a body fed one byte at a time never takes them, a whole body nearly
// always does, and pieces cut where the fuzzer says take them part of the
// way. Output, replacement and result must not differ.
func FuzzMeterPieces(f *testing.F) {
	for _, name := range []string{"chat_usage.sse", "chat_tools_usage.sse", "chat_obf_usage.sse", "completions_usage.sse", "responses.sse", "chat.json", "responses.json"} {
		body, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		if len(body) > 1<<10 {
			body = body[:1<<10]
		}
		f.Add(body, []byte{7, 200, 31, 1, 1, 90}, uint8(8|16|32|1))
	}
	f.Add([]byte("data: {\"id\":\"x\",\"us\\u0061ge\":null,\"choices\":[{\"delta\":{\"content\":\"a\\ud83d\\ude00\"}}]}\r\n\r\ndata: [DONE]\n\n"), []byte{3}, uint8(8|16|32|1))
	f.Add([]byte(`{"model" :"gpt-4o", "usage":{"prompt_tokens":1},"choices":[{"message":{"content":"hi"}}]}`), []byte{5, 2}, uint8(1))
	f.Fuzz(func(t *testing.T, body, cuts []byte, mode uint8) {
		opts := fuzzOpts(mode)
		opts.ReuseOutput = mode&32 != 0
		whole, wholeRes, wholeRep := meterRunChecked(t, opts, body)
		bytewise := make([][]byte, 0, len(body)+1)
		for i := range body {
			bytewise = append(bytewise, body[i:i+1])
		}
		bytewise = append(bytewise, nil)
		for _, run := range [][][]byte{bytewise, cutPieces(body, cuts)} {
			out, res, rep := meterRunChecked(t, opts, run...)
			if !bytes.Equal(whole, out) {
				t.Fatalf("output depends on the pieces (%d):\n%q\n%q", len(run), whole, out)
			}
			if (rep || wholeRep) && (!opts.SSE || !opts.StripInjectedUsage) {
				t.Fatalf("replaced output without stripping: %v whole, %v in pieces", wholeRep, rep)
			}
			if len(body) >= textBatch {
				wholeRes.OutputTokens, res.OutputTokens = 0, 0
			}
			if !reflect.DeepEqual(wholeRes, res) {
				t.Fatalf("result depends on the pieces (%d):\n%+v\n%+v", len(run), wholeRes, res)
			}
		}
	})
}

// cutPieces cuts body into pieces whose lengths cycle through cuts (a 0 is
// an empty piece); the last piece is empty, as Envoy's end of stream may be.
func cutPieces(body, cuts []byte) [][]byte {
	var pieces [][]byte
	for i, k := 0, 0; len(cuts) > 0 && i < len(body) && k < 4*len(body)+len(cuts); k++ {
		n := min(int(cuts[k%len(cuts)]), len(body)-i)
		pieces = append(pieces, body[i:i+n])
		i += n
		if k == 4*len(body)+len(cuts)-1 {
			pieces = append(pieces, body[i:])
		}
	}
	if len(cuts) == 0 {
		pieces = append(pieces, body)
	}
	return append(pieces, nil)
}

// FuzzDecodeUsage: the usage fast path decodes what it accepts exactly as
// encoding/json does, and whatever it declines is left to encoding/json.
func FuzzDecodeUsage(f *testing.F) {
	f.Add([]byte(`{"prompt_tokens":1234,"completion_tokens":20,"total_tokens":1254,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`))
	f.Add([]byte(`{"input_tokens":3,"input_tokens_details":{"cached_tokens":null},"output_tokens":-1.5e2,"output_tokens_details":null,"x":true}`))
	f.Add([]byte(`{"type":"duration","seconds":2.5}`))
	f.Add([]byte(`{"Prompt_Tokens":1,"prompt_tokens":2,"prompt_tokens":3}`))
	f.Add([]byte(`{"prompt_tokens_details":{"cached_tokens":8},"prompt_tokens_details":null}`))
	f.Add([]byte(` { "total_tokens" : 01 } `))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var d usageDecoder
		if !fastUsage(raw, &d) {
			return
		}
		u, ok, err := decodeUsage(raw)
		var w wireUsage
		if jerr := json.Unmarshal(raw, &w); jerr != nil || err != nil {
			t.Fatalf("fast path accepted what encoding/json refuses: %v %v", jerr, err)
		}
		ju, jok := usageOf(&w)
		if u != ju || ok != jok {
			t.Fatalf("%s:\nfast %+v %v\njson %+v %v", raw, u, ok, ju, jok)
		}
	})
}
