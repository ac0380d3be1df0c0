// Command envoy-standin runs the Go Envoy stand-in in front of an ext_proc
// sidecar for local development, optionally with the fake OpenAI upstream:
//
//	go run ./envoy/cmd/envoy-standin -ext-proc 127.0.0.1:50051 -fake-openai
//	curl localhost:10000/openai/v1/models
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/proxide/proxide/envoy"
	"github.com/proxide/proxide/envoy/fakeopenai"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "envoy-standin:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends; ready (optional) receives the listen address.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) (err error) {
	fs := flag.NewFlagSet("envoy-standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:10000", "address clients connect to")
	extProc := fs.String("ext-proc", "127.0.0.1:50051", "ext_proc gRPC address of the sidecar")
	upstream := fs.String("upstream", "https://api.openai.com", "upstream base URL")
	fake := fs.Bool("fake-openai", false, "serve the fake OpenAI upstream in-process and use it")
	fakeKey := fs.String("fake-openai-key", "", "with -fake-openai: the only upstream key the fake accepts (empty: any), to see the sidecar swap keys")
	failOpen := fs.Bool("fail-open", false, "failure_mode_allow: pass traffic when ext_proc fails")
	timeout := fs.Duration("message-timeout", envoy.DefaultMessageTimeout, "ext_proc message_timeout")
	verbose := fs.Bool("v", false, "debug logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var lc net.ListenConfig
	if *fake {
		lis, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("fake upstream: %w", err)
		}
		fakeSrv := &http.Server{Handler: fakeopenai.NewWithOptions(fakeopenai.Options{APIKey: *fakeKey}), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = fakeSrv.Serve(lis) }() // returns ErrServerClosed once Close below runs
		defer func() { err = errors.Join(err, fakeSrv.Close()) }()
		*upstream = "http://" + lis.Addr().String()
	}
	si, err := envoy.New(envoy.Options{
		ExtProcAddr: *extProc, Upstream: *upstream, FailureModeAllow: *failOpen,
		MessageTimeout: *timeout, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, si.Close()) }()

	lis, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: si, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("envoy stand-in listening", "addr", lis.Addr().String(), "ext_proc", *extProc, "upstream", *upstream)
	if ready != nil {
		ready <- lis.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
