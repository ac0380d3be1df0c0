package extproc

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/tap"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// An ext_proc stream on which Envoy sends nothing for StreamIdleTimeout is
// closed, so a caller on the ext_proc port that opens streams and walks away
// cannot hold memory (or a reservation) forever. Envoy's own stream and route
// idle timeouts are shorter (300s, 120s in the shipped configs), so a real
// request is always ended by Envoy first.
//
// grpc-go gives a handler no way to unblock its own Recv; the stream's context
// does, and InTapHandle is where grpc-go lets a server choose that context. So
// the tap derives a cancellable context per ext_proc stream and Process arms a
// timer (no goroutine per stream) that cancels it when the stream goes idle:
// Recv then returns, and finish settles whatever the exchange holds — nothing
// if its request never went upstream, else as a request cut short.

// errStreamIdle is the cause of an idle stream's cancelled context.
var errStreamIdle = errors.New("ext_proc stream idle")

type idleCancelKey struct{}

// processMethod is the full gRPC name of the ext_proc stream.
var processMethod = "/" + extprocv3.ExternalProcessor_ServiceDesc.ServiceName + "/Process"

// InTapHandle is the grpc.InTapHandle of the server that serves s: it lets
// Process close ext_proc streams that go idle (Options.StreamIdleTimeout).
// Without it streams are never closed for idleness.
func (s *Server) InTapHandle(ctx context.Context, info *tap.Info) (context.Context, error) {
	if info.FullMethodName != processMethod || s.opts.StreamIdleTimeout <= 0 {
		return ctx, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	return context.WithValue(ctx, idleCancelKey{}, cancel), nil
}

// idleTimer cancels a stream's context once it has been idle too long; the
// zero value (no tap) does nothing.
type idleTimer struct {
	t     *time.Timer
	every time.Duration
}

func (s *Server) watchIdle(ctx context.Context) idleTimer {
	cancel, ok := ctx.Value(idleCancelKey{}).(context.CancelCauseFunc)
	if !ok {
		return idleTimer{}
	}
	d := s.opts.StreamIdleTimeout
	return idleTimer{t: time.AfterFunc(d, func() { cancel(errStreamIdle) }), every: d}
}

// reset restarts the clock after a message from Envoy.
func (i idleTimer) reset() {
	if i.t != nil {
		i.t.Reset(i.every)
	}
}

func (i idleTimer) stop() {
	if i.t != nil {
		i.t.Stop()
	}
}

// idleEnded reports whether ctx ended because the stream went idle.
func idleEnded(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errStreamIdle)
}
