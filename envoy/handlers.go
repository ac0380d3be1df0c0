package envoy

import (
	"fmt"
	"strconv"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// onHeaders sends the headers message; it reports whether the headers may
// continue at once (no stream, or processing already complete).
func (f *filter) onHeaders(st *procState, eos bool) bool {
	switch f.openStream() {
	case openError:
		return false
	case openIgnore:
		return true
	}
	st.headersMutable = true
	st.noBody = eos
	req := f.buildHeaderRequest(st, eos)
	st.startCall(cbHeaders)
	f.send(req)
	st.paused = true
	return false
}

// onData is Filter::onData for one body callback of either direction.
func (f *filter) onData(st *procState, data []byte, eos bool) {
	if eos {
		st.completeBodyAvailable = true
	}
	if st.bodyReplaced {
		st.forward(nil, eos) // CONTINUE_AND_REPLACE drains the original body
		return
	}
	if f.processingComplete {
		st.forward(data, eos)
		return
	}
	if st.cb == cbHeaders {
		// Header reply pending: hold the data. BUFFERED returns
		// StopIterationAndBuffer (the buffer limit applies); other modes
		// return StopIterationAndWatermark (reading just pauses).
		st.paused = true
		st.addBufferedData(data)
		if st.bodyMode == extprocfilterv3.ProcessingMode_BUFFERED && len(st.buffered) > st.limit {
			f.bufferOverflow(st)
		}
		return
	}
	switch st.bodyMode {
	case extprocfilterv3.ProcessingMode_BUFFERED:
		f.onDataBuffered(st, data, eos)
	case extprocfilterv3.ProcessingMode_STREAMED:
		f.onDataStreamed(st, data, eos)
	case extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL:
		f.onDataBufferedPartial(st, data, eos)
	default:
		st.forward(data, eos)
	}
}

func (f *filter) onDataBuffered(st *procState, data []byte, eos bool) {
	st.addBufferedData(data)
	if len(st.buffered) > st.limit {
		f.bufferOverflow(st)
		return
	}
	if !eos {
		st.paused = true
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
	f.sendBodyChunk(st, cbBufferedBody, st.buffered, true)
	st.paused = true
}

func (f *filter) onDataStreamed(st *procState, data []byte, eos bool) {
	switch f.openStream() {
	case openError:
		return
	case openIgnore:
		st.forward(data, eos)
		return
	}
	st.enqueue(data, eos)
	f.sendBodyChunk(st, cbStreamedBody, data, eos)
	if eos {
		st.paused = true
		return
	}
	st.release() // Continue (with no data: it comes back with the reply)
}

func (f *filter) onDataBufferedPartial(st *procState, data []byte, eos bool) {
	switch {
	case st.partialBodyProcessed:
		st.headersMutable = false
		st.forward(data, eos)
	case st.cb == cbBufferedPartialBody:
		st.enqueue(data, eos)
		st.paused = true
	default:
		st.enqueue(data, eos)
		if eos || st.queuedBytes > st.limit {
			f.sendPartialChunk(st)
		}
	}
}

// sendPartialChunk sends everything queued as one BUFFERED_PARTIAL message.
func (f *filter) sendPartialChunk(st *procState) {
	switch f.openStream() {
	case openError:
		return
	case openIgnore:
		c := st.consolidate()
		st.forward(c.data, c.eos)
		return
	}
	c := st.consolidate()
	st.enqueue(c.data, c.eos)
	f.sendBodyChunk(st, cbBufferedPartialBody, c.data, c.eos)
	st.paused = true
}

func (f *filter) sendBodyChunk(st *procState, cb callbackState, data []byte, eos bool) {
	req := f.setupBodyChunk(st, data, eos)
	st.startCall(cb)
	f.send(req)
}

// handleHeadersResponse is ProcessorState::handleHeadersResponse.
func (f *filter) handleHeadersResponse(st *procState, resp *extprocv3.HeadersResponse) error {
	if st.cb != cbHeaders {
		return errSpurious
	}
	if f.requestSideAborted(st) {
		return nil
	}
	common := resp.GetResponse()
	replace := common.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE
	if m := common.GetHeaderMutation(); m != nil {
		if err := f.mutateHeaders(m, st.headers, replace, st.shouldRemoveContentLength()); err != nil {
			return err
		}
	}
	st.finishCall(cbIdle)
	if replace {
		if bm := common.GetBodyMutation(); bm != nil {
			st.headers.remove("content-length")
			st.bodyReplaced = true
			st.buffered = applyBodyMutation(bm, st.buffered)
			st.hasBuffered = true
			st.noBody = false // a body is created when there was none
		}
		st.queue, st.queuedBytes = nil, 0
		st.bodyMode = extprocfilterv3.ProcessingMode_NONE
		st.sendTrailers = false
	} else if !st.noBody {
		switch {
		case st.completeBodyAvailable && st.bodyMode != extprocfilterv3.ProcessingMode_NONE:
			if st.hasBuffered {
				// The whole body arrived while the headers were out: one
				// message, handled as BUFFERED whatever the mode, with
				// end_of_stream=false when trailers follow.
				f.sendBodyChunk(st, cbBufferedBody, st.buffered, !st.trailersAvailable)
				return nil
			}
			// Trailers but no body at all: Envoy (late 2025) returns here
			// without continuing, which leaves the stream stuck until a
			// timeout; the stand-in carries on as for a message without a
			// body (finalizeContinueResponse).
		case st.bodyMode == extprocfilterv3.ProcessingMode_BUFFERED:
			return nil // keep holding the headers until the body is complete
		case st.bodyMode == extprocfilterv3.ProcessingMode_STREAMED:
			if len(st.buffered) > 0 {
				data := st.takeBuffered()
				st.enqueue(data, false)
				f.sendBodyChunk(st, cbStreamedBody, data, false)
			}
			st.continueIfNecessary()
			return nil
		case st.bodyMode == extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL:
			if len(st.buffered) > 0 {
				st.enqueue(st.takeBuffered(), false)
			}
			if st.queuedBytes > st.limit {
				c := st.consolidate()
				st.enqueue(c.data, false)
				f.sendBodyChunk(st, cbBufferedPartialBody, c.data, false)
			}
			return nil
		}
	}
	if st.sendTrailers && st.trailersAvailable {
		// finalizeContinueResponse: trailers came in while the headers were
		// out and the processor wants no body: send them now, keep holding.
		f.sendTrailers(st)
		return nil
	}
	st.headersMutable = false
	st.continueIfNecessary()
	return nil
}

// handleBodyResponse is ProcessorState::handleBodyResponse.
func (f *filter) handleBodyResponse(st *procState, resp *extprocv3.BodyResponse) error {
	switch st.cb {
	case cbBufferedBody, cbStreamedBody, cbBufferedPartialBody:
	default:
		return errSpurious
	}
	if f.requestSideAborted(st) {
		return nil
	}
	common := resp.GetResponse()
	var shouldContinue bool
	switch st.cb {
	case cbBufferedBody:
		if m := common.GetHeaderMutation(); m != nil && st.headersMutable {
			if err := f.mutateHeaders(m, st.headers, false, st.shouldRemoveContentLength()); err != nil {
				return err
			}
		}
		if bm := common.GetBodyMutation(); bm != nil {
			if err := validateContentLength(st, bm); err != nil {
				return err
			}
			st.buffered = applyBodyMutation(bm, st.buffered)
			st.hasBuffered = true
		}
		st.finishCall(cbIdle)
		shouldContinue = true
	case cbStreamedBody:
		if _, ok := common.GetBodyMutation().GetMutation().(*extprocv3.BodyMutation_StreamedResponse); ok {
			return fmt.Errorf("%w: streamed_response is received while body_mode_ is not FULL_DUPLEX_STREAMED", errSpurious)
		}
		c, _ := st.dequeue()
		if bm := common.GetBodyMutation(); bm != nil {
			c.data = applyBodyMutation(bm, c.data)
		}
		// header_mutation is ignored: the headers are gone.
		st.forward(c.data, c.eos)
		shouldContinue = c.eos
		if len(st.queue) == 0 {
			st.finishCall(cbIdle)
		} else {
			st.finishCall(cbStreamedBody)
		}
	case cbBufferedPartialBody:
		c, _ := st.dequeue()
		if m := common.GetHeaderMutation(); m != nil && st.headersMutable {
			if err := f.mutateHeaders(m, st.headers, false, st.shouldRemoveContentLength()); err != nil {
				return err
			}
		}
		if bm := common.GetBodyMutation(); bm != nil {
			c.data = applyBodyMutation(bm, c.data)
		}
		st.forward(c.data, c.eos)
		st.finishCall(cbIdle)
		if len(st.queue) > 0 {
			rest := st.consolidate()
			st.forward(rest.data, rest.eos)
		}
		st.partialBodyProcessed = true
		shouldContinue = true
	default:
		return errSpurious
	}
	st.headersMutable = false
	if st.sendTrailers && st.trailersAvailable && len(st.queue) == 0 {
		// Trailers are in and no body reply is pending: they go next, and
		// everything held waits for their reply.
		f.sendTrailers(st)
		return nil
	}
	if shouldContinue || (st.trailersAvailable && len(st.queue) == 0) {
		st.continueIfNecessary()
	}
	return nil
}

// requestSideAborted accepts a late request-direction reply after a local
// reply (413, 503...) ended the request side: nothing more goes upstream or
// to the processor for that direction.
func (f *filter) requestSideAborted(st *procState) bool {
	if st.dir != dirRequest || !f.decodeAborted {
		return false
	}
	next := cbIdle
	if st.cb == cbStreamedBody {
		// Pipelined chunks keep their replies coming: consume one each.
		st.dequeue()
		if len(st.queue) > 0 {
			next = cbStreamedBody
		}
	} else {
		st.queue, st.queuedBytes = nil, 0
	}
	st.finishCall(next)
	st.paused = false
	return true
}

// validateContentLength: a BUFFERED body mutation must match a content-length
// still present on the held headers (set or removed in the same reply).
func validateContentLength(st *procState, bm *extprocv3.BodyMutation) error {
	if !st.headersMutable {
		return nil
	}
	v, ok := st.headers.get("content-length")
	if !ok {
		return nil
	}
	// Like Envoy, only a content-length that parses as a number is compared.
	if n, err := strconv.ParseUint(v, 10, 64); err == nil && n != uint64(len(bm.GetBody())) {
		return fmt.Errorf("%w: mismatch between content length and the length of the mutated body", errMutation)
	}
	return nil
}

func (f *filter) mutateHeaders(m *extprocv3.HeaderMutation, h *headerMap, replace, removeCL bool) error {
	rejected, err := applyHeaderMutations(m, h, replace, removeCL)
	f.s.stats.rejectedHeaderMutations.Add(int64(rejected))
	return err
}
