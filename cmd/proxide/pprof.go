package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofServer serves Go's profiler on its own listener (listen.pprof, off
// by default). It is never mounted on the admin port: a profile shows
// request bodies in memory, and the admin port may be reachable by people
// who must not see them. Bind it to loopback.
func pprofServer(lis net.Listener) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	return srv
}
