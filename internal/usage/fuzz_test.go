package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// fuzzOpts derives Meter options from one fuzzed byte.
func fuzzOpts(mode uint8) MeterOptions {
	return MeterOptions{
		Endpoint:           Endpoint(mode % 5),
		RequestModel:       "gpt-4o",
		SSE:                mode&8 != 0,
		StripInjectedUsage: mode&16 != 0,
	}
}

// FuzzMeter: any body, split anywhere, never panics; without stripping the
// chunks are never replaced; and the output and result do not depend on
// where the body was split.
func FuzzMeter(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\ndata: [DONE]\n\n"), uint16(17), uint8(8|16|1))
	f.Add([]byte("event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":1}}}\n\n"), uint16(9), uint8(8|4))
	f.Add([]byte(`{"model":"gpt-4o","usage":{"prompt_tokens":1,"completion_tokens":2}}`), uint16(30), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, split uint16, mode uint8) {
		opts := fuzzOpts(mode)
		at := int(split) % (len(body) + 1)
		whole, wholeRes, wholeRep := meterRunChecked(t, opts, body)
		parts, partsRes, partsRep := meterRunChecked(t, opts, body[:at], body[at:], nil)
		noStrip := !opts.SSE || !opts.StripInjectedUsage
		if noStrip && (wholeRep || partsRep) {
			t.Fatalf("replaced without stripping")
		}
		if !bytes.Equal(whole, parts) {
			t.Fatalf("output depends on the split at %d:\n%q\n%q", at, whole, parts)
		}
		if len(body) >= textBatch { // batch boundaries may move a token or two
			wholeRes.OutputTokens, partsRes.OutputTokens = 0, 0
		}
		if !reflect.DeepEqual(wholeRes, partsRes) {
			t.Fatalf("result depends on the split at %d:\n%+v\n%+v", at, wholeRes, partsRes)
		}
		if len(whole) > len(body) {
			t.Fatalf("output longer than input")
		}
	})
}

func meterRunChecked(t *testing.T, opts MeterOptions, chunks ...[]byte) ([]byte, Result, bool) {
	m := NewMeter(opts)
	var out []byte
	replaced := false
	for i, c := range chunks {
		o, r := m.Write(c, i == len(chunks)-1)
		if !r && !bytes.Equal(o, c) {
			t.Fatalf("replaced=false with different bytes")
		}
		replaced = replaced || r
		out = append(out, o...)
	}
	return out, m.Result(), replaced
}

// FuzzParseRequest: any body either parses into sane values or fails with
// ErrBadRequest; InjectIncludeUsage keeps it valid JSON that asks for usage.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`), uint8(1))
	f.Add([]byte(`{"model":"text-embedding-3-small","input":[[1,2],[3]]}`), uint8(3))
	f.Add([]byte(`{"model":"gpt-5","input":[{"type":"function_call","arguments":"{}"}]}`), uint8(4))
	f.Fuzz(func(t *testing.T, body []byte, ep uint8) {
		req, err := ParseRequest(Endpoint(ep%5), body, Options{ExactPromptBytes: 256})
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error not ErrBadRequest: %v", err)
			}
		} else if req.PromptTokens < 0 || req.N < 1 || req.MaxOutputTokens < 0 || req.Inputs < 0 {
			t.Fatalf("bad values: %+v", req)
		}
		out, err := InjectIncludeUsage(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("inject error not ErrBadRequest: %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("inject produced invalid JSON: %q", out)
		}
		var v struct {
			StreamOptions struct {
				IncludeUsage any `json:"include_usage"`
			} `json:"stream_options"`
		}
		err = json.Unmarshal(out, &v)
		if included, _ := v.StreamOptions.IncludeUsage.(bool); err != nil || !included {
			t.Fatalf("inject did not set include_usage: %q (%v)", out, err)
		}
	})
}
