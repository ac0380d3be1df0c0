package fakeopenai

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"
)

// sse writes one server-sent event stream, honouring the split, delay and
// cut controls. Every `data:` event counts for x-fake-cut-after.
type sse struct {
	ex      *exchange
	written int
	buf     bytes.Buffer
}

func (ex *exchange) startSSE() *sse {
	h := ex.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	ex.w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(ex.w).Flush()
	return &sse{ex: ex}
}

// event writes `event: name` (when name is set) and `data: <json>`, then
// flushes. A top-level usage member is subject to x-fake-usage.
func (s *sse) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.raw(name, s.ex.ctl.spliceUsage(data))
}

// done writes the chat/completions terminator.
func (s *sse) done() error { return s.raw("", []byte("[DONE]")) }

func (s *sse) raw(name string, data []byte) error {
	ctl := s.ex.ctl
	if ctl.cutAfter >= 0 && s.written >= ctl.cutAfter {
		return errCut
	}
	if s.written > 0 && ctl.delayMS > 0 {
		t := time.NewTimer(time.Duration(ctl.delayMS) * time.Millisecond)
		select {
		case <-t.C:
		case <-s.ex.r.Context().Done():
			t.Stop()
			return s.ex.r.Context().Err()
		}
	}
	s.buf.Reset()
	if name != "" {
		s.buf.WriteString("event: " + name + "\n")
	}
	s.buf.WriteString("data: ")
	s.buf.Write(data)
	s.buf.WriteString("\n\n")
	if err := s.ex.writeSplit(s.buf.Bytes()); err != nil {
		return err
	}
	s.written++
	return nil
}
