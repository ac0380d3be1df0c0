package fakeopenai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	now    func() time.Time
	key    string
	seq    atomic.Int64
	mu     sync.Mutex
	reqs   []Recorded
	st     *state
	routes []route
	// sent keeps the latest responses by x-request-id (sent.go).
	sent      map[string]*sentRecord
	sentOrder []string
}

// Options configures a fake made by [NewWithOptions].
type Options struct {
	// APIKey, when set, is the only upstream key accepted: a request without
	// `Authorization: Bearer <APIKey>` gets OpenAI's 401. Empty: no check.
	APIKey string
	// Now supplies every timestamp; nil means time.Now.
	Now func() time.Time
}

// New returns a fake using the wall clock for `created` timestamps.
func New() *Server { return NewWithClock(time.Now) }

// NewWithClock returns a fake whose `created` timestamps come from now.
func NewWithClock(now func() time.Time) *Server { return NewWithOptions(Options{Now: now}) }

// NewWithOptions returns a fake configured by o.
func NewWithOptions(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Server{now: o.Now, key: o.APIKey, st: newState(), routes: routeTable()}
}

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
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if s.serveSent(rw, r) {
		return
	}
	body, err := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, Recorded{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	id := s.seq.Add(1)
	requestID := fmt.Sprintf("req_fake%06d", id)
	w := s.sentWriter(rw, requestID, r, body) // keeps what is written as it is written
	ex := &exchange{s: s, w: w, r: r, body: body, ctl: readControl(r.Header), id: id}
	h := w.Header()
	h.Set("x-request-id", requestID)
	h.Set("openai-version", "2020-10-01")
	h.Set("openai-processing-ms", "1")
	if err != nil {
		ex.error(http.StatusBadRequest, "could not read the request body", "invalid_request_error", "")
		return
	}
	if !ex.authorized() {
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
	ex.errorParam(status, msg, typ, "", code)
}

// errorParam is error naming the offending parameter.
func (ex *exchange) errorParam(status int, msg, typ, param, code string) {
	d := errorDetail{Message: msg, Type: typ}
	if param != "" {
		d.Param = &param
	}
	if code != "" {
		d.Code = &code
	}
	ex.writeJSON(status, errorBody{Error: d})
}

// invalid answers 400 invalid_request_error naming param (may be empty).
func (ex *exchange) invalid(msg, param string) {
	ex.errorParam(http.StatusBadRequest, msg, "invalid_request_error", param, "")
}

// notFound answers 404 the way OpenAI does for an unknown object id.
func (ex *exchange) notFound(msg, param string) {
	ex.errorParam(http.StatusNotFound, msg, "invalid_request_error", param, "")
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
	b = ex.ctl.spliceUsage(b)
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
