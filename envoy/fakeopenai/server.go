// Package fakeopenai is a deterministic OpenAI-compatible upstream for tests:
// chat completions (plain, tool calls, JSON mode, streaming with and without
// stream_options.include_usage), legacy completions, embeddings, the
// Responses API (plain and streaming) and the models list.
//
// Test control headers (a proxy passes them through):
//
//	x-fake-status: N               answer N with an OpenAI-style error body
//	x-fake-words: N                reply length in words (default 12)
//	x-fake-cut-after: N            streams: write N events, then cut the connection
//	x-fake-delay-ms: N             streams: pause N ms between events
//	x-fake-ignore-include-usage: 1 never send usage (an upstream ignoring stream_options)
//	x-fake-split: N                flush every N bytes, so events straddle reads
//	x-fake-cached-tokens: N        report N cached prompt tokens
//	x-fake-reasoning-tokens: N     report N reasoning tokens
//	x-fake-tool-call: NAME|1       force a tool call (when tools are given)
//
// The usage formulas are documented in usage.go and on [PromptTokens].
package fakeopenai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Recorded is one request the fake received.
type Recorded struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Server is the fake upstream; it is an http.Handler.
type Server struct {
	now  func() time.Time
	seq  atomic.Int64
	mu   sync.Mutex
	reqs []Recorded
}

// New returns a fake using the wall clock for `created` timestamps.
func New() *Server { return NewWithClock(time.Now) }

// NewWithClock returns a fake whose `created` timestamps come from now.
func NewWithClock(now func() time.Time) *Server { return &Server{now: now} }

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Recorded, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = r
		out[i].Header = r.Header.Clone()
		out[i].Body = bytes.Clone(r.Body)
	}
	return out
}

// Last returns the latest request (the zero Recorded if none).
func (s *Server) Last() Recorded {
	reqs := s.Requests()
	if len(reqs) == 0 {
		return Recorded{}
	}
	return reqs[len(reqs)-1]
}

// errCut asks ServeHTTP to abort the connection mid-response.
var errCut = errors.New("fakeopenai: cut")

// exchange is one request being answered.
type exchange struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	body []byte
	ctl  control
	id   int64
}

// ServeHTTP records the request and answers it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, Recorded{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	ex := &exchange{s: s, w: w, r: r, body: body, ctl: readControl(r.Header), id: s.seq.Add(1)}
	h := w.Header()
	h.Set("x-request-id", fmt.Sprintf("req_fake%06d", ex.id))
	h.Set("openai-version", "2020-10-01")
	h.Set("openai-processing-ms", "1")
	if err != nil {
		ex.error(http.StatusBadRequest, "could not read the request body", "invalid_request_error", "")
		return
	}
	if ex.ctl.status >= 400 {
		ex.fakeError(ex.ctl.status)
		return
	}
	if err := ex.route(); errors.Is(err, errCut) {
		// The documented way to abort a response: the client sees the
		// connection close mid-body, like an upstream reset.
		panic(http.ErrAbortHandler)
	}
}

func (ex *exchange) route() error {
	p, m := ex.r.URL.Path, ex.r.Method
	switch {
	case m == http.MethodPost && p == "/v1/chat/completions":
		return ex.chat()
	case m == http.MethodPost && p == "/v1/completions":
		return ex.completions()
	case m == http.MethodPost && p == "/v1/embeddings":
		return ex.embeddings()
	case m == http.MethodPost && p == "/v1/responses":
		return ex.responses()
	case m == http.MethodGet && p == "/v1/models":
		return ex.models()
	case m == http.MethodGet && strings.HasPrefix(p, "/v1/models/"):
		return ex.model(strings.TrimPrefix(p, "/v1/models/"))
	}
	ex.error(http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", m, p), "invalid_request_error", "")
	return nil
}

// decode parses the JSON body, answering 400 like OpenAI when it cannot.
func (ex *exchange) decode(v any) bool {
	if err := json.Unmarshal(ex.body, v); err != nil {
		ex.error(http.StatusBadRequest, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)", "invalid_request_error", "")
		return false
	}
	return true
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (ex *exchange) error(status int, msg, typ, code string) {
	d := errorDetail{Message: msg, Type: typ}
	if code != "" {
		d.Code = &code
	}
	ex.writeJSON(status, errorBody{Error: d})
}

// fakeError answers x-fake-status with the body OpenAI sends for that status.
func (ex *exchange) fakeError(status int) {
	switch status {
	case http.StatusBadRequest:
		ex.error(status, "Invalid request (x-fake-status).", "invalid_request_error", "")
	case http.StatusUnauthorized:
		ex.error(status, "Incorrect API key provided: sk-fake***. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key")
	case http.StatusTooManyRequests:
		ex.w.Header().Set("retry-after", "1")
		ex.error(status, "Rate limit reached for requests. Please try again in 1s.", "requests", "rate_limit_exceeded")
	case http.StatusServiceUnavailable:
		ex.error(status, "The engine is currently overloaded, please try again later.", "server_error", "")
	default:
		if status >= 500 {
			ex.error(status, "The server had an error while processing your request. Sorry about that!", "server_error", "")
			return
		}
		ex.error(status, fmt.Sprintf("Request failed with status %d (x-fake-status).", status), "invalid_request_error", "")
	}
}

// writeJSON writes a complete JSON body with its content-length, flushed in
// x-fake-split pieces when asked.
func (ex *exchange) writeJSON(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"encoding failed","type":"server_error","param":null,"code":null}}`)
	}
	h := ex.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(b)))
	ex.w.WriteHeader(status)
	_ = ex.writeSplit(b)
}

// writeSplit writes b, flushing every x-fake-split bytes.
func (ex *exchange) writeSplit(b []byte) error {
	rc := http.NewResponseController(ex.w)
	n := ex.ctl.split
	if n <= 0 {
		n = len(b)
	}
	for len(b) > 0 {
		k := min(n, len(b))
		if _, err := ex.w.Write(b[:k]); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}

func (ex *exchange) created() int64 { return ex.s.now().Unix() }

func (ex *exchange) idFor(prefix string) string { return fmt.Sprintf("%sfake%06d", prefix, ex.id) }
