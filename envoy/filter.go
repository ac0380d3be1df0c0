package envoy

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

type outcome int

const (
	outcomeComplete   outcome = iota // response fully written
	outcomeReset                     // client response aborted
	outcomeClientGone                // client disconnected
)

// filter is the per-request ext_proc filter plus the bits of Envoy's filter
// manager and router around it. All state is owned by the handler goroutine,
// which runs an event loop like Envoy's dispatcher; helper goroutines only
// read bodies, call the upstream and talk gRPC, and report through channels.
type filter struct {
	s     *StandIn
	cfg   *config
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	log   *slog.Logger
	start time.Time
	done  chan struct{} // closed when the exchange ends: helpers stop

	path                  string // :path as the filter chain gets it
	stream                *extStream
	processingComplete    bool
	protocolConfigSent    bool
	sentLocalReply        bool
	decodeAborted         bool // a local reply ended the request side
	dec, enc              *procState
	reqBody, respBody     *bodySource // nil once drained or ignored
	reqSource             *bodySource // the request body reader, for cleanup
	up                    upstream
	finished              bool
	outcome               outcome
	status                int
	details               string
	downstreamStarted     bool
	upstreamServiceTimeMS int64
}

// newFilter starts one exchange; path is :path after the connection
// manager's normalisation.
func newFilter(s *StandIn, w http.ResponseWriter, r *http.Request, path string) *filter {
	f := &filter{
		s: s, cfg: s.cfg, w: w, r: r, ctx: r.Context(), path: path,
		log:   s.cfg.Logger.With("method", r.Method, "path", path),
		start: time.Now(), done: make(chan struct{}),
		up: upstream{resp: make(chan upstreamResult, 1)},
	}
	f.dec = newProcState(f, dirRequest, s.cfg.RequestBodyLimit)
	f.enc = newProcState(f, dirResponse, s.cfg.ResponseBodyLimit)
	return f
}

// run drives one HTTP exchange to its end.
func (f *filter) run() {
	// Read the request body while responding, as Envoy does (HTTP/1 needs it
	// switched on explicitly in Go).
	_ = http.NewResponseController(f.w).EnableFullDuplex()
	f.decodeHeaders()
	f.pumpUpstream()
	for !f.finished {
		f.step()
		f.pumpUpstream()
	}
}

func (f *filter) step() {
	var recv <-chan recvResult
	if f.stream != nil {
		recv = f.stream.recv
	}
	var reqC, respC <-chan dataEvent
	if f.reqBody != nil && f.dec.pendingBytes() <= f.dec.limit {
		reqC = f.reqBody.c
	}
	if f.respBody != nil && f.enc.pendingBytes() <= f.enc.limit {
		respC = f.respBody.c
	}
	select {
	case rr := <-recv:
		f.onRecv(rr)
	case ev := <-reqC:
		f.onRequestData(ev)
	case res := <-f.up.resp:
		f.onUpstreamResponse(res)
	case ev := <-respC:
		f.onResponseData(ev)
	case <-f.dec.timer.C:
		if f.dec.timerOn {
			f.dec.timerOn = false
			f.onMessageTimeout()
		}
	case <-f.enc.timer.C:
		if f.enc.timerOn {
			f.enc.timerOn = false
			f.onMessageTimeout()
		}
	case <-f.ctx.Done():
		f.onClientGone()
	}
}

// decodeHeaders is Filter::decodeHeaders after the HCM prepared the headers.
func (f *filter) decodeHeaders() {
	st := f.dec
	st.started = true
	st.headers = f.requestHeaderMap()
	st.noBody = f.r.ContentLength == 0
	if st.noBody {
		st.completeBodyAvailable = true
	} else {
		// Go fills r.Trailer once the body hit EOF.
		tr := trailerSource(f.r.ProtoMajor, f.cfg.DownstreamHTTP1Trailers, func() http.Header { return f.r.Trailer })
		f.reqBody = startBodySource(f.r.Body, nil, tr, f.done)
		f.reqSource = f.reqBody
	}
	cont := true
	if st.sendHeaders {
		cont = f.onHeaders(st, st.noBody)
	}
	if f.finished {
		return
	}
	if !f.processingComplete && st.shouldRemoveContentLength() {
		st.headers.remove("content-length")
	}
	if cont {
		st.release()
	}
}

// responseSource is what enters the encoder path: an upstream response or a
// local reply generated before any response existed.
type responseSource struct {
	headers  *headerMap
	noBody   bool
	body     []byte            // local reply body, delivered at once
	reader   bodyReadCloser    // upstream body
	trailers func() *headerMap // the upstream's trailers after EOF, nil if dropped
}

// encodeHeaders is Filter::encodeHeaders.
func (f *filter) encodeHeaders(src responseSource) {
	st := f.enc
	st.started = true
	st.headers = src.headers
	st.noBody = src.noBody
	if src.noBody {
		st.completeBodyAvailable = true
	}
	cont := true
	if !f.processingComplete && st.sendHeaders {
		cont = f.onHeaders(st, src.noBody)
	}
	if f.finished {
		return
	}
	if !f.processingComplete && st.shouldRemoveContentLength() {
		st.headers.remove("content-length")
	}
	if st.noExternalProcess() {
		f.closeStreamMaybeGraceful()
	}
	if cont {
		st.release()
	}
	if f.finished || src.noBody {
		return
	}
	if src.reader != nil {
		f.respBody = startBodySource(src.reader, f.cfg.ResponseChunkSplit, src.trailers, f.done)
		return
	}
	f.onData(st, src.body, true)
}

func (f *filter) onRequestData(ev dataEvent) {
	if ev.err != nil {
		// A broken request body means the client went away.
		f.reqBody = nil
		f.onClientGone()
		return
	}
	if ev.trailers != nil {
		f.reqBody = nil
		if !f.decodeAborted {
			f.onTrailers(f.dec, ev.trailers)
		}
		return
	}
	if ev.eos {
		f.reqBody = nil
	}
	if f.decodeAborted {
		return
	}
	f.onData(f.dec, ev.data, ev.eos)
}

func (f *filter) onResponseData(ev dataEvent) {
	if ev.err != nil {
		// The upstream reset mid-body: Envoy's router already started the
		// response, so the downstream stream is reset.
		f.respBody = nil
		f.s.stats.upstreamFailures.Add(1)
		f.resetDownstream("upstream_reset_after_response_started")
		return
	}
	if ev.trailers != nil {
		f.respBody = nil
		f.onTrailers(f.enc, ev.trailers)
		return
	}
	if ev.eos {
		f.respBody = nil
	}
	f.onData(f.enc, ev.data, ev.eos)
}

func (f *filter) stopRequestBody() { f.reqBody = nil }

// cleanup releases everything once the exchange ended.
func (f *filter) cleanup() {
	close(f.done)
	f.stopRequestReader()
	f.dec.stopTimer()
	f.enc.stopTimer()
	if f.stream != nil {
		if f.outcome == outcomeComplete {
			f.closeStream() // as Envoy's onDestroy closes the stream
		} else {
			f.abortStream() // the sidecar sees codes.Canceled
		}
	}
	f.cancelUpstream()
}

// stopRequestReader makes sure no request body Read runs once the handler
// returns, and finishes the body inside the handler: with full duplex on,
// net/http would otherwise drain the rest after the handler returned and
// start its background connection read too late (a concurrent read panic).
// A body read to its end needs nothing more: its reader goroutine reads no
// further, and a read deadline now would hit net/http's background read of
// the next request and cancel the connection (keepalive.go). A Read still
// waiting for the client is cut short with a read deadline; the response
// then carried "Connection: close", as Envoy's does when it answers before
// the request is complete.
func (f *filter) stopRequestReader() {
	if f.reqSource == nil {
		return
	}
	if f.reqSource.ended.Load() {
		<-f.reqSource.exited // done is closed: it returns from its last emit
		return
	}
	rc := http.NewResponseController(f.w)
	select {
	case <-f.reqSource.exited:
	default:
		if err := rc.SetReadDeadline(time.Now()); err != nil {
			f.log.Debug("cannot interrupt the request body read", "err", err)
		}
		<-f.reqSource.exited
	}
	_ = rc.SetReadDeadline(time.Now().Add(time.Second)) // bound the drain
	_ = f.r.Body.Close()
}

// abortStream cancels the stream without a half-close.
func (f *filter) abortStream() {
	if f.stream == nil {
		return
	}
	f.stream.abort()
	f.stream = nil
	f.s.stats.streamsClosed.Add(1)
}

// requestHeaderMap builds what Envoy's HTTP/1 codec and connection manager
// hand to the filter chain: pseudo-headers, the client's headers (minus
// hop-by-hop ones) and the HCM's x-forwarded-for/-proto and x-request-id.
func (f *filter) requestHeaderMap() *headerMap {
	r := f.r
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	h := &headerMap{}
	h.add(":authority", r.Host)
	h.add(":path", f.path)
	h.add(":method", r.Method)
	h.add(":scheme", scheme)
	h.addHTTPHeader(r.Header)
	addTrailerDeclaration(h, r.Trailer)
	if v, ok := h.get("expect"); ok && v == "100-continue" {
		h.remove("expect") // Envoy answers 100-continue itself
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if xff, ok := h.get("x-forwarded-for"); ok {
			h.set("x-forwarded-for", xff+","+ip)
		} else {
			h.add("x-forwarded-for", ip)
		}
	}
	h.set("x-forwarded-proto", scheme)
	if !h.has("x-request-id") {
		h.add("x-request-id", newRequestID())
	}
	return h
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
