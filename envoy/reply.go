package envoy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// sendImmediateResponse is Filter::sendImmediateResponse.
func (f *filter) sendImmediateResponse(ir *extprocv3.ImmediateResponse) {
	code := 200
	if ir.GetStatus() != nil {
		code = int(ir.GetStatus().GetCode())
	}
	switch {
	case code < 200:
		code = 200 // Envoy: missing or invalid status → 200
	case code > 999:
		code = 500 // Go cannot write a four-digit status; Envoy would send it as is
	}
	f.sendLocalReply(code, ir.GetBody(), ir.GetHeaders(), ir.GetDetails())
}

// replaceWhitespace is StringUtil::replaceAllEmptySpace for response code details.
func replaceWhitespace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, s)
}

// bufferOverflow is the filter manager's reaction to a full buffer.
func (f *filter) bufferOverflow(st *procState) {
	if st.dir == dirRequest {
		f.sendLocalReply(413, []byte("Payload Too Large"), nil, "request_payload_too_large")
		return
	}
	f.sendLocalReply(500, []byte("Internal Server Error"), nil, "response_payload_too_large")
}

// sendLocalReply follows DownstreamFilterManager::sendLocalReply: before any
// response entered the encoder path the reply goes through the filter chain
// (so ext_proc sees it unless its processing is complete); once response
// headers are in the chain but not downstream it goes straight to the client;
// after that only a reset is possible.
func (f *filter) sendLocalReply(code int, body []byte, mutation *extprocv3.HeaderMutation, details string) {
	if f.finished {
		return
	}
	f.sentLocalReply = true
	f.details = replaceWhitespace(details)
	f.s.stats.localReplies.Add(1)
	if f.downstreamStarted {
		f.resetDownstream(details)
		return
	}
	hm := f.localReplyHeaders(code, body, mutation)
	if !f.enc.started {
		// The request side stops: no upstream call, no more body reads
		// once what the client already sent is consumed (keepalive.go).
		f.awaitRequestBody()
		f.decodeAborted = true
		f.stopRequestBody()
		f.cancelUpstream()
		f.encodeHeaders(responseSource{headers: hm, noBody: len(body) == 0, body: body})
		return
	}
	f.cancelUpstream()
	f.writeDownstreamHeaders(hm, len(body) == 0)
	if len(body) > 0 {
		f.writeDownstream(body)
	}
	f.complete()
}

// localReplyHeaders builds a local reply the way Envoy's prepareLocalReply
// does: :status, then the caller's mutation (default checker, failures only
// logged), then content-length/content-type defaults.
func (f *filter) localReplyHeaders(code int, body []byte, mutation *extprocv3.HeaderMutation) *headerMap {
	hm := &headerMap{}
	hm.add(":status", strconv.Itoa(code))
	if mutation != nil {
		if err := f.mutateHeaders(mutation, hm, false, false); err != nil {
			f.log.Error("immediate response mutations failed", "err", err)
		}
	}
	if len(body) > 0 {
		hm.set("content-length", strconv.Itoa(len(body)))
		if !hm.has("content-type") {
			hm.set("content-type", "text/plain")
		}
	} else {
		hm.remove("content-length")
		hm.remove("content-type")
	}
	return hm
}

// deliverHeaders hands released headers to the next stage.
func (f *filter) deliverHeaders(dir direction, h *headerMap, eos bool) {
	if dir == dirRequest {
		if f.decodeAborted {
			return
		}
		f.up.headers = h
		f.up.released = true
		f.up.eos = eos
		return
	}
	if f.finished {
		return
	}
	f.writeDownstreamHeaders(h, eos)
	if eos {
		f.complete()
	}
}

// deliver hands released body data to the next stage.
func (f *filter) deliver(dir direction, data []byte, eos bool) {
	if dir == dirRequest {
		if f.decodeAborted {
			return
		}
		f.up.pending = append(f.up.pending, data...)
		if eos {
			f.up.eos = true
		}
		return
	}
	if f.finished {
		return
	}
	if len(data) > 0 {
		f.writeDownstream(data)
	}
	if eos {
		f.complete()
	}
}

func (f *filter) writeDownstreamHeaders(h *headerMap, eos bool) {
	code, err := strconv.Atoi(firstValue(h, ":status"))
	if err != nil || code < 200 || code > 999 {
		code = 502
	}
	dst := f.w.Header()
	for k := range dst {
		delete(dst, k)
	}
	h.httpHeader(dst)
	dst.Set("Server", "envoy") // server_header_transformation: OVERWRITE
	f.closeIfRequestIncomplete(dst)
	f.status = code
	f.w.WriteHeader(code)
	f.downstreamStarted = true
	if !eos {
		f.flush()
	}
}

func (f *filter) writeDownstream(data []byte) {
	if _, err := f.w.Write(data); err != nil { //nolint:gosec // G705: a proxy relays the upstream's bytes to its client unchanged, as Envoy does
		if errors.Is(err, http.ErrBodyNotAllowed) {
			return // 204/304/HEAD: Envoy's codec drops the body too
		}
		f.onClientGone()
		return
	}
	f.flush()
}

func (f *filter) flush() {
	if err := http.NewResponseController(f.w).Flush(); err != nil {
		f.log.Debug("flush failed", "err", err)
	}
}

func firstValue(h *headerMap, key string) string {
	v, _ := h.get(key)
	return v
}

// complete ends the exchange normally: the response is fully written.
func (f *filter) complete() {
	if f.finished {
		return
	}
	f.finished = true
	f.outcome = outcomeComplete
}

// resetDownstream aborts the client's response (Envoy resets the stream).
func (f *filter) resetDownstream(reason string) {
	if f.finished {
		return
	}
	f.details = reason
	f.finished = true
	f.outcome = outcomeReset
	f.s.stats.downstreamResets.Add(1)
}

func (f *filter) onClientGone() {
	if f.finished {
		return
	}
	f.details = "downstream_remote_disconnect"
	f.finished = true
	f.outcome = outcomeClientGone
	f.s.stats.clientDisconnects.Add(1)
}
