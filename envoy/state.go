package envoy

import (
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
)

type direction int

const (
	dirRequest  direction = iota // decoding: client → upstream
	dirResponse                  // encoding: upstream → client
)

func (d direction) String() string {
	if d == dirRequest {
		return "request"
	}
	return "response"
}

// callbackState is ProcessorState::CallbackState: which reply the direction
// waits for.
type callbackState int

const (
	cbIdle callbackState = iota
	cbHeaders
	cbBufferedBody
	cbStreamedBody
	cbBufferedPartialBody
	cbTrailers
)

// chunk is a body chunk sent in STREAMED/BUFFERED_PARTIAL mode and queued
// until its reply arrives (Envoy's ChunkQueue).
type chunk struct {
	data []byte
	eos  bool
}

// procState is one direction's state machine, after Envoy's ProcessorState.
type procState struct {
	f     *filter
	dir   direction
	limit int // buffer limit: 413/500 in BUFFERED, watermark otherwise

	sendHeaders  bool
	sendTrailers bool // trailer mode SEND
	bodyMode     extprocfilterv3.ProcessingMode_BodySendMode

	cb                 callbackState
	timer              *time.Timer
	timerOn            bool
	newTimeoutReceived bool

	started               bool       // headers reached this direction
	headers               *headerMap // this direction's headers
	headersMutable        bool       // Envoy's headers_ != nullptr
	noBody                bool
	completeBodyAvailable bool
	bodyReplaced          bool
	partialBodyProcessed  bool
	attributesSent        bool

	trailers          *headerMap // held at this filter; nil once forwarded
	trailersAvailable bool       // trailers arrived: the body is complete, no data eos
	trailersSent      bool       // the trailers message went to the processor

	buffered    []byte // data held by the filter manager (StopIterationAndBuffer)
	hasBuffered bool
	queue       []chunk
	queuedBytes int

	paused       bool // iteration stopped at this filter
	released     bool // headers went to the next stage
	eosForwarded bool
}

func newProcState(f *filter, dir direction, limit int) *procState {
	t := time.NewTimer(time.Hour)
	t.Stop()
	st := &procState{f: f, dir: dir, limit: limit, timer: t}
	st.setProcessingMode(f.cfg.mode)
	return st
}

func (st *procState) setProcessingMode(m *extprocfilterv3.ProcessingMode) {
	if st.dir == dirRequest {
		st.sendHeaders = m.GetRequestHeaderMode() != extprocfilterv3.ProcessingMode_SKIP
		st.sendTrailers = m.GetRequestTrailerMode() == extprocfilterv3.ProcessingMode_SEND
		st.bodyMode = m.GetRequestBodyMode()
		return
	}
	st.sendHeaders = m.GetResponseHeaderMode() != extprocfilterv3.ProcessingMode_SKIP
	st.sendTrailers = m.GetResponseTrailerMode() == extprocfilterv3.ProcessingMode_SEND
	st.bodyMode = m.GetResponseBodyMode()
}

// shouldRemoveContentLength: in these modes Envoy cannot keep a correct
// content-length once the processor may change the body.
func (st *procState) shouldRemoveContentLength() bool {
	switch st.bodyMode {
	case extprocfilterv3.ProcessingMode_STREAMED, extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL:
		return true
	case extprocfilterv3.ProcessingMode_BUFFERED:
		return !st.sendHeaders
	}
	return false
}

func (st *procState) noExternalProcess() bool {
	return !st.sendHeaders && st.bodyMode == extprocfilterv3.ProcessingMode_NONE && !st.sendTrailers
}

func (st *procState) startCall(cb callbackState) {
	st.cb = cb
	st.timer.Reset(st.f.cfg.MessageTimeout)
	st.timerOn = true
	st.newTimeoutReceived = false
}

// finishCall stops the timer on every reply, also between pipelined chunks.
func (st *procState) finishCall(next callbackState) {
	st.stopTimer()
	st.cb = next
	st.newTimeoutReceived = false
}

func (st *procState) stopTimer() {
	st.timer.Stop()
	st.timerOn = false
}

// restartTimer honours one override_message_timeout per state.
func (st *procState) restartTimer(d time.Duration) bool {
	if !st.timerOn || st.newTimeoutReceived {
		return false
	}
	st.timer.Reset(d)
	st.newTimeoutReceived = true
	return true
}

func (st *procState) addBufferedData(data []byte) {
	st.buffered = append(st.buffered, data...)
	st.hasBuffered = true
}

func (st *procState) takeBuffered() []byte {
	b := st.buffered
	st.buffered, st.hasBuffered = nil, false
	return b
}

func (st *procState) enqueue(data []byte, eos bool) {
	st.queue = append(st.queue, chunk{data: data, eos: eos})
	st.queuedBytes += len(data)
}

func (st *procState) dequeue() (chunk, bool) {
	if len(st.queue) == 0 {
		return chunk{}, false
	}
	c := st.queue[0]
	st.queue = st.queue[1:]
	st.queuedBytes -= len(c.data)
	return c, true
}

// consolidate merges the whole queue into one chunk (ChunkQueue::consolidate).
func (st *procState) consolidate() chunk {
	var out chunk
	for _, c := range st.queue {
		out.data = append(out.data, c.data...)
		out.eos = c.eos
	}
	st.queue, st.queuedBytes = nil, 0
	return out
}

// pendingBytes is what the direction holds; above the limit Envoy raises a
// watermark and stops reading from the source.
func (st *procState) pendingBytes() int { return len(st.buffered) + st.queuedBytes }

// forward passes data to the next stage (the upstream request or the
// client), first releasing the headers if they are still held: a filter that
// continues data also continues the stopped headers.
func (st *procState) forward(data []byte, eos bool) {
	if st.eosForwarded {
		return
	}
	st.release()
	if st.eosForwarded || (len(data) == 0 && !eos) {
		return
	}
	if eos {
		st.eosForwarded = true
	}
	st.f.deliver(st.dir, data, eos)
}

// release sends the headers on (with end_stream when there is no body).
func (st *procState) release() {
	if st.released {
		return
	}
	st.released = true
	st.headersMutable = false
	if st.noBody {
		st.eosForwarded = true
	}
	st.f.deliverHeaders(st.dir, st.headers, st.noBody)
}

// continueIfNecessary resumes a paused direction: headers, then the data the
// filter manager buffered, then the trailers held here. end_stream goes on
// the data only when the body is complete and no trailers follow.
func (st *procState) continueIfNecessary() {
	if !st.paused {
		return
	}
	st.paused = false
	data := st.takeBuffered()
	if !st.trailersAvailable {
		st.forward(data, st.completeBodyAvailable && len(st.queue) == 0)
		return
	}
	st.forward(data, false)
	if len(st.queue) > 0 {
		st.paused = true // chunks still out: the trailers wait for them
		return
	}
	st.forwardTrailers()
}

// forwardTrailers passes the held trailers on; they end the direction.
func (st *procState) forwardTrailers() {
	if st.trailers == nil || st.eosForwarded {
		return
	}
	st.release()
	if st.eosForwarded {
		return
	}
	t := st.trailers
	st.trailers = nil
	st.eosForwarded = true
	st.f.deliverTrailers(st.dir, t)
}

// clearAsyncState abandons the pending call: queued chunks are re-injected
// unmodified and the direction continues.
func (st *procState) clearAsyncState() {
	st.finishCall(cbIdle)
	if len(st.queue) > 0 {
		c := st.consolidate()
		st.forward(c.data, c.eos)
	}
	st.continueIfNecessary()
}

func (st *procState) isLastBodyResponse() bool {
	return st.bodyMode == extprocfilterv3.ProcessingMode_STREAMED && len(st.queue) > 0 && st.queue[0].eos
}
