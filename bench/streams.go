package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// OpenStreams holds n streamed chat exchanges open at once, each past its
// response headers (a long SSE answer in flight), and returns the server's
// resident memory per open stream: just after they opened (opened), and
// after traffic of the given length (workers closed-loop streamed chats)
// with them still open (loaded; 0 when traffic is 0). The second is what a
// sidecar holding many slow answers really costs: the collector sizes its
// next collection by everything live, the open streams included, so a heap
// that stays small during a burst of opens can grow under steady traffic.
// whileOpen, when set, runs while they are all open, after the
// measurements (to take a heap profile).
func OpenStreams(ctx context.Context, c extprocv3.ExternalProcessorClient, pid, n int, traffic time.Duration, workers int, whileOpen func() error) (opened, loaded float64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	before, err := ProcRSS(pid)
	if err != nil {
		return 0, 0, err
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ready := make(chan struct{}, n)
	sem := make(chan struct{}, 64) // open them 64 at a time
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			st, err := openOne(ctx, c, StreamedChat(nextSeq.Add(1)))
			<-sem
			if err != nil {
				errs <- err
				return
			}
			ready <- struct{}{}
			<-ctx.Done() // held open until the measurement is taken
			_ = st.CloseSend()
		}()
	}
	defer wg.Wait()
	defer cancel()
	for range n {
		select {
		case <-ready:
		case err := <-errs:
			return 0, 0, fmt.Errorf("opening streams: %w", err)
		}
	}
	per := func() (float64, error) {
		time.Sleep(500 * time.Millisecond) // let the server settle its allocations
		after, err := ProcRSS(pid)
		return float64(after-before) / float64(n), err
	}
	if opened, err = per(); err != nil {
		return 0, 0, err
	}
	if traffic > 0 {
		t, err := Closed(ctx, c, pid, workers, traffic, StreamedChat)
		if err == nil && t.Errors > 0 {
			err = fmt.Errorf("traffic with %d streams open: %d errors, the first: %s", n, t.Errors, t.FirstError)
		}
		if err != nil {
			return 0, 0, err
		}
		if loaded, err = per(); err != nil {
			return 0, 0, err
		}
	}
	if whileOpen != nil {
		if err := whileOpen(); err != nil {
			return 0, 0, err
		}
	}
	return opened, loaded, nil
}

// openOne sends an exchange up to its response headers and keeps the stream.
func openOne(ctx context.Context, c extprocv3.ExternalProcessorClient, ex Exchange) (extprocv3.ExternalProcessor_ProcessClient, error) {
	st, err := c.Process(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []*extprocv3.ProcessingRequest{
		{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{
			Headers: []*corev3.HeaderValue{header(":path", ex.Path), header(":method", "POST"),
				header("authorization", "Bearer prox-bench"), header("x-proxide-client-id", ex.Client)}}}}},
		{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(ex.Body), EndOfStream: true}}},
		{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{
			Headers: []*corev3.HeaderValue{header(":status", "200"), header("content-type", ex.ContentType)}}}}},
	}
	for _, m := range msgs {
		if err := st.Send(m); err != nil {
			return nil, err
		}
		r, err := st.Recv()
		if err != nil {
			return nil, err
		}
		if r.GetImmediateResponse() != nil {
			return nil, fmt.Errorf("refused: %s", r.GetImmediateResponse().GetBody())
		}
	}
	return st, nil
}

// BigStream sends one streamed chat completion whose response is total bytes
// of SSE events in chunks of chunk bytes, one chunk at a time (each reply
// read before the next chunk, so the server holds only what it chooses to),
// and returns how far the server's resident memory rose above where it was
// before the request, sampled every 16 chunks. A server that keeps the body
// grows by about total; one that meters in O(chunk) memory does not.
func BigStream(ctx context.Context, c extprocv3.ExternalProcessorClient, pid, total, chunk int) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	base, err := ProcRSS(pid)
	if err != nil {
		return 0, err
	}
	st, err := openOne(ctx, c, StreamedChat(nextSeq.Add(1)))
	if err != nil {
		return 0, err
	}
	event := `data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1764300000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}],"usage":null}` + "\n\n"
	piece := make([]byte, 0, chunk+len(event))
	var peak int64
	for sent, n := 0, 0; sent < total; n++ {
		piece = piece[:0]
		for len(piece)+len(event) <= chunk {
			piece = append(piece, event...)
		}
		sent += len(piece)
		if err := sendChunk(st, piece, false); err != nil {
			return 0, err
		}
		if n%16 == 0 {
			rss, err := ProcRSS(pid)
			if err != nil {
				return 0, err
			}
			peak = max(peak, rss-base)
		}
	}
	last := `data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1764300000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":480,"completion_tokens":9000,"total_tokens":9480}}` + "\n\ndata: [DONE]\n\n"
	if err := sendChunk(st, []byte(last), true); err != nil {
		return 0, err
	}
	return peak, st.CloseSend()
}

// sendChunk sends one response body chunk and waits for its reply.
func sendChunk(st extprocv3.ExternalProcessor_ProcessClient, b []byte, eos bool) error {
	if err := st.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
		ResponseBody: &extprocv3.HttpBody{Body: b, EndOfStream: eos}}}); err != nil {
		return err
	}
	r, err := st.Recv()
	if err != nil {
		return err
	}
	if r.GetResponseBody() == nil {
		return fmt.Errorf("chunk reply of kind %T", r.GetResponse())
	}
	return nil
}
