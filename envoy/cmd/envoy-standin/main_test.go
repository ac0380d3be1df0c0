package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRunRejectsBadFlags(t *testing.T) {
	require.Error(t, run(context.Background(), []string{"-nope"}, io.Discard, nil))
	require.Error(t, run(context.Background(), []string{"-upstream", "ftp://x"}, io.Discard, nil))
}

// TestRunServesUntilCancelled: with no sidecar and fail-open, requests pass
// straight to the in-process fake upstream.
func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-ext-proc", "127.0.0.1:1", "-fake-openai", "-fail-open"}, io.Discard, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/openai/v1/models", http.NoBody)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return")
	}
}
