package sdktest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/envoy/fakeopenai"
)

// ready is what `proxide dev --ready-file` writes.
type ready struct {
	BaseURL   string `json:"base_url"`
	Front     string `json:"front"`
	Admin     string `json:"admin"`
	FakeURL   string `json:"fake_url"`
	Key       string `json:"key"`
	ClientHdr string `json:"client_id_header"`
}

var dev ready

// TestMain builds proxide (or takes $PROXIDE_BIN), runs `proxide dev` on free
// loopback ports with the fake upstream, and stops it after the tests.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "proxide-sdktest-go")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	bin := os.Getenv("PROXIDE_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "proxide")
		// Built in the sidecar's own module (three levels up), with its go.sum.
		build := exec.CommandContext(context.Background(), "go", "build", "-o", bin, "./cmd/proxide")
		root, err := filepath.Abs(filepath.Join("..", "..", ".."))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		build.Dir = root
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building proxide:", err)
			return 1
		}
	}
	readyFile := filepath.Join(dir, "ready.json")
	var logs bytes.Buffer
	//nolint:gosec // G702: the binary this test built, or the one make test-sdk built ($PROXIDE_BIN)
	cmd := exec.CommandContext(context.Background(), bin, "dev", "--listen", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--ready-file", readyFile)
	// Ledger calls get headroom on a busy CI machine (the production 500ms
	// assumes the sidecar has its CPU).
	cmd.Env = append(os.Environ(), "PROXIDE_STORE_TIMEOUT=1500ms")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting proxide dev:", err)
		return 1
	}
	var waitErr error // read after exited is closed
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited // stopped by us: its exit status says nothing
	}
	if err := waitReady(readyFile, exited); err != nil {
		stop()
		fmt.Fprintf(os.Stderr, "proxide dev: %v (%v)\n%s", err, waitErr, logs.String())
		return 1
	}
	code := m.Run()
	stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "proxide dev output:\n%s", logs.String())
	}
	return code
}

func waitReady(path string, exited <-chan struct{}) error {
	deadline := time.After(2 * time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			return errors.New("exited before it was ready")
		case <-deadline:
			return errors.New("not ready after 2 minutes")
		case <-tick.C:
			b, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			return json.Unmarshal(b, &dev)
		}
	}
}

// newClient is the SDK as an application configures it for Proxide: base
// URL, Proxide key, client id. Retries stay at the SDK's default.
func newClient(clientID string) openai.Client {
	return openai.NewClient(option.WithBaseURL(dev.BaseURL+"/"), option.WithAPIKey(dev.Key),
		option.WithHeader(dev.ClientHdr, clientID))
}

// sent is what the fake upstream sent for the response with this x-request-id.
func sent(t *testing.T, resp *http.Response) fakeopenai.Sent {
	t.Helper()
	require.NotNil(t, resp, "the SDK's HTTP response")
	id := resp.Header.Get("x-request-id")
	require.NotEmpty(t, id, "the fake's x-request-id reached the SDK")
	var s fakeopenai.Sent
	getJSON(t, dev.FakeURL+"/_fake/sent/"+id, "", &s)
	return s
}

func getJSON(t *testing.T, url, key string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, http.NoBody)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, b)
	require.NoError(t, json.Unmarshal(b, v))
}

// spentNano is a client's spend today as the admin API reports it.
func spentNano(t *testing.T, clientID string) int64 {
	t.Helper()
	var v struct {
		Today struct {
			SpentUSD    float64 `json:"spent_usd"`
			ReservedUSD float64 `json:"reserved_usd"`
		} `json:"today"`
	}
	getJSON(t, dev.Admin+"/v1/clients/"+clientID, dev.Key, &v)
	require.Zero(t, v.Today.ReservedUSD, "settled: nothing stays reserved")
	return int64(math.Round(v.Today.SpentUSD * 1e9))
}

// frontRequests is how many HTTP requests reached the front.
func frontRequests(t *testing.T) int64 {
	t.Helper()
	var st struct {
		Requests int64 `json:"requests"`
	}
	getJSON(t, dev.Front+"/_dev/stats", "", &st)
	return st.Requests
}

// The models of the tests, by name: the SDK's constants for them are
// deprecated (OpenAI announced their shutdown), the names stay valid.
const (
	gpt4oMini = "gpt-4o-mini"
	gpt4o     = "gpt-4o"
)

// Hand-written prices (nano-dollars per token) from the 2026-07-24 LiteLLM
// snapshot of the dated models the fake reports: input, cached input, output.
var handPrices = map[string][3]int64{
	"gpt-4o-mini-2024-07-18": {150, 75, 600},
	"gpt-4o-2024-08-06":      {2500, 1250, 10000},
	"text-embedding-3-small": {20, 20, 0},
	"gpt-3.5-turbo-instruct": {1500, 1500, 2000},
}

func handCost(t *testing.T, model string, prompt, completion int64) int64 {
	t.Helper()
	p, ok := handPrices[model]
	require.True(t, ok, "no hand price for %s", model)
	return prompt*p[0] + completion*p[2]
}

// fakePrompt is the fake's documented prompt count: bytes of prompt text plus
// the compact JSON of the function tool definitions, / 4, + 7.
func fakePrompt(text string, toolBytes int) int64 {
	return int64(fakeopenai.PromptTokens(len(text) + toolBytes))
}

// usage reads prompt and completion tokens from a usage-bearing JSON body.
func usage(t *testing.T, body string) (prompt, completion int64) {
	t.Helper()
	var v struct {
		Usage struct {
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
			InputTokens      int64 `json:"input_tokens"`
			OutputTokens     int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v.Usage.PromptTokens + v.Usage.InputTokens, v.Usage.CompletionTokens + v.Usage.OutputTokens
}

// sseData splits an SSE body into its data payloads, without [DONE].
func sseData(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && data != "[DONE]" {
			out = append(out, data)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func ctx(t *testing.T) context.Context { return t.Context() }
