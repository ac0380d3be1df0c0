// Package envoy is a Go stand-in for Envoy's ext_proc HTTP filter in front
// of the router: an HTTP reverse proxy that consults an ext_proc gRPC server
// (Proxide's sidecar) exactly as Envoy v1.40 does, so end-to-end tests and
// local development run without an Envoy binary.
//
//	si, err := envoy.New(envoy.Options{ExtProcAddr: "127.0.0.1:50051", Upstream: fake.URL})
//	front := httptest.NewServer(si) // clients use front.URL + "/openai/v1"
//	defer si.Close()
//
// The behaviour follows the project's ext_proc reference notes (§2–§6 and
// the §9 checklist), which in turn follow Envoy's filter source: ext_proc.cc
// (onReceiveMessage, timeouts, stream close optimisation), processor_state.cc
// (per-direction state, header and body replies), mutation_utils.cc and
// mutation_rules.cc (header mutations and the default checker). The defaults
// are those of the example envoy.yaml: BUFFERED request body, STREAMED
// response body, message_timeout 2s, max_message_timeout 30s,
// allow_mode_override on, fail closed, /openai/v1/ rewritten to /v1/.
//
// Around the filter the stand-in plays the parts of Envoy that the sidecar
// can observe: the connection manager normalises :path (normalize_path,
// merge_slashes, path_with_escaped_slashes_action, 400 before any filter on
// a rejected path), drops HTTP/1 trailers unless enable_trailers is set,
// adds x-forwarded-for, x-forwarded-proto and x-request-id before ext_proc
// and sets "server: envoy" on responses; the router applies prefix_rewrite and auto_host_rewrite
// after ext_proc, adds x-envoy-upstream-service-time, answers 503 when the
// upstream fails before headers and resets the client when it fails after;
// the filter manager answers 413/500 when a buffer overflows and routes local
// replies made before any response existed through the ext_proc encoder path.
// Deliberate omissions are listed on [StandIn].
package envoy
