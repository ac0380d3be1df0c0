package envoy

import (
	"context"
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// queue is an unbounded FIFO feeding one consumer goroutine. Envoy's sends
// never block the dispatcher, so neither may ours: a stalled sidecar must not
// stop the message timers from firing.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	ready  chan struct{} // capacity 1: "items may be non-empty"
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{ready: make(chan struct{}, 1)}
}

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, v)
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// close makes pop return false once the queued items are drained.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop blocks until an item is available, the queue is closed and drained, or
// done is closed.
func (q *queue[T]) pop(done <-chan struct{}) (T, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			v := q.items[0]
			var zero T
			q.items[0] = zero
			q.items = q.items[1:]
			q.mu.Unlock()
			return v, true
		}
		closed := q.closed
		q.mu.Unlock()
		var zero T
		if closed {
			return zero, false
		}
		select {
		case <-q.ready:
		case <-done:
			return zero, false
		}
	}
}

// recvResult is one Recv outcome: a reply, or the stream's end (io.EOF = OK).
type recvResult struct {
	resp *extprocv3.ProcessingResponse
	err  error
}

// extStream is one ext_proc Process stream: a sender goroutine draining an
// unbounded queue and a receiver goroutine feeding recv.
type extStream struct {
	cs        extprocv3.ExternalProcessor_ProcessClient
	cancel    context.CancelFunc
	sendQ     *queue[*extprocv3.ProcessingRequest]
	recv      chan recvResult
	done      chan struct{} // closed by abort: stop everything now
	stop      chan struct{} // closed by detach: nobody reads recv any more
	abortOnce sync.Once
	stopOnce  sync.Once
}

// detachGrace bounds how long a detached, gracefully closing stream may wait
// for a sidecar that does not read (Envoy has no such wait; it resets).
const detachGrace = 5 * time.Second

func startStream(ctx context.Context, client extprocv3.ExternalProcessorClient) (*extStream, error) {
	sctx, cancel := context.WithCancel(ctx)
	cs, err := client.Process(sctx)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &extStream{
		cs: cs, cancel: cancel,
		sendQ: newQueue[*extprocv3.ProcessingRequest](),
		recv:  make(chan recvResult, 16),
		done:  make(chan struct{}),
		stop:  make(chan struct{}),
	}
	go s.sendLoop()
	go s.recvLoop()
	return s, nil
}

func (s *extStream) send(req *extprocv3.ProcessingRequest) { s.sendQ.push(req) }

func (s *extStream) sendLoop() {
	for {
		req, ok := s.sendQ.pop(s.done)
		if !ok {
			break
		}
		// A failed Send means the stream is gone; Recv reports why.
		_ = s.cs.Send(req)
	}
	select {
	case <-s.done:
		return
	default:
	}
	// Everything queued went out: half-close, then reset, like Envoy's
	// close(). The server sees io.EOF or codes.Canceled.
	_ = s.cs.CloseSend()
	s.abort()
}

func (s *extStream) recvLoop() {
	for {
		resp, err := s.cs.Recv()
		select {
		case s.recv <- recvResult{resp: resp, err: err}:
		case <-s.stop:
			return
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// closeGracefully flushes the queued messages, half-closes, then cancels.
func (s *extStream) closeGracefully() { s.sendQ.close() }

// detach tells the receiver nobody listens any more; a graceful close in
// progress finishes on its own (bounded by detachGrace).
func (s *extStream) detach() {
	s.stopOnce.Do(func() {
		close(s.stop)
		time.AfterFunc(detachGrace, s.abort)
	})
}

// abort cancels the stream at once: the server sees codes.Canceled.
func (s *extStream) abort() {
	s.abortOnce.Do(func() {
		close(s.done)
		s.cancel()
	})
}
