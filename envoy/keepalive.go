package envoy

import (
	"net/http"
	"time"
)

// Keep-alive: Envoy's HTTP/1 codec reads the socket eagerly, so by the time
// the sidecar answers a small request with a local reply (Proxide's 402 at
// the request headers, its 429 at the request body) the whole body is in
// Envoy's buffers and the request is complete: the connection stays open
// for the client's next request. Envoy closes it ("connection: close", then
// a reset) only when the response starts before the request is complete
// (ConnectionManagerImpl::ActiveStream::encodeHeaders, the stat
// downstream_rq_response_before_rq_complete).
//
// The stand-in reads the request body lazily through a goroutine, and
// net/http starts its own background read of the connection the moment the
// body hits EOF. Interrupting the body's read with a past read deadline at
// that point (what stopRequestReader did for every body still being read)
// also interrupted net/http's background read, which cancels the
// connection's context: the next request on the connection then looked like
// a client gone, was dropped, and the SDKs sent it again.

// localReplyDrainGrace bounds how long a local reply waits for the rest of a
// request body the client is still sending (a behaviour bound, not a timing
// any test relies on).
const localReplyDrainGrace = time.Second

// requestComplete reports whether the client's request body was read to its
// end (or there was none): Envoy's remote-decode-complete.
func (f *filter) requestComplete() bool {
	return f.reqSource == nil || f.reqSource.ended.Load()
}

// awaitRequestBody consumes, and drops, what is left of the request body
// before a local reply goes out, as Envoy's codec would have read it. It
// stops at the end of the body, after the request buffer limit more bytes,
// after localReplyDrainGrace, or when the client goes away; the reply then
// closes the connection (writeDownstreamHeaders).
func (f *filter) awaitRequestBody() {
	if f.reqBody == nil {
		return
	}
	timer := time.NewTimer(localReplyDrainGrace)
	defer timer.Stop()
	drained := 0
	for f.reqBody != nil && drained <= f.dec.limit {
		select {
		case ev := <-f.reqBody.c:
			drained += len(ev.data)
			if ev.eos || ev.trailers != nil || ev.err != nil {
				f.reqBody = nil
			}
		case <-timer.C:
			return
		case <-f.ctx.Done():
			return
		}
	}
}

// closeIfRequestIncomplete marks a response that starts before the request
// is complete as the connection's last, like Envoy's HTTP/1 codec.
func (f *filter) closeIfRequestIncomplete(h http.Header) {
	if !f.requestComplete() {
		h.Set("Connection", "close")
	}
}
