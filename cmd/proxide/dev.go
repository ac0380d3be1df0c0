package main

import (
	"context"
	"crypto/rand"
	_ "embed" // the built-in dev config
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/proxide/proxide/envoy"
	"github.com/proxide/proxide/envoy/fakeopenai"
)

// `proxide dev` runs Proxide the way a newcomer can try it in one command:
// the sidecar (the same wiring as `serve`), and in front of it the Go stand-in
// for Envoy (envoy/), which speaks ext_proc to it exactly as Envoy does,
// forwarding to the fake OpenAI upstream (default) or a real one. The front is
// for development only: production puts Envoy in front (envoy/configs, k8s/).

//go:embed dev.yaml
var devConfig []byte

// devKey is the demo Proxide key of dev.yaml (a plain `key:`, dev only).
const devKey = "prox-dev-demo-key"

// devFakeKeyEnv carries the fake upstream's per-run key to the sidecar the
// way a real OpenAI key arrives (upstream.api_key_env): the fake accepts only
// it, so a request that reaches it proves the sidecar swapped the key.
const devFakeKeyEnv = "PROXIDE_DEV_FAKE_UPSTREAM_KEY"

const devUsage = `usage: proxide dev [--listen ADDR] [--upstream fake|URL] [--grpc-addr ADDR] [--admin-addr ADDR]
                   [--redis-url URL] [--config FILE] [--log-level LEVEL] [--demo] [--ready-file FILE]

Runs the sidecar plus a local HTTP front on --listen that speaks ext_proc to
it exactly as Envoy does (a development front: production runs Envoy), in
front of the built-in fake OpenAI (--upstream fake, the default) or a real
upstream (--upstream https://api.openai.com, key from $OPENAI_API_KEY).
`

func devFlags() *pflag.FlagSet {
	fs := serveFlags()
	fs.Init("dev", pflag.ContinueOnError)
	fs.String("listen", "127.0.0.1:10000", "address of the HTTP front (the Envoy stand-in) clients connect to")
	fs.String("upstream", "fake", `"fake" (the built-in fake OpenAI) or the upstream base URL, e.g. https://api.openai.com`)
	fs.Bool("demo", false, "once serving, run the demo (a client metered, then refused with 402; a looping agent stopped with 429); needs --upstream fake")
	fs.String("ready-file", "", "once serving, write the addresses as JSON to this file (for scripts and tests)")
	return fs
}

// devReady is what a running dev stack serves on; written to --ready-file.
type devReady struct {
	BaseURL   string `json:"base_url"` // the OpenAI base URL to give an SDK
	Front     string `json:"front"`    // http://host:port of the front
	Admin     string `json:"admin"`    // http://host:port of the admin API and dashboard
	GRPC      string `json:"grpc"`     // the ext_proc address
	Upstream  string `json:"upstream"` // where the front forwards
	FakeURL   string `json:"fake_url"` // the fake upstream (empty with a real one)
	Key       string `json:"key"`      // the demo key, when the built-in config is used
	ClientHdr string `json:"client_id_header"`
}

// devHooks lets tests observe a running stack; the command passes none.
type devHooks struct {
	ready func(devReady)
}

func dev(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	return runDev(ctx, args, stdout, stderr, environ, devHooks{})
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string, hooks devHooks) error {
	fs := devFlags()
	if err := parseFlags(fs, args, stdout, stderr, devUsage); err != nil {
		return err
	}
	cfg, err := loadConfigWith(fs, environ, devConfig)
	if err != nil {
		return err
	}
	builtIn := !fs.Changed("config")
	upstreamArg, _ := fs.GetString("upstream")
	demo, _ := fs.GetBool("demo")
	if demo && upstreamArg != "fake" {
		return errors.New("dev: --demo needs --upstream fake (it sends requests that would cost real money)")
	}
	if demo && !builtIn {
		return errors.New("dev: --demo runs against the built-in config (its demo key and budgets), not --config")
	}

	// The fake upstream first: its address is the front's upstream.
	var lc net.ListenConfig
	upstream, fakeURL := upstreamArg, ""
	if upstreamArg == "fake" {
		fakeKey, err := randomKey("sk-fake-")
		if err != nil {
			return err
		}
		lis, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("dev: fake upstream: %w", err)
		}
		fake := &http.Server{Handler: fakeopenai.NewWithOptions(fakeopenai.Options{APIKey: fakeKey}), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = fake.Serve(lis) }() // ends with ErrServerClosed at Close below
		defer func() { _ = fake.Close() }()
		fakeURL = "http://" + lis.Addr().String()
		upstream = fakeURL
		cfg.Upstream = UpstreamConfig{APIKeyEnv: devFakeKeyEnv}
		environ = append(append([]string(nil), environ...), devFakeKeyEnv+"="+fakeKey)
	} else if u, err := url.Parse(upstreamArg); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("dev: --upstream %q must be fake or an http(s) URL like https://api.openai.com", upstreamArg)
	}

	a, err := newApp(cfg, stderr, environ)
	if err != nil {
		return err
	}
	frontAddr, _ := fs.GetString("listen")
	lis, err := devListen(ctx, map[string]string{"listen.grpc": cfg.Listen.GRPC, "listen.admin": cfg.Listen.Admin, "--listen": frontAddr})
	if err != nil {
		closeApp(a)
		return fmt.Errorf("dev: the sidecar cannot start: %w (pick free ports: --grpc-addr, --admin-addr, --listen; make demo GRPC_PORT=, ADMIN_PORT=, FRONT_PORT=)", err)
	}
	si, err := envoy.New(envoy.Options{
		ExtProcAddr: lis["listen.grpc"].Addr().String(), Upstream: upstream,
		// The shipped Envoy configs' path handling (envoy/configs).
		NormalizePath: true, MergeSlashes: true, PathWithEscapedSlashesAction: rejectEscapedSlashes,
		Logger: a.log.With("component", "front"),
	})
	if err != nil {
		closeApp(a)
		closeListeners(lis)
		return err
	}
	defer func() { _ = si.Close() }()
	front := newDevFront(si)

	sidecarCtx, stopSidecar := context.WithCancel(ctx)
	defer stopSidecar()
	sidecarErr := make(chan error, 1)
	go func() { sidecarErr <- a.serve(sidecarCtx, lis["listen.grpc"], lis["listen.admin"]) }()
	frontErr := make(chan error, 1)
	go func() { frontErr <- front.srv.Serve(lis["--listen"]) }()

	ready := devReady{
		BaseURL: "http://" + dialable(lis["--listen"].Addr()) + strings.TrimSuffix(envoy.DefaultRoutePrefix, "/"),
		Front:   "http://" + dialable(lis["--listen"].Addr()), Admin: "http://" + dialable(lis["listen.admin"].Addr()),
		GRPC: lis["listen.grpc"].Addr().String(), Upstream: upstream, FakeURL: fakeURL, ClientHdr: cfg.ClientID.Header,
	}
	if builtIn {
		ready.Key = devKey
	}
	if err := announce(stdout, fs, ready, cfg); err != nil {
		a.log.Error("dev: announce", "err", err)
	}
	if path, _ := fs.GetString("ready-file"); path != "" {
		if err := writeReadyFile(path, ready); err != nil {
			a.log.Error("dev: --ready-file", "err", err)
		}
	}
	if hooks.ready != nil {
		hooks.ready(ready)
	}
	if demo {
		go func() {
			if err := runDemo(ctx, stdout, ready); err != nil && ctx.Err() == nil {
				a.log.Error("demo failed", "err", err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-sidecarErr:
		sidecarErr <- err // for the wait below
		if ctx.Err() == nil {
			// The sidecar stopped on its own (not the Ctrl-C both saw): the
			// front must not stay up answering 500s with an empty body.
			runErr = fmt.Errorf("dev: the sidecar stopped: %w", errOrStopped(err))
		}
	case err := <-frontErr:
		runErr = fmt.Errorf("dev: the front stopped: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = front.srv.Shutdown(shutdownCtx) // open requests finish first, then the sidecar drains
	stopSidecar()
	if err := <-sidecarErr; err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

func errOrStopped(err error) error {
	if err == nil {
		return errors.New("it exited")
	}
	return err
}

// devListen opens every address or none; the error names the one that failed.
func devListen(ctx context.Context, addrs map[string]string) (map[string]net.Listener, error) {
	var lc net.ListenConfig
	out := make(map[string]net.Listener, len(addrs))
	for _, name := range []string{"listen.grpc", "listen.admin", "--listen"} {
		lis, err := lc.Listen(ctx, "tcp", addrs[name])
		if err != nil {
			closeListeners(out)
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = lis
	}
	return out, nil
}

func closeListeners(ls map[string]net.Listener) {
	for _, l := range ls {
		_ = l.Close() // nothing was served on it
	}
}

// closeApp releases what newApp opened when serve never runs.
func closeApp(a *app) {
	a.rules.Close()
	_ = a.ledger.Close()
	_ = a.store.Close()
}

// dialable turns a listener's address into one a client can dial: an
// unspecified host (":10000", "0.0.0.0") becomes loopback.
func dialable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// writeReadyFile writes the addresses atomically (a reader polling for the
// file never sees half of it).
func writeReadyFile(path string, r devReady) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func randomKey(prefix string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("dev: random key: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}
