package fakeopenai

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// Sent is one response the fake wrote, kept so a test that drives it through
// Envoy (or the stand-in) and an SDK can check that the SDK received exactly
// what the upstream sent. Look it up by the x-request-id the fake gave it
// (the SDKs expose it: Node's _request_id, the header in Go).
type Sent struct {
	RequestID string          `json:"request_id"`
	Method    string          `json:"method"`
	Path      string          `json:"path"`
	Status    int             `json:"status"`
	Request   json.RawMessage `json:"request,omitempty"` // the request body when it is JSON
	Body      string          `json:"body"`              // the response body as written
}

// maxSent bounds the responses kept (a long `proxide dev` session).
const maxSent = 1024

// sentRecord is a Sent being written; guarded by Server.mu.
type sentRecord struct {
	Sent
	body bytes.Buffer
}

// sentWriter tees what a handler writes into its record before passing it on,
// so the record is complete by the time the client has read the response.
type sentWriter struct {
	http.ResponseWriter
	s   *Server
	rec *sentRecord
}

// sentWriter starts the record of a response.
func (s *Server) sentWriter(rw http.ResponseWriter, id string, r *http.Request, reqBody []byte) *sentWriter {
	rec := &sentRecord{Sent: Sent{RequestID: id, Method: r.Method, Path: r.URL.Path}}
	if json.Valid(reqBody) {
		rec.Request = json.RawMessage(bytes.Clone(reqBody))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent == nil {
		s.sent = make(map[string]*sentRecord)
	}
	if len(s.sentOrder) >= maxSent {
		delete(s.sent, s.sentOrder[0])
		s.sentOrder = s.sentOrder[1:]
	}
	s.sent[id] = rec
	s.sentOrder = append(s.sentOrder, id)
	return &sentWriter{ResponseWriter: rw, s: s, rec: rec}
}

func (w *sentWriter) WriteHeader(status int) {
	w.s.mu.Lock()
	if w.rec.Status == 0 {
		w.rec.Status = status
	}
	w.s.mu.Unlock()
	w.ResponseWriter.WriteHeader(status)
}

func (w *sentWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	if w.rec.Status == 0 {
		w.rec.Status = http.StatusOK
	}
	w.rec.body.Write(p)
	w.s.mu.Unlock()
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController flush the real writer.
func (w *sentWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SentFor returns the response the fake sent with the given x-request-id
// (what was written so far, for a response still being written).
func (s *Server) SentFor(requestID string) (Sent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.sent[requestID]
	if !ok {
		return Sent{}, false
	}
	v := rec.Sent
	v.Body = rec.body.String()
	return v, true
}

// sentPrefix is where the fake answers GET {prefix}{x-request-id} with the
// Sent record as JSON. Only a direct client reaches it: Envoy routes
// /openai/v1/* alone.
const sentPrefix = "/_fake/sent/"

// serveSent answers the inspection path; it reports whether the path was one.
func (s *Server) serveSent(w http.ResponseWriter, r *http.Request) bool {
	id, ok := strings.CutPrefix(r.URL.Path, sentPrefix)
	if !ok {
		return false
	}
	v, found := s.SentFor(id)
	if r.Method != http.MethodGet || !found {
		http.NotFound(w, r)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
	return true
}
