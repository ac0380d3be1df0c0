package envoy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type bodyReadCloser = io.ReadCloser

// upstream is the router's side of one exchange.
type upstream struct {
	headers  *headerMap // released request headers
	released bool
	pending  []byte // released body bytes not yet handed to the request
	eos      bool
	started  bool
	writer   *queue[[]byte] // streams the body when it is not complete at start
	cancel   context.CancelFunc
	resp     chan upstreamResult
	body     io.ReadCloser // the upstream response body, closed at the end
	sentAt   time.Time
}

type upstreamResult struct {
	resp *http.Response
	err  error
}

// pumpUpstream starts the upstream request once the request headers are
// released and streams released body bytes into it.
func (f *filter) pumpUpstream() {
	u := &f.up
	if !u.released || f.decodeAborted || f.finished {
		return
	}
	if !u.started {
		f.startUpstream()
		return
	}
	if u.writer == nil {
		return
	}
	if len(u.pending) > 0 {
		u.writer.push(u.pending)
		u.pending = nil
	}
	if u.eos {
		u.writer.close()
		u.writer = nil
	}
}

func (f *filter) startUpstream() {
	u := &f.up
	u.started = true
	h := u.headers
	// Ended by us (cleanup, local replies), not by the client's context: a
	// client disconnect must be seen as such, not as an upstream reset.
	ctx, cancel := context.WithCancel(context.WithoutCancel(f.ctx))
	u.cancel = cancel
	target := f.upstreamURL(firstValue(h, ":path"))
	// Framing follows the released headers, like Envoy's HTTP/1 codec: their
	// content-length if any, else chunked encoding.
	var body io.Reader = http.NoBody
	contentLength := int64(0)
	var pw *io.PipeWriter
	if !f.dec.noBody {
		contentLength = -1
		if v, ok := h.get("content-length"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				contentLength = n
			}
		}
		if u.eos {
			body = io.NopCloser(bytes.NewReader(u.pending)) // hides the length from Go
			u.pending = nil
		} else {
			var pr *io.PipeReader
			pr, pw = io.Pipe()
			body = pr
		}
	}
	req, err := http.NewRequestWithContext(ctx, firstValue(h, ":method"), target, body)
	if err != nil {
		f.log.Warn("cannot build the upstream request", "err", err)
		f.upstreamFailed(err)
		return
	}
	req.ContentLength = contentLength
	req.Header = http.Header{}
	h.httpHeader(req.Header)
	req.Header.Del("Content-Length") // Go frames the body from ContentLength
	for _, name := range f.cfg.RequestHeadersToRemove {
		req.Header.Del(name)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""} // keep Go from adding its own
	}
	if pw != nil {
		u.writer = newQueue[[]byte]()
		go pipeBody(u.writer, pw, f.done)
		if len(u.pending) > 0 {
			u.writer.push(u.pending)
			u.pending = nil
		}
	}
	f.s.stats.upstreamRequests.Add(1)
	u.sentAt = time.Now()
	go func() {
		resp, err := f.s.httpClient.Do(req)
		select {
		case u.resp <- upstreamResult{resp: resp, err: err}:
		case <-f.done:
			if resp != nil {
				_ = resp.Body.Close()
			}
		}
	}()
}

// pipeBody copies queued body bytes into the request body pipe.
func pipeBody(q *queue[[]byte], pw *io.PipeWriter, done <-chan struct{}) {
	for {
		b, ok := q.pop(done)
		if !ok {
			break
		}
		if _, err := pw.Write(b); err != nil {
			return
		}
	}
	select {
	case <-done:
		_ = pw.CloseWithError(errors.New("envoy: exchange ended"))
	default:
		_ = pw.Close()
	}
}

// upstreamURL applies the route's prefix_rewrite to the (possibly mutated)
// :path; auto_host_rewrite makes the upstream host the Host.
func (f *filter) upstreamURL(path string) string {
	if strings.HasPrefix(path, f.cfg.RoutePrefix) {
		path = f.cfg.PrefixRewrite + strings.TrimPrefix(path, f.cfg.RoutePrefix)
	}
	base := *f.cfg.upstream
	return strings.TrimSuffix(base.Scheme+"://"+base.Host+base.Path, "/") + path
}

func (f *filter) onUpstreamResponse(res upstreamResult) {
	if f.enc.started || f.finished {
		if res.resp != nil {
			_ = res.resp.Body.Close()
		}
		return
	}
	if res.err != nil {
		f.upstreamFailed(res.err)
		return
	}
	resp := res.resp
	f.up.body = resp.Body
	f.upstreamServiceTimeMS = time.Since(f.up.sentAt).Milliseconds()
	h := &headerMap{}
	h.add(":status", strconv.Itoa(resp.StatusCode))
	h.addHTTPHeader(resp.Header)
	// The router adds this before the filters see the response.
	h.add("x-envoy-upstream-service-time", strconv.FormatInt(f.upstreamServiceTimeMS, 10))
	noBody := resp.Body == http.NoBody || resp.ContentLength == 0
	src := responseSource{headers: h, noBody: noBody}
	if !noBody {
		src.reader = resp.Body
	}
	f.encodeHeaders(src)
}

// upstreamFailed is the router's 503 before any response headers.
func (f *filter) upstreamFailed(err error) {
	f.s.stats.upstreamFailures.Add(1)
	reason := "connection termination"
	var opErr interface{ Timeout() bool }
	if errors.As(err, &opErr) && opErr.Timeout() {
		reason = "connection timeout"
	} else if strings.Contains(err.Error(), "connect") {
		reason = "connection failure"
	}
	body := "upstream connect error or disconnect/reset before headers. reset reason: " + reason
	f.sendLocalReply(503, []byte(body), nil,
		"upstream_reset_before_response_started{"+strings.ReplaceAll(reason, " ", "_")+"}")
}

func (f *filter) cancelUpstream() {
	if f.up.cancel != nil {
		f.up.cancel()
	}
	if f.up.body != nil {
		_ = f.up.body.Close()
		f.up.body = nil
	}
}

// dataEvent is one body callback: data, end of stream, or a read error.
type dataEvent struct {
	data []byte
	eos  bool
	err  error
}

type bodySource struct {
	c      chan dataEvent
	exited chan struct{} // closed when the reader goroutine returned
}

// readSize is the size of one body read (one data callback).
const readSize = 32 << 10

// startBodySource reads rd in a goroutine; every read becomes one event, or
// several when split re-cuts it. The last event has eos (possibly empty).
func startBodySource(rd io.Reader, split func([]byte) [][]byte, done <-chan struct{}) *bodySource {
	src := &bodySource{c: make(chan dataEvent), exited: make(chan struct{})}
	emit := func(ev dataEvent) bool {
		select {
		case src.c <- ev:
			return true
		case <-done:
			return false
		}
	}
	go func() {
		defer close(src.exited)
		buf := make([]byte, readSize)
		for {
			select {
			case <-done:
				return
			default:
			}
			n, err := rd.Read(buf)
			eof := errors.Is(err, io.EOF)
			if n > 0 {
				pieces := splitPieces(bytes.Clone(buf[:n]), split)
				for i, p := range pieces {
					if !emit(dataEvent{data: p, eos: eof && i == len(pieces)-1}) {
						return
					}
				}
				if eof {
					return
				}
			}
			switch {
			case eof:
				emit(dataEvent{eos: true})
				return
			case err != nil:
				emit(dataEvent{err: err})
				return
			}
		}
	}()
	return src
}

func splitPieces(data []byte, split func([]byte) [][]byte) [][]byte {
	if split == nil {
		return [][]byte{data}
	}
	var out [][]byte
	for _, p := range split(data) {
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return [][]byte{data}
	}
	return out
}
