package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, http.NoBody)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// The profiler is off unless asked for, and when asked for it is served on
// its own listener, never on the admin port.
func TestPprofOnlyOnItsOwnListener(t *testing.T) {
	for _, on := range []bool{false, true} {
		grpcAddr, adminAddr, pprofAddr := freePort(t), freePort(t), freePort(t)
		args := []string{"--config", writeConfig(t, "log: {level: error}\n"), "--grpc-addr", grpcAddr, "--admin-addr", adminAddr}
		if on {
			args = append(args, "--pprof-addr", pprofAddr)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- serve(ctx, args, io.Discard, io.Discard, nil) }()
		require.Eventually(t, func() bool { code, _ := get(t, "http://"+adminAddr+"/healthz"); return code == http.StatusOK },
			10*time.Second, 10*time.Millisecond)

		code, _ := get(t, "http://"+adminAddr+"/debug/pprof/")
		assert.Equal(t, http.StatusNotFound, code, "never on the admin port")
		code, body := get(t, "http://"+pprofAddr+"/debug/pprof/")
		if on {
			assert.Equal(t, http.StatusOK, code)
			assert.Contains(t, body, "goroutine")
		} else {
			assert.Zero(t, code, "nothing listens without --pprof-addr: %s", body)
		}
		cancel()
		require.NoError(t, <-done)
	}
}
