package envoy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/envoy"
	"github.com/proxide/proxide/envoy/configs"
	"github.com/proxide/proxide/envoy/fakeopenai"
	"github.com/proxide/proxide/internal/auth"
)

// The gateway tests (stand-in and real envoy) share one Proxide set-up: a
// gateway+admin key, an upstream key, and a client with a budget so small
// that its second request is refused.
const (
	harnessKey      = "prox-gateway-test-key"
	harnessUpstream = "sk-upstream-test"
	tinyClient      = "tiny-client"
	startupTimeout  = 30 * time.Second
)

func harnessConfig() string {
	return fmt.Sprintf(`listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"}
keys:
  - {name: gw, sha256: %q, scopes: [gateway, admin]}
upstream: {api_key_env: OPENAI_API_KEY}
budgets:
  timezone: UTC
  default: {daily_limit_usd: 100, monthly_limit_usd: 1000, action: block}
  rules:
    - {client_id: %s, daily_limit_usd: 0.000001}
log: {level: info, format: json}  # "proxide serving" (info) names the bound ports
`, auth.Hash(harnessKey), tinyClient)
}

// proxide is a running `proxide serve` process.
type proxide struct {
	grpc, admin string
}

// buildProxide compiles cmd/proxide as `make build` does (static: no cgo,
// -trimpath), so it shares that build cache.
func buildProxide(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "proxide")
	goTool, err := exec.LookPath("go") // the go command that runs the tests
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), goTool, "build", "-trimpath", "-o", bin, "../cmd/proxide")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/proxide: %s", out)
	return bin
}

// startProxide runs the binary on loopback ports chosen by the kernel and
// reads them back from its "proxide serving" log line. When the test ends
// (t.Context() is cancelled) it is stopped with SIGINT, its production
// shutdown path, and killed if it has not exited 10 s later.
func startProxide(t *testing.T, bin string) proxide {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "proxide.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(harnessConfig()), 0o600))
	cmd := exec.CommandContext(t.Context(), bin, "serve", "--config", cfg)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = []string{"OPENAI_API_KEY=" + harnessUpstream, "HOME=" + dir}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = io.Discard
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	t.Cleanup(func() {
		// Wait reports the cancellation itself; anything else is worth a line.
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("proxide: %v", err)
		}
	})

	ready := make(chan proxide, 1)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, GRPC, Admin string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "proxide serving" {
				ready <- proxide{grpc: line.GRPC, admin: line.Admin}
			}
			select {
			case lines <- sc.Text():
			default:
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case p := <-ready:
		return p
	case err := <-done:
		done <- err
		t.Fatalf("proxide exited at start-up: %v\n%s", err, drain(lines))
	case <-time.After(startupTimeout):
		t.Fatalf("proxide did not start in %s\n%s", startupTimeout, drain(lines))
	}
	return proxide{}
}

func drain(lines chan string) string {
	var b strings.Builder
	for {
		select {
		case l := <-lines:
			b.WriteString(l + "\n")
		default:
			return b.String()
		}
	}
}

// standInOptions reads the stand-in's settings from a bootstrap, so the
// stand-in runs exactly the ext_proc filter, route and limits of the
// production config.
func standInOptions(t *testing.T, bs *bootstrapv3.Bootstrap, extProcAddr, upstream string) envoy.Options {
	t.Helper()
	l, err := configs.Listener(bs, "openai")
	require.NoError(t, err)
	h, err := configs.HCM(l)
	require.NoError(t, err)
	ep, err := configs.ExtProc(h)
	require.NoError(t, err)
	r, err := configs.Route(h, "openai_v1")
	require.NoError(t, err)
	attrs := ep.GetRequestAttributes()
	if attrs == nil {
		attrs = []string{} // Envoy sends none unless configured
	}
	respAttrs := ep.GetResponseAttributes()
	if respAttrs == nil {
		respAttrs = []string{}
	}
	up, err := configs.Cluster(bs, r.GetRoute().GetCluster())
	require.NoError(t, err)
	upOpts, err := configs.HTTPProtocolOptions(up)
	require.NoError(t, err)
	return envoy.Options{
		NormalizePath:                h.GetNormalizePath().GetValue(),
		MergeSlashes:                 h.GetMergeSlashes(),
		PathWithEscapedSlashesAction: h.GetPathWithEscapedSlashesAction(),
		DownstreamHTTP1Trailers:      h.GetHttpProtocolOptions().GetEnableTrailers(),
		UpstreamHTTP1Trailers:        upOpts.GetExplicitHttpConfig().GetHttpProtocolOptions().GetEnableTrailers(),
		ExtProcAddr:                  extProcAddr,
		Upstream:                     upstream,
		RoutePrefix:                  r.GetMatch().GetPrefix(),
		PrefixRewrite:                r.GetRoute().GetPrefixRewrite(),
		ProcessingMode:               ep.GetProcessingMode(),
		DisallowModeOverride:         !ep.GetAllowModeOverride(),
		MessageTimeout:               ep.GetMessageTimeout().AsDuration(),
		MaxMessageTimeout:            ep.GetMaxMessageTimeout().AsDuration(),
		FailureModeAllow:             ep.GetFailureModeAllow(),
		RequestBodyLimit:             int(r.GetRequestBodyBufferLimit().GetValue()),
		ResponseBodyLimit:            int(l.GetPerConnectionBufferLimitBytes().GetValue()),
		RequestHeadersToRemove:       r.GetRequestHeadersToRemove(),
		RequestAttributes:            attrs,
		ResponseAttributes:           respAttrs,
	}
}

// exerciseGateway sends the requests every deployment must handle through
// the gateway at base ("http://host:port") and checks what the client and
// the fake upstream saw.
func exerciseGateway(t *testing.T, base string, fake *fakeopenai.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// reply is what the client saw; the response body is read and closed.
	type reply struct {
		status int
		header http.Header
	}
	do := func(method, path, key, client, body string) (reply, string) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("authorization", "Bearer "+key)
		}
		if client != "" {
			req.Header.Set("x-proxide-client-id", client)
		}
		if body != "" {
			req.Header.Set("content-type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return reply{status: resp.StatusCode, header: resp.Header}, string(b)
	}
	const chat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`

	resp, body := do(http.MethodPost, "/openai/v1/chat/completions", harnessKey, "app-1", chat)
	require.Equal(t, http.StatusOK, resp.status, body)
	require.Contains(t, body, `"usage"`)
	up := fake.Last()
	require.Equal(t, "/v1/chat/completions", up.Path, "prefix_rewrite /openai/v1/ → /v1/")
	require.Equal(t, "Bearer "+harnessUpstream, up.Header.Get("authorization"), "the prox- key is swapped for the upstream key")
	require.Empty(t, up.Header.Get("x-proxide-client-id"), "the client id is stripped")
	require.Empty(t, up.Header.Get("accept-encoding"))

	resp, body = do(http.MethodPost, "/openai/v1/chat/completions", harnessKey, "app-1",
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hello"}]}`)
	require.Equal(t, http.StatusOK, resp.status, body)
	require.Contains(t, resp.header.Get("content-type"), "text/event-stream")
	require.Contains(t, body, "data: [DONE]")

	resp, body = do(http.MethodGet, "/openai/v1/models", harnessKey, "app-1", "")
	require.Equal(t, http.StatusOK, resp.status, body)
	require.Equal(t, "/v1/models", fake.Last().Path)

	n := len(fake.Requests())
	resp, body = do(http.MethodPost, "/openai/v1/chat/completions", "prox-wrong", "app-1", chat)
	require.Equal(t, http.StatusUnauthorized, resp.status, body)
	require.Contains(t, body, "invalid_api_key")

	resp, body = do(http.MethodPost, "/openai/v1/chat/completions", harnessKey, tinyClient, chat)
	require.Equal(t, http.StatusOK, resp.status, "the first request of a fresh budget is admitted: %s", body)
	resp, body = do(http.MethodPost, "/openai/v1/chat/completions", harnessKey, tinyClient, chat)
	require.Equal(t, http.StatusPaymentRequired, resp.status, body)
	require.Contains(t, body, `"budget_exceeded"`)
	require.NotEmpty(t, resp.header.Get("retry-after"))
	require.Len(t, fake.Requests(), n+1, "refused requests never reach the upstream")

	resp, _ = do(http.MethodGet, "/not-openai", "", "", "")
	require.Equal(t, http.StatusNotFound, resp.status)
}

// TestRawPathsProxideCanonicalises runs the production stand-in config with
// the connection manager's path handling switched off (KeepRawPath), so
// Proxide sees disguised paths exactly as a client sent them: it must meter
// them like the plain path, or refuse them, whatever Envoy's settings.
func TestRawPathsProxideCanonicalises(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts proxide")
	}
	bin := buildProxide(t)
	bs, err := configs.Load(configs.Sidecar)
	require.NoError(t, err)
	const chat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`
	tests := []struct {
		name, path string
		status     int // what the disguised request gets
	}{
		{"escaped unreserved", "/openai/v1/%63hat/completions", http.StatusOK},
		{"lower-case hex escape", "/openai/v1/chat/c%6fmpletions", http.StatusOK},
		{"escaped slash", "/openai/v1/chat%2Fcompletions", http.StatusBadRequest},
		{"matrix parameter", "/openai/v1/chat/completions;x=1", http.StatusBadRequest},
		{"dot dot into the prefix", "/openai/v1/%2e%2e/v1/chat/completions", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			px := startProxide(t, bin)
			fake := fakeopenai.New()
			up := httptest.NewServer(fake)
			defer up.Close()
			o := standInOptions(t, bs, px.grpc, up.URL)
			o.KeepRawPath = true
			si, err := envoy.New(o)
			require.NoError(t, err)
			defer func() { require.NoError(t, si.Close()) }()
			front := httptest.NewServer(si)
			defer front.Close()

			post := func(path string) (int, string) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, front.URL, strings.NewReader(chat))
				require.NoError(t, err)
				req.URL.Opaque = path // sent as written
				req.Header.Set("authorization", "Bearer "+harnessKey)
				req.Header.Set("x-proxide-client-id", tinyClient)
				req.Header.Set("content-type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				return resp.StatusCode, string(b)
			}
			status, body := post(tt.path)
			require.Equal(t, tt.status, status, body)
			if status != http.StatusOK {
				require.Empty(t, fake.Requests(), "a refused path never reaches the upstream")
				return
			}
			// The disguised call was charged: tiny-client's budget is now spent.
			status, body = post("/openai/v1/chat/completions")
			require.Equal(t, http.StatusPaymentRequired, status, body)
		})
	}
}
