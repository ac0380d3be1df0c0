package extproc

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/proxide/proxide/bench"
	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/blockcache"
	"github.com/proxide/proxide/budget/memory"
	"github.com/proxide/proxide/budget/resilient"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/auth"
	"github.com/proxide/proxide/internal/loop"
	"github.com/proxide/proxide/pricing"
)

// wireStream is a Process stream that costs what gRPC's codec costs: each
// message is unmarshaled from its wire bytes on Recv and each reply is
// marshaled on Send (gRPC encodes a reply before Send returns, which is why
// a reply may point at buffers the exchange reuses afterwards).
type wireStream struct {
	fakeStream
	wire   [][]byte
	pos    int
	client string // replaces the script's client id: every lifecycle is a new client, as in loadbench
}

func (w *wireStream) Recv() (*extprocv3.ProcessingRequest, error) {
	if w.pos == len(w.wire) {
		return nil, io.EOF
	}
	m := &extprocv3.ProcessingRequest{}
	if err := proto.Unmarshal(w.wire[w.pos], m); err != nil {
		return nil, err
	}
	w.pos++
	for _, h := range m.GetRequestHeaders().GetHeaders().GetHeaders() {
		if h.GetKey() == "x-proxide-client-id" && w.client != "" {
			h.RawValue = []byte(w.client)
		}
	}
	return m, nil
}

func (w *wireStream) Send(r *extprocv3.ProcessingResponse) error {
	if r.GetImmediateResponse() != nil {
		return fmt.Errorf("refused: %s", r.GetImmediateResponse().GetBody())
	}
	_, err := proto.Marshal(r)
	return err
}

// BenchmarkLifecycle is loadbench's workloads in process: one whole request
// (headers, body, response headers, chunks) through Process with the
// production ledger stack (memory store, outage wrapper, refusal cache) and
// loop detection on, next to the no-op floor through the same codec. The
// ratio proxide/noop is the figure to watch; `make bench` prints both.
func BenchmarkLifecycle(b *testing.B) {
	for _, wl := range []struct {
		name string
		w    bench.Workload
	}{{"stream", bench.StreamedChat}, {"chat", bench.JSONChat}, {"embeddings", bench.Embeddings}} {
		// Distinct prompts, more than the loop window holds per client, so
		// loop detection observes without firing.
		scripts := make([][][]byte, 4096)
		for i := range scripts {
			for _, m := range bench.Script(wl.w(int64(i))) {
				raw, err := proto.Marshal(m)
				require.NoError(b, err)
				scripts[i] = append(scripts[i], raw)
			}
		}
		b.Run("noop/"+wl.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				st := &wireStream{fakeStream: fakeStream{ctx: context.Background()}, wire: scripts[i%len(scripts)], client: "bench-" + strconv.Itoa(i%bench.Clients)}
				_ = passthrough(st)
				i++
			}
		})
		b.Run("proxide/"+wl.name, func(b *testing.B) {
			srv := lifecycleServer(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				st := &wireStream{fakeStream: fakeStream{ctx: context.Background()}, wire: scripts[i%len(scripts)], client: "bench-" + strconv.Itoa(i%bench.Clients)}
				if err := srv.Process(st); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// lifecycleServer is wired as `proxide serve` wires it with the memory ledger.
func lifecycleServer(b *testing.B) *Server {
	b.Helper()
	keys, err := auth.NewKeys([]auth.KeySpec{{Name: "bench", Key: "prox-bench", Scopes: []string{auth.ScopeGateway}}})
	require.NoError(b, err)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(b, err)
	store := memory.New(memory.Options{Retention: 24 * time.Hour})
	ledger := resilient.New(store, resilient.Options{Mode: resilient.FailClosed})
	b.Cleanup(func() { _ = ledger.Close(); _ = store.Close() })
	cache := blockcache.New(store, ledger, blockcache.Options{TTL: time.Second})
	srv, err := New(Options{
		Ledger:      cache,
		Pricer:      pricing.New(pricing.Options{}),
		Rules:       staticRules{rules.Rule{Daily: rules.LimitOf(1e18), Monthly: rules.LimitOf(1e18)}},
		Calendar:    cal,
		Keys:        keys,
		UpstreamKey: "sk-bench",
		Loop:        rules.LoopDefaults{Enabled: true, Block: true, Config: loop.DefaultConfig()},
	})
	require.NoError(b, err)
	return srv
}

// heldStream replays the messages up to the response headers, then blocks
// in Recv, as a stream does while a long answer is being generated.
type heldStream struct {
	fakeStream
	msgs    []*extprocv3.ProcessingRequest
	waiting chan<- struct{}
	release <-chan struct{}
}

func (h *heldStream) Recv() (*extprocv3.ProcessingRequest, error) {
	if len(h.msgs) == 0 {
		h.waiting <- struct{}{}
		<-h.release
		return nil, context.Canceled
	}
	m := h.msgs[0]
	h.msgs[0], h.msgs = nil, h.msgs[1:] // what Envoy sent is the server's to keep or drop
	return m, nil
}

func (h *heldStream) Send(*extprocv3.ProcessingResponse) error { return nil }

// BenchmarkOpenStreamMemory reports the heap and goroutine stack one open
// streamed chat holds in Proxide (b.N streams open at once, past their
// response headers), gRPC's transport excluded: loadbench measures the whole
// process. The figure to watch is KB/stream.
func BenchmarkOpenStreamMemory(b *testing.B) {
	srv := lifecycleServer(b)
	waiting := make(chan struct{}, b.N)
	release := make(chan struct{})
	streams := make([]*heldStream, b.N)
	for i := range streams {
		streams[i] = &heldStream{fakeStream: fakeStream{ctx: context.Background()},
			msgs: slices.Clone(bench.Script(bench.StreamedChat(int64(i)))[:3]), waiting: waiting, release: release}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for _, st := range streams {
		go func() { _ = srv.Process(st) }()
	}
	for range streams {
		<-waiting
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := float64(after.HeapAlloc+after.StackInuse) - float64(before.HeapAlloc+before.StackInuse)
	b.ReportMetric(held/float64(b.N)/1024, "KB/stream")
	close(release)
}
