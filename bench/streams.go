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
// resident memory per open stream.
func OpenStreams(ctx context.Context, c extprocv3.ExternalProcessorClient, pid, n int) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	before, err := ProcRSS(pid)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	opened := make(chan struct{}, n)
	sem := make(chan struct{}, 64) // open them 64 at a time
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			st, err := openOne(ctx, c, StreamedChat(int64(i)))
			<-sem
			if err != nil {
				errs <- err
				return
			}
			opened <- struct{}{}
			<-ctx.Done() // held open until the measurement is taken
			_ = st.CloseSend()
		}()
	}
	for range n {
		select {
		case <-opened:
		case err := <-errs:
			return 0, fmt.Errorf("opening streams: %w", err)
		}
	}
	time.Sleep(500 * time.Millisecond) // let the server settle its allocations
	after, err := ProcRSS(pid)
	cancel()
	wg.Wait()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), nil
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
