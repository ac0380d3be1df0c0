package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// pipeline sends the hot-path scripts (Reserve, Settle) of concurrent requests
// to Redis together once enough are in flight: a few senders each take every
// call waiting when they are free and send them in one pipeline, one write and
// one read for the lot instead of one each. Under a burst (10,000 answers
// ending at once settle together) that is most of the sidecar's system calls
// and of redis-server's, which shares the machine. While no other call is in
// flight (directCalls), a call is sent by its own goroutine as before:
// handing it to a sender costs two goroutine wake-ups, more than a batch of
// one saves.
//
// A call whose context ends while it waits is not sent; one whose context
// ends while its pipeline is out returns at its deadline, and Redis may still
// run it, exactly as with a timed-out EVALSHA of its own (the ledger's
// semantics cover both: a reservation expires, a settlement is idempotent).
//
// go-redis has an auto-pipeliner of its own (AsyncAutoPipeline), marked
// experimental in the pinned version; it bounds a batch by the client's read
// timeout rather than by its callers' deadlines, which the ledger's timeout
// (store.timeout, shorter) must govern.
type pipeline struct {
	c        goredis.UniversalClient
	inFlight atomic.Int32 // calls sent or waiting, direct or batched
	calls    chan *scriptCall
	// closed is set under mu before stop closes, and a call is queued only
	// under mu's read lock with closed unset: every call queued is in calls
	// before the senders see stop, so their drain sends it.
	mu     sync.RWMutex
	closed bool
	stop   chan struct{}
	once   sync.Once
	done   sync.WaitGroup
}

// directCalls is how many calls may be in flight before more are batched:
// a call goes by itself only when no other is out. Measured with loadbench
// -baseline (16 workers, Redis ledger, streamed chat): 1 took 8.7% less
// sidecar CPU per request than 4, with more requests per second; 2 was
// within noise of 1.
const directCalls = 1

// pipelineSenders is how many pipelines can be out at once. A sender takes
// every call waiting when it is free, so under load a few senders make large
// batches while a slow batch does not hold up the calls behind it. Measured
// with loadbench -baseline (16 workers, Redis ledger), 2 against 4 in three
// runs: streamed chat -4.8% sidecar CPU per request on average (-10.8, +2.6,
// -6.3), non-streamed -14.8% (two runs): fewer, larger batches.
const pipelineSenders = 2

// maxPipeline bounds one batch, so one pipeline's write and reply stay small
// next to Redis's output buffers and one slow batch holds few calls.
const maxPipeline = 64

// scriptCall is one script run waiting for its pipeline.
type scriptCall struct {
	ctx    context.Context
	script *goredis.Script
	keys   []string
	args   []any
	cmd    *goredis.Cmd
	sent   chan struct{} // signalled (one buffered send) once cmd holds the reply or the error
}

var scriptCalls = sync.Pool{New: func() any { return &scriptCall{sent: make(chan struct{}, 1)} }}

func newPipeline(c goredis.UniversalClient) *pipeline {
	p := &pipeline{c: c, calls: make(chan *scriptCall, 4*maxPipeline), stop: make(chan struct{})}
	for range pipelineSenders {
		p.done.Add(1)
		go p.send()
	}
	return p
}

// run runs script on keys and args in the next pipeline and returns its reply.
func (p *pipeline) run(ctx context.Context, script *goredis.Script, keys []string, args []any) ([]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-p.stop: // closed: a direct call fails too
		return nil, goredis.ErrClosed
	default:
	}
	defer p.inFlight.Add(-1)
	if p.inFlight.Add(1) <= directCalls {
		return script.Run(ctx, p.c, keys, args...).Slice()
	}
	call, err := p.enqueue(ctx, script, keys, args)
	if err != nil {
		return nil, err
	}
	select {
	case <-call.sent:
		v, err := call.cmd.Slice()
		call.reset()
		scriptCalls.Put(call) // the sender is done with it
		return v, err
	case <-ctx.Done():
		// The sender still holds call and will signal it: it is left to the
		// garbage collector rather than put back.
		return nil, ctx.Err()
	}
}

// enqueue queues a call for the senders, unless the pipeline is closed or
// ctx ends first.
func (p *pipeline) enqueue(ctx context.Context, script *goredis.Script, keys []string, args []any) (*scriptCall, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, goredis.ErrClosed
	}
	call := scriptCalls.Get().(*scriptCall)
	call.ctx, call.script, call.keys, call.args = ctx, script, keys, args
	select {
	case p.calls <- call:
		return call, nil
	case <-ctx.Done():
		call.reset()
		scriptCalls.Put(call)
		return nil, ctx.Err()
	}
}

func (c *scriptCall) reset() {
	c.ctx, c.script, c.keys, c.args, c.cmd = nil, nil, nil, nil, nil
}

// close stops the senders once they have sent what they hold; calls made after
// close fail.
func (p *pipeline) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.once.Do(func() { close(p.stop) })
	p.done.Wait()
}

// send is one sender: it takes the first waiting call, every other call
// waiting at that moment (up to maxPipeline), and sends them together.
func (p *pipeline) send() {
	defer p.done.Done()
	batch := make([]*scriptCall, 0, maxPipeline)
	for {
		select {
		case <-p.stop:
			p.drain(batch)
			return
		case call := <-p.calls:
			batch = p.waiting(append(batch[:0], call))
		}
		p.exec(batch)
		clear(batch)
	}
}

// drain sends the calls that were queued before close.
func (p *pipeline) drain(batch []*scriptCall) {
	for {
		batch = p.waiting(batch[:0])
		if len(batch) == 0 {
			return
		}
		p.exec(batch)
	}
}

// waiting adds the calls waiting now to batch, up to maxPipeline.
func (p *pipeline) waiting(batch []*scriptCall) []*scriptCall {
	for len(batch) < maxPipeline {
		select {
		case call := <-p.calls:
			batch = append(batch, call)
		default:
			return batch
		}
	}
	return batch
}

// exec sends one batch and signals each call.
func (p *pipeline) exec(batch []*scriptCall) {
	live := batch[:0]
	for _, call := range batch {
		if err := call.ctx.Err(); err != nil {
			call.cmd = goredis.NewCmd(call.ctx)
			call.cmd.SetErr(err)
			call.sent <- struct{}{}
			continue
		}
		live = append(live, call)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		// Alone: the script as usual (EVALSHA, EVAL on NOSCRIPT), no pipeline.
		call := live[0]
		call.cmd = call.script.Run(call.ctx, p.c, call.keys, call.args...)
		call.sent <- struct{}{}
		return
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	_, _ = p.c.Pipelined(ctx, func(pp goredis.Pipeliner) error {
		for _, call := range live {
			call.cmd = call.script.EvalSha(ctx, pp, call.keys, call.args...)
		}
		return nil
	})
	// A restarted or failed-over Redis has lost the scripts: those calls go
	// again with their source (EVAL), which also loads them.
	var again []*scriptCall
	for _, call := range live {
		if goredis.HasErrorPrefix(call.cmd.Err(), "NOSCRIPT") {
			again = append(again, call)
		}
	}
	if len(again) > 0 {
		_, _ = p.c.Pipelined(ctx, func(pp goredis.Pipeliner) error {
			for _, call := range again {
				call.cmd = call.script.Eval(ctx, pp, call.keys, call.args...)
			}
			return nil
		})
	}
	for _, call := range live {
		call.sent <- struct{}{}
	}
}

// batchContext lasts as long as the longest-lived call of a batch: each call
// returns at its own deadline, and the pipeline must not end a call that
// still has time. A call without a deadline leaves the batch to go-redis's
// own read and write timeouts.
func batchContext(batch []*scriptCall) (context.Context, context.CancelFunc) {
	var last time.Time
	for _, call := range batch {
		d, ok := call.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(last) {
			last = d
		}
	}
	return context.WithDeadline(context.Background(), last)
}
