package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// devEnv gives ledger calls the headroom tests need under -race on a busy
// machine (see startStackWith).
var devEnv = []string{"PROXIDE_STORE_TIMEOUT=1500ms"}

var devFreePorts = []string{"--listen", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}

// startDev runs `proxide dev` in process until the test ends and returns
// what it serves on.
func startDev(t *testing.T, args ...string) (devReady, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &syncBuffer{}, &syncBuffer{}
	readyC := make(chan devReady, 1)
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, append(append([]string{}, devFreePorts...), args...), out, logs, devEnv,
			devHooks{ready: func(r devReady) { readyC <- r }})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		if t.Failed() {
			t.Logf("proxide dev logs:\n%s", logs.String())
		}
	})
	select {
	case r := <-readyC:
		return r, out
	case err := <-done:
		t.Fatalf("proxide dev ended: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("proxide dev did not get ready")
	}
	return devReady{}, nil
}

func TestDevAnnouncesAndDemoShowsMeterThen402Then429(t *testing.T) {
	r, out := startDev(t)
	require.Equal(t, devKey, r.Key)
	require.Equal(t, r.Front+"/openai/v1", r.BaseURL)
	banner := out.String()
	for _, want := range []string{"base URL    " + r.BaseURL, "API key     " + devKey, "dashboard   " + r.Admin + "/",
		"curl -s " + r.BaseURL + "/chat/completions -H 'authorization: Bearer " + devKey + "'"} {
		require.Contains(t, banner, want)
	}

	var demo strings.Builder
	require.NoError(t, runDemo(t.Context(), &demo, r))
	got := demo.String()
	// Each long request: prompt "Write a long story, part N" (26 bytes: 26/4
	// + 7 = 13 tokens at $2.50/M) + 20,000 output tokens at $10/M =
	// 200,032,500 nano-dollars; spent_usd is a float printed with 6
	// decimals: 0.2000325 → 0.200033, 0.400065, 0.6000975 → 0.600097. The
	// third passes (soft admission: $0.40 < $0.50 before it), the fourth is
	// refused.
	require.Contains(t, got, "→ 200; user-12345 has spent $0.200033 of its $0.50 today")
	require.Contains(t, got, "part 2 → 200; spent $0.400065")
	require.Contains(t, got, "part 3 → 200; spent $0.600097")
	require.Contains(t, got, "→ 402 budget_exceeded: Daily budget limit of $0.50 exceeded for client user-12345")
	require.Contains(t, got, "request 5 → 200")
	require.Contains(t, got, "request 6 → 429 loop_detected: Loop detected for client agent-7")
}

func TestDevDemoNeedsTheFakeUpstream(t *testing.T) {
	err := runDev(t.Context(), append(devFreePorts, "--demo", "--upstream", "https://api.openai.com"), io.Discard, io.Discard, devEnv, devHooks{})
	require.ErrorContains(t, err, "--demo needs --upstream fake")
	err = runDev(t.Context(), append(devFreePorts, "--demo", "--config", writeConfig(t, "log: {level: info}\n")), io.Discard, io.Discard, devEnv, devHooks{})
	require.ErrorContains(t, err, "--demo runs against the built-in config")
	err = runDev(t.Context(), append(devFreePorts, "--upstream", "api.openai.com"), io.Discard, io.Discard, devEnv, devHooks{})
	require.ErrorContains(t, err, `--upstream "api.openai.com" must be fake or an http(s) URL`)
}

// A real upstream needs a real key: without OPENAI_API_KEY dev says so.
func TestDevRealUpstreamNeedsTheKey(t *testing.T) {
	err := runDev(t.Context(), append(devFreePorts, "--upstream", "https://api.openai.com"), io.Discard, io.Discard, devEnv, devHooks{})
	require.ErrorContains(t, err, "OPENAI_API_KEY")
}

// A sidecar that cannot start stops everything with the reason, instead of
// a front that answers 500 with an empty body.
func TestDevStopsWhenTheSidecarCannotStart(t *testing.T) {
	taken, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()
	for _, flag := range []string{"--grpc-addr", "--admin-addr", "--listen"} {
		t.Run(flag, func(t *testing.T) {
			var out strings.Builder
			args := append(append([]string{}, devFreePorts...), flag, taken.Addr().String())
			err := runDev(t.Context(), args, &out, io.Discard, devEnv, devHooks{})
			require.ErrorContains(t, err, "the sidecar cannot start")
			require.ErrorContains(t, err, "address already in use")
			require.Empty(t, out.String(), "no banner for a stack that is not running")
		})
	}
}

func TestDevReadyFileAndStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready.json")
	r, _ := startDev(t, "--ready-file", path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var fromFile devReady
	require.NoError(t, json.Unmarshal(b, &fromFile))
	require.Equal(t, r, fromFile)
	require.NotEmpty(t, r.FakeURL)
}

// The front keeps a keep-alive client's connection across local replies
// like Envoy: 30 402s and 30 429s in a row reach it as 60 requests on one
// connection (the SDKs would otherwise resend a request whose connection
// dropped).
func TestDevFrontKeepsConnectionsAcrossRefusals(t *testing.T) {
	r, _ := startDev(t)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	post := func(clientID, body string, hdr map[string]string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.BaseURL+"/chat/completions", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+r.Key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(r.ClientHdr, clientID)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	// user-12345 spends past $0.50, then is refused.
	big := map[string]string{"x-fake-words": "20000"}
	for i := range 3 {
		require.Equal(t, http.StatusOK, post("user-12345", fmt.Sprintf(`{"model":"gpt-4o","max_tokens":20000,"messages":[{"role":"user","content":"part %d"}]}`, i), big))
	}
	loop := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"again"}]}`
	for range 5 {
		require.Equal(t, http.StatusOK, post("agent-7", loop, nil))
	}
	for i := range 30 {
		require.Equal(t, http.StatusPaymentRequired, post("user-12345", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil), "402 #%d", i)
		require.Equal(t, http.StatusTooManyRequests, post("agent-7", loop, nil), "429 #%d", i)
	}
	stats := devStatsOf(t, client, r) // on the same connection
	require.Equal(t, devStats{Requests: 68, Connections: 1, LocalReplies: 60, Upstream: 8}, stats)
}

func devStatsOf(t *testing.T, client *http.Client, r devReady) devStats {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, r.Front+devStatsPath, http.NoBody)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var st devStats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

// --demo (make demo) runs the tour once serving, then keeps serving.
func TestDevDemoFlagRunsTheTour(t *testing.T) {
	r, out := startDev(t, "--demo")
	deadline := time.Now().Add(time.Minute) // a bound on the wait, not a timing under test
	for !strings.Contains(out.String(), "ends the cooldown.\nCtrl-C stops it.") {
		require.False(t, time.Now().After(deadline), "the tour did not finish:\n%s", out.String())
		time.Sleep(10 * time.Millisecond)
	}
	got := out.String()
	require.Contains(t, got, "== 1. A client is metered ==")
	require.Contains(t, got, "→ 402 budget_exceeded")
	require.Contains(t, got, "→ 429 loop_detected")
	require.Equal(t, 1, strings.Count(got, "Ctrl-C stops it."), "said once, after the tour")
	st := devStatsOf(t, http.DefaultClient, r)
	require.Equal(t, int64(2), st.LocalReplies, "the tour's 402 and 429")
}
