package usage

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// ErrBadRequest reports a request body Proxide cannot meter; the wrapping
// error says why. OpenAI would reject such a body too.
var ErrBadRequest = errors.New("usage: malformed request body")

// Defaults for Options fields left zero.
const (
	DefaultExactPromptBytes = 32 << 10
	DefaultImageTokens      = 1105
)

// Request is what Proxide needs from a request body.
type Request struct {
	Model  string
	Stream bool
	// IncludeUsage is true when the client asked for stream usage itself
	// (stream_options.include_usage=true). It is always true for Responses,
	// whose stream reports usage unasked, so callers inject only when
	// Stream && !IncludeUsage.
	IncludeUsage bool
	// MaxOutputTokens is max_completion_tokens, else max_tokens
	// (chat/completions), or max_output_tokens (responses); 0 = not given.
	MaxOutputTokens int64
	// N is the number of completions generated: n (default 1), or best_of
	// when larger for legacy completions, which bills every candidate.
	N           int64
	ServiceTier string
	// PromptTokens estimates the prompt: a tiktoken count when PromptExact,
	// else an upper bound by size (a token is at least one byte).
	PromptTokens int64
	PromptExact  bool
	// Inputs is the number of embedding inputs (1 for a string).
	Inputs int64
	// Digest is an exact digest of the canonical request (see digest.go for
	// what it covers and leaves out); 0 for Other.
	Digest uint64
	// Tail is the end of the conversation, at most MaxTailItems items in
	// order: chat messages (text, refusal, each tool call, tool results),
	// Responses instructions and input items, completion prompts or
	// embedding inputs. Loop detection fingerprints it. nil for Other.
	Tail []TailItem
}

// Options tune ParseRequest's prompt estimate.
type Options struct {
	// ExactPromptBytes: prompts whose text is at most this many bytes are
	// counted with tiktoken; larger ones get the cheap upper bound (bytes of
	// text + per-message overhead). Default 32 KiB when 0.
	ExactPromptBytes int
	// ImageTokens is assumed per image, audio or file input part; default
	// 1105 (a high-detail 1024x1024 image) when 0.
	ImageTokens int64
}

func (o Options) withDefaults() Options {
	if o.ExactPromptBytes == 0 {
		o.ExactPromptBytes = DefaultExactPromptBytes
	}
	if o.ImageTokens == 0 {
		o.ImageTokens = DefaultImageTokens
	}
	return o
}

// ParseRequest decodes body, the JSON request of endpoint ep, once and
// returns its billing fields and a prompt-token estimate. For Other only the
// common fields are read and none is required.
func ParseRequest(ep Endpoint, body []byte, opts Options) (Request, error) {
	opts = opts.withDefaults()
	var (
		req Request
		p   prompt
		err error
	)
	switch ep {
	case ChatCompletions:
		var w chatRequest
		if err = decodeBody(body, &w); err == nil {
			err = w.fill(&req, &p)
			req.Digest, req.Tail = w.digest(), w.tail()
		}
	case Completions:
		var w completionsRequest
		if err = decodeBody(body, &w); err == nil {
			err = w.fill(&req, &p)
			req.Digest, req.Tail = w.Prompt.digest(tagCompletions, w.Model), w.Prompt.tail()
		}
	case Embeddings:
		var w embeddingsRequest
		if err = decodeBody(body, &w); err == nil {
			err = w.fill(&req, &p)
			req.Digest, req.Tail = w.Input.digest(tagEmbeddings, w.Model), w.Input.tail()
		}
	case Responses:
		var w responsesRequest
		if err = decodeBody(body, &w); err == nil {
			err = w.fill(&req, &p)
			req.Digest, req.Tail = w.digest(), w.tail()
		}
	default:
		var w commonFields
		if err = decodeBody(body, &w); err == nil {
			err = w.fill(&req, false)
		}
	}
	if err != nil {
		return Request{}, err
	}
	if ep != Other {
		req.PromptTokens, req.PromptExact = p.count(req.Model, opts)
	}
	return req, nil
}

// decodeBody unmarshals body into v and turns encoding/json's errors into
// ErrBadRequest with a reason a client can act on.
func decodeBody(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		fe  *fieldError
	)
	switch {
	case errors.As(err, &fe):
		return fmt.Errorf("%w: %s", ErrBadRequest, fe.Error())
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("%w: body must be a JSON object, got %s", ErrBadRequest, typ.Value)
	case errors.As(err, &typ):
		field := strings.TrimPrefix(typ.Field, "commonFields.") // the embedded struct is no JSON field
		return fmt.Errorf("%w: field %q must be %s, got %s", ErrBadRequest, field, kindName(typ.Type), typ.Value)
	case errors.As(err, &syn), len(body) == 0:
		return fmt.Errorf("%w: not JSON: %v", ErrBadRequest, err)
	default:
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
}

// kindName names a Go type the way the JSON it decodes from is called.
func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "another type"
	}
}

// fieldError is a type problem found by one of the custom decoders below,
// which encoding/json passes through unchanged.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return fmt.Sprintf("field %q %s", e.field, e.msg) }
