package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/redistest"
)

// latencyProxy forwards TCP to a target, holding every read from the client for delay
// before passing it on: a slow network or an overloaded Redis.
type latencyProxy struct {
	ln    net.Listener
	delay atomic.Int64 // nanoseconds
	wg    sync.WaitGroup
}

func startLatencyProxy(t *testing.T, target string) *latencyProxy {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &latencyProxy{ln: ln}
	var conns sync.Map
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// The proxy lives until its listener closes; no request bounds a dial.
			up, err := new(net.Dialer).DialContext(context.Background(), "tcp", target)
			if err != nil {
				_ = c.Close() // the client sees the drop
				continue
			}
			conns.Store(c, up)
			p.wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
			p.wg.Go(func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						time.Sleep(time.Duration(p.delay.Load())) // the injected latency
						if _, werr := up.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				_ = up.Close() // ends the other direction
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close() // stops Accept
		conns.Range(func(c, up any) bool {
			_ = c.(net.Conn).Close()  // closing ends the copies
			_ = up.(net.Conn).Close() // of both directions
			return true
		})
		p.wg.Wait()
	})
	return p
}

// TestE2ESlowRedis puts a proxy that adds latency between Proxide and Redis: a little
// latency only slows requests; latency past store.timeout gets the failure mode's
// answer inside Envoy's message timeout and opens the breaker; once the latency is gone
// the breaker closes and the spend of every admitted request is exact.
func TestE2ESlowRedis(t *testing.T) {
	rs := redistest.StartServer(t, redistest.Options{})
	proxy := startLatencyProxy(t, rs.Addr)
	s := startStack(t, refusalConfig+"loop_detection: {enabled: false}\n"+
		fmt.Sprintf("store: {redis_url: \"redis://%s/0\", failure_mode: closed, timeout: 400ms}\n", proxy.ln.Addr()), nil)
	send := func() reply {
		return s.do(t, call{path: "/openai/v1/chat/completions", client: "slow", body: chatHello})
	}
	require.Equal(t, http.StatusOK, send().status)
	unit := s.spend(t, "slow").Day.SpentNano

	proxy.delay.Store(int64(50 * time.Millisecond))
	require.Equal(t, http.StatusOK, send().status, "50ms more per round trip: slower, still inside store.timeout")
	require.False(t, s.app.ledger.Open())

	proxy.delay.Store(int64(1500 * time.Millisecond))
	var wg sync.WaitGroup
	var refused atomic.Int64
	for range 20 {
		wg.Go(func() {
			r, err := s.try(t.Context(), call{path: "/openai/v1/chat/completions", client: "slow", body: chatHello})
			if err == nil && r.status == http.StatusServiceUnavailable {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(20), refused.Load(), "every request answered 503 by Proxide (not 504 by Envoy)")
	require.True(t, s.app.ledger.Open())

	proxy.delay.Store(0)
	healed := time.Now()
	require.Eventually(t, func() bool { return !s.app.ledger.Open() && s.app.ledger.Buffered() == 0 }, 30*time.Second, 10*time.Millisecond)
	t.Logf("latency +1.5s (store.timeout 400ms): %d/20 requests answered 503 by Proxide; breaker closed %s after the latency went away",
		refused.Load(), time.Since(healed).Round(time.Millisecond))
	require.Equal(t, http.StatusOK, send().status)
	require.Eventually(t, func() bool {
		sp := s.spend(t, "slow")
		return sp.Day.ReservedNano == 0 && sp.Day.SpentNano == 3*unit
	}, 30*time.Second, 20*time.Millisecond, "three admitted requests charged; the refused ones hold nothing (late reserves released)")
}
