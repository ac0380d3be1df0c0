package envoy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/proxide/proxide/envoy/configs"
	"github.com/proxide/proxide/envoy/fakeopenai"
)

// requireEnvoyEnv makes a missing envoy binary a failure instead of a skip
// (`make test-envoy` sets it, so that target cannot pass by skipping).
const requireEnvoyEnv = "PROXIDE_REQUIRE_ENVOY"

// TestEnvoyBinary runs a real Envoy with each production config (ports
// moved to free loopback ports, the OpenAI cluster pointed at the fake
// upstream without TLS) in front of a real `proxide serve`, and sends the
// same requests as TestConfigsDriveStandIn.
func TestEnvoyBinary(t *testing.T) {
	envoyBin, err := exec.LookPath("envoy")
	if err != nil {
		msg := "envoy binary not on PATH: install Envoy >= 1.36 (the envoyproxy/envoy image, func-e, " +
			"or your distribution's package) and run `make test-envoy`. Without it the configs are still " +
			"decoded strictly, validated and run through the Go stand-in (TestConfigs*)."
		if os.Getenv(requireEnvoyEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if testing.Short() {
		t.Skip("starts envoy and proxide")
	}
	bin := buildProxide(t)
	for _, name := range configs.Names() {
		t.Run(name, func(t *testing.T) {
			bs, err := configs.Load(name)
			require.NoError(t, err)
			px := startProxide(t, bin)
			fake := fakeopenai.New()
			up := httptest.NewServer(fake)
			defer up.Close()
			local, err := localize(bs, up.Listener.Addr().String(), px.grpc)
			require.NoError(t, err)
			base := startEnvoy(t, envoyBin, local)
			exerciseGateway(t, base, fake)
		})
	}
}

// TestLocalizeKeepsConfigValid: the rewritten config the envoy test feeds
// to Envoy is still a valid bootstrap, and only ports and addresses changed.
func TestLocalizeKeepsConfigValid(t *testing.T) {
	for _, name := range configs.Names() {
		t.Run(name, func(t *testing.T) {
			bs, err := configs.Load(name)
			require.NoError(t, err)
			local, err := localize(bs, "127.0.0.1:8081", "127.0.0.1:50052")
			require.NoError(t, err)
			require.NoError(t, configs.Validate(local))
			require.NoError(t, configs.CheckReferences(local))
			up, err := configs.Cluster(local, "openai_upstream")
			require.NoError(t, err)
			require.Nil(t, up.GetTransportSocket())
			ep, err := configs.Cluster(local, "proxide_ext_proc")
			require.NoError(t, err)
			require.EqualValues(t, 50052, endpoint(ep.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()).GetPortValue())
			orig, err := configs.Load(name)
			require.NoError(t, err)
			require.Len(t, local.GetStaticResources().GetListeners(), len(orig.GetStaticResources().GetListeners()))
		})
	}
}

func endpoint(a *corev3.Address) *corev3.SocketAddress { return a.GetSocketAddress() }

// localize moves every listener and admin to 127.0.0.1:0, points the
// OpenAI cluster at upstream (plain HTTP) and the ext_proc cluster at extProc.
func localize(orig *bootstrapv3.Bootstrap, upstream, extProc string) (*bootstrapv3.Bootstrap, error) {
	bs := cloneBootstrap(orig)
	loopback := func(a *corev3.Address) {
		a.GetSocketAddress().Address = "127.0.0.1"
		a.GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: 0}
	}
	loopback(bs.GetAdmin().GetAddress())
	for _, l := range bs.GetStaticResources().GetListeners() {
		loopback(l.GetAddress())
	}
	point := func(name, hostport string) error {
		c, err := configs.Cluster(bs, name)
		if err != nil {
			return err
		}
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		p, err := strconv.ParseUint(port, 10, 32)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
		sa.Address = host
		sa.PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: uint32(p)}
		return nil
	}
	if err := point("openai_upstream", upstream); err != nil {
		return nil, err
	}
	if err := point("proxide_ext_proc", extProc); err != nil {
		return nil, err
	}
	up, _ := configs.Cluster(bs, "openai_upstream")
	up.TransportSocket = nil // the fake upstream speaks plain HTTP
	return bs, nil
}

func cloneBootstrap(bs *bootstrapv3.Bootstrap) *bootstrapv3.Bootstrap {
	return proto.Clone(bs).(*bootstrapv3.Bootstrap)
}

// startEnvoy runs envoy with bs and returns the base URL of its "openai"
// listener, read back from the admin API once Envoy reports ready.
func startEnvoy(t *testing.T, envoyBin string, bs *bootstrapv3.Bootstrap) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "envoy.json")
	b, err := protojson.Marshal(bs)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, b, 0o600))
	adminPath := filepath.Join(dir, "admin-address")
	logs := &lockedBuffer{}
	cmd := exec.CommandContext(t.Context(), envoyBin, "-c", cfg, "--admin-address-path", adminPath,
		"--disable-hot-restart", "--concurrency", "1", "--log-level", "warn", "--drain-time-s", "1")
	cmd.Stdout, cmd.Stderr = io.Discard, logs
	// When the test ends (t.Context() is cancelled) envoy gets SIGINT and is
	// killed if it has not exited 10 s later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if err := <-exited; err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("envoy: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	var admin string
	for admin == "" || !adminOK(ctx, "http://"+admin+"/ready") {
		select {
		case err := <-exited:
			t.Fatalf("envoy exited: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("envoy not ready in %s\n%s", startupTimeout, logs.String())
		case <-time.After(50 * time.Millisecond): // poll, bounded by ctx
		}
		if a, err := os.ReadFile(adminPath); err == nil {
			admin = strings.TrimSpace(string(a))
		}
	}
	addr, err := listenerAddr(ctx, admin, "openai")
	require.NoError(t, err)
	return "http://" + addr
}

func adminOK(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close() // nothing was read; only the status matters
	return resp.StatusCode == http.StatusOK
}

// listenerAddr reads a listener's bound address from /listeners?format=json.
func listenerAddr(ctx context.Context, admin, name string) (_ string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/listeners?format=json", http.NoBody)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { err = errors.Join(err, resp.Body.Close()) }()
	var out struct {
		ListenerStatuses []struct {
			Name         string `json:"name"`
			LocalAddress struct {
				SocketAddress struct {
					Address   string `json:"address"`
					PortValue int    `json:"port_value"`
				} `json:"socket_address"`
			} `json:"local_address"`
		} `json:"listener_statuses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("admin /listeners: %w", err)
	}
	for _, l := range out.ListenerStatuses {
		if l.Name == name {
			sa := l.LocalAddress.SocketAddress
			return net.JoinHostPort(sa.Address, strconv.Itoa(sa.PortValue)), nil
		}
	}
	return "", fmt.Errorf("admin /listeners: no listener %q", name)
}

// lockedBuffer collects a child's output while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
