package envoy

import (
	"net/http"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// Trailers follow envoyproxy/envoy's ext_proc filter (main, 2025-2026):
// ext_proc.cc Filter::onTrailers, sendTrailers and
// closeGrpcStreamIfLastRespReceived; processor_state.cc
// handleHeadersResponseWithContinue, handleCompleteBodyAvailable,
// finalizeContinueResponse, handleBodyResponse and handleTrailersResponse.

// onTrailers is Filter::onTrailers (decodeTrailers / encodeTrailers): the
// trailers end the body, so a BUFFERED or BUFFERED_PARTIAL body still held
// goes out now with end_of_stream=false; then, if the trailer mode is SEND
// and no reply is pending, the trailers themselves.
func (f *filter) onTrailers(st *procState, t *headerMap) {
	if f.processingComplete {
		st.trailers = t
		st.trailersAvailable = true
		st.paused = true
		st.continueIfNecessary() // Continue
		return
	}
	bodyDelivered := st.completeBodyAvailable
	st.completeBodyAvailable = true
	st.trailersAvailable = true
	st.trailers = t
	if st.cb != cbIdle {
		// A reply is pending: hold the trailers; the reply handlers send
		// them (SEND) or let them through (SKIP).
		st.paused = true
		return
	}
	buffered := st.hasBuffered && st.bodyMode == extprocfilterv3.ProcessingMode_BUFFERED
	partial := len(st.queue) > 0 && st.bodyMode == extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL
	if !bodyDelivered && (buffered || partial) {
		switch f.openStream() {
		case openError:
			return
		case openIgnore:
			st.paused = true
			st.clearAsyncState()
			return
		}
		if buffered {
			f.sendBodyChunk(st, cbBufferedBody, st.buffered, false)
		} else {
			c := st.consolidate()
			st.enqueue(c.data, false)
			f.sendBodyChunk(st, cbBufferedPartialBody, c.data, false)
		}
		st.paused = true
		return
	}
	if !st.sendTrailers {
		// SKIP: Continue. Headers or data still held here (a BUFFERED body
		// that turned out empty) go on with the trailers.
		st.paused = true
		st.continueIfNecessary()
		return
	}
	switch f.openStream() {
	case openError:
		return
	case openIgnore:
		st.paused = true
		st.continueIfNecessary()
		return
	}
	f.sendTrailers(st)
	st.paused = true
}

// sendTrailers is Filter::sendTrailers: once per direction, timed like any
// message.
func (f *filter) sendTrailers(st *procState) {
	if st.trailersSent {
		return
	}
	st.trailersSent = true
	req := &extprocv3.ProcessingRequest{MetadataContext: &corev3.Metadata{}}
	f.addAttributes(st, req)
	ht := &extprocv3.HttpTrailers{Trailers: st.trailers.proto()}
	if st.dir == dirRequest {
		req.Request = &extprocv3.ProcessingRequest_RequestTrailers{RequestTrailers: ht}
	} else {
		req.Request = &extprocv3.ProcessingRequest_ResponseTrailers{ResponseTrailers: ht}
	}
	st.startCall(cbTrailers)
	f.encodeProtocolConfig(req)
	f.send(req)
}

// handleTrailersResponse is ProcessorState::handleTrailersResponse: only
// valid while a trailers message is out; its header_mutation applies to the
// trailers, then everything held continues.
func (f *filter) handleTrailersResponse(st *procState, resp *extprocv3.TrailersResponse) error {
	if st.cb != cbTrailers {
		return errSpurious
	}
	if f.requestSideAborted(st) {
		return nil
	}
	if m := resp.GetHeaderMutation(); m != nil {
		if err := f.mutateHeaders(m, st.trailers, false, false); err != nil {
			return err
		}
	}
	st.finishCall(cbIdle)
	st.continueIfNecessary()
	return nil
}

// trailerSource returns what a codec hands on as trailers once a body hit
// EOF, or nil when that codec drops them: Envoy's HTTP/1 codec does unless
// enable_trailers is set.
func trailerSource(protoMajor int, http1Enabled bool, trailer func() http.Header) func() *headerMap {
	if protoMajor < 2 && !http1Enabled {
		return nil
	}
	return func() *headerMap { return trailerMap(trailer()) }
}

// trailerMap converts Go's trailers (declared keys may carry no value) to a
// header map, or nil when there are none.
func trailerMap(h http.Header) *headerMap {
	keys := make([]string, 0, len(h))
	for k, vv := range h {
		if len(vv) > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	m := &headerMap{}
	for _, k := range keys {
		for _, v := range h[k] {
			m.add(strings.ToLower(k), v)
		}
	}
	return m
}

// addTrailerDeclaration puts back the "trailer" header Go's codec consumed,
// as Envoy passes it on like any header.
func addTrailerDeclaration(h *headerMap, declared http.Header) {
	if len(declared) == 0 || h.has("trailer") {
		return
	}
	keys := make([]string, 0, len(declared))
	for k := range declared {
		keys = append(keys, strings.ToLower(k))
	}
	sort.Strings(keys)
	h.add("trailer", strings.Join(keys, ", "))
}

// deliverTrailers hands released trailers to the next stage; they end the
// direction.
func (f *filter) deliverTrailers(dir direction, t *headerMap) {
	if dir == dirRequest {
		if f.decodeAborted {
			return
		}
		f.up.trailers = t
		f.up.eos = true
		return
	}
	if f.finished {
		return
	}
	f.writeDownstreamTrailers(t)
	f.complete()
}

// writeDownstreamTrailers sends trailers to the client like Envoy's codecs:
// HTTP/2 always; HTTP/1 only with enable_trailers and a chunked response
// (Go's server drops them on a response with a content-length, as Envoy's
// HTTP/1 codec does).
func (f *filter) writeDownstreamTrailers(t *headerMap) {
	if f.r.ProtoMajor < 2 && !f.cfg.DownstreamHTTP1Trailers {
		return
	}
	dst := f.w.Header()
	for _, e := range t.entries {
		if strings.HasPrefix(e.key, ":") {
			continue
		}
		dst[http.TrailerPrefix+e.key] = append(dst[http.TrailerPrefix+e.key], e.value)
	}
}
