package envoy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

type bodyReadCloser = io.ReadCloser

// upstream is the router's side of one exchange.
type upstream struct {
	headers  *headerMap // released request headers
	released bool
	pending  []byte     // released body bytes not yet handed to the request
	trailers *headerMap // released trailers (they end the body)
	eos      bool
	started  bool
	writer   *queue[bodyItem] // streams the body when it is not complete at start
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
		u.writer.push(bodyItem{data: u.pending})
		u.pending = nil
	}
	if u.eos {
		if u.trailers != nil {
			u.writer.push(bodyItem{trailers: u.trailers})
		}
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
	var streamed *upstreamBody
	var trailer http.Header
	if !f.dec.noBody {
		contentLength = -1
		if v, ok := h.get("content-length"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				contentLength = n
			}
		}
		// Envoy's HTTP/1 codec sends trailers only with enable_trailers and
		// chunked encoding (no content-length).
		if f.cfg.UpstreamHTTP1Trailers && contentLength < 0 {
			trailer = http.Header{}
		}
		if u.eos {
			body = io.NopCloser(bytes.NewReader(u.pending)) // hides the length from Go
			u.pending = nil
			if trailer != nil && u.trailers != nil {
				u.trailers.httpHeader(trailer)
			}
		} else {
			streamed = &upstreamBody{q: newQueue[bodyItem](), done: f.done, trailer: trailer}
			body = streamed
		}
	}
	// G704 below: a reverse proxy sends requests to its configured upstream;
	// target is Options.Upstream with the route's rewritten path.
	req, err := http.NewRequestWithContext(ctx, firstValue(h, ":method"), target, body) //nolint:gosec // G704: see above
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
	req.Trailer = trailer
	if streamed != nil {
		u.writer = streamed.q
		if len(u.pending) > 0 {
			u.writer.push(bodyItem{data: u.pending})
			u.pending = nil
		}
	}
	f.s.stats.upstreamRequests.Add(1)
	u.sentAt = time.Now()
	go func() {
		resp, err := f.s.httpClient.Do(req) //nolint:gosec // G704: the configured upstream, see above
		select {
		case u.resp <- upstreamResult{resp: resp, err: err}:
		case <-f.done:
			if resp != nil {
				_ = resp.Body.Close()
			}
		}
	}()
}

// bodyItem is a piece of the request body released to the router, or its
// trailers.
type bodyItem struct {
	data     []byte
	trailers *headerMap
}

// errExchangeEnded cuts the upstream request body when the exchange ends.
var errExchangeEnded = errors.New("envoy: exchange ended")

// upstreamBody streams released request body pieces into the upstream
// request. The HTTP client reads it on its own goroutine, the one that
// writes the trailers after EOF, so filling req.Trailer here, and only here,
// keeps the map out of a data race with the client.
type upstreamBody struct {
	q       *queue[bodyItem]
	done    <-chan struct{}
	cur     []byte
	trailer http.Header // the upstream request's Trailer map; nil drops trailers
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	for len(b.cur) == 0 {
		it, ok := b.q.pop(b.done)
		if !ok {
			select {
			case <-b.done:
				return 0, errExchangeEnded
			default:
				return 0, io.EOF
			}
		}
		if it.trailers != nil {
			if b.trailer != nil {
				it.trailers.httpHeader(b.trailer)
			}
			continue
		}
		b.cur = it.data
	}
	n := copy(p, b.cur)
	b.cur = b.cur[n:]
	return n, nil
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
	addTrailerDeclaration(h, resp.Trailer)
	// The router adds this before the filters see the response.
	h.add("x-envoy-upstream-service-time", strconv.FormatInt(f.upstreamServiceTimeMS, 10))
	noBody := resp.Body == http.NoBody || resp.ContentLength == 0
	src := responseSource{headers: h, noBody: noBody}
	if !noBody {
		src.reader = resp.Body
		// Go fills resp.Trailer once the body hit EOF.
		src.trailers = trailerSource(resp.ProtoMajor, f.cfg.UpstreamHTTP1Trailers, func() http.Header { return resp.Trailer })
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

// dataEvent is one body callback: data, end of stream, trailers (which end
// the stream too), or a read error.
type dataEvent struct {
	data     []byte
	eos      bool
	trailers *headerMap
	err      error
}

type bodySource struct {
	c      chan dataEvent
	exited chan struct{} // closed when the reader goroutine returned
	// ended is set once a Read returned io.EOF, before that read's data is
	// emitted: the body is complete and no Read will follow (see keepalive.go).
	ended atomic.Bool
}

// readSize is the size of one body read (one data callback).
const readSize = 32 << 10

// startBodySource reads rd in a goroutine; every read becomes one event, or
// several when split re-cuts it. The last event has eos (possibly empty),
// unless trailers (asked for at EOF, when trailers is not nil) follow: then
// the last data event has no eos and a trailers event ends the stream.
func startBodySource(rd io.Reader, split func([]byte) [][]byte, trailers func() *headerMap, done <-chan struct{}) *bodySource {
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
			if eof {
				src.ended.Store(true)
			}
			var tr *headerMap
			if eof && trailers != nil {
				tr = trailers()
			}
			if n > 0 {
				pieces := splitPieces(bytes.Clone(buf[:n]), split)
				for i, p := range pieces {
					if !emit(dataEvent{data: p, eos: eof && tr == nil && i == len(pieces)-1}) {
						return
					}
				}
				if eof {
					if tr != nil {
						emit(dataEvent{trailers: tr})
					}
					return
				}
			}
			switch {
			case eof && tr != nil:
				emit(dataEvent{trailers: tr})
				return
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
