package envoy

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// StandIn is an HTTP reverse proxy with Envoy's ext_proc filter in front of
// the router. It is an http.Handler; serve it with httptest.NewServer or
// http.Server.
//
// Per request it opens one Process stream lazily, sends the messages Envoy
// sends (raw_value headers, metadata_context, protocol_config and attributes
// placement, end_of_stream flags, pipelined STREAMED chunks), applies replies
// with Envoy's mutation rules and reacts to spurious replies, gRPC errors,
// OK closes and per-message timeouts as Envoy does. Local replies that
// happen before any response exists (413, the router's 503) go through the
// ext_proc encoder path like in Envoy; once the client has response headers
// only a reset is possible, done with panic(http.ErrAbortHandler).
//
// Trailers follow Envoy's onTrailers and handleTrailersResponse. Request
// trailers come from an HTTP/2 client, or an HTTP/1.1 chunked one when
// DownstreamHTTP1Trailers is set (Envoy's HTTP/1 codec drops them
// otherwise); response trailers come from the upstream when
// UpstreamHTTP1Trailers is set. When trailers follow a body, the last body
// message has end_of_stream=false, in every body mode: a BUFFERED body is
// sent as one message when the trailers arrive, still with
// end_of_stream=false. With the direction's trailer mode SKIP nothing more is
// sent and the trailers are forwarded after the last body reply; with SEND a
// request_trailers / response_trailers message follows once no body reply is
// pending, it is timed like any message, its TrailersResponse
// header_mutation is applied to the trailers, and (close optimisation) the
// response_trailers reply is the stream's last. A TrailersResponse nobody
// asked for is spurious. Trailers are forwarded upstream and to the client
// like Envoy's codecs do (HTTP/1 only when enabled and chunked).
//
// Before the filter chain the connection manager's path handling runs
// (normalize_path, merge_slashes, path_with_escaped_slashes_action, see
// Options; KeepRawPath turns it off): ext_proc sees the normalised :path,
// and a rejected path gets 400 without an ext_proc stream.
//
// Not emulated: FULL_DUPLEX_STREAMED and GRPC body modes (rejected by New,
// a mode_override to them is ignored and counted), observability mode,
// send_body_without_waiting_for_header_response, dynamic metadata, gRPC
// (application/grpc) local replies, local_reply_config, retries, an
// HTTP/2 upstream.
type StandIn struct {
	cfg        *config
	conn       *grpc.ClientConn
	client     extprocv3.ExternalProcessorClient
	httpClient *http.Client
	transport  *http.Transport
	stats      counters
}

// New validates opts and dials the sidecar once (grpc.NewClient connects
// lazily); every HTTP request then opens its own Process stream.
func New(opts Options) (*StandIn, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if cfg.ExtProcTLS != nil {
		// The name to verify goes to the handshake (clusterTLS); left in the
		// config, grpc-go would insist the :authority be the same.
		tc := cfg.ExtProcTLS.Clone()
		tc.ServerName = ""
		creds = clusterTLS{credentials.NewTLS(tc), cfg.ExtProcTLS.ServerName}
	}
	conn, err := grpc.NewClient(cfg.ExtProcAddr,
		grpc.WithTransportCredentials(creds),
		// Envoy's gRPC :authority is the cluster name.
		grpc.WithAuthority("ext_proc"),
		// Envoy's max_receive_message_length is unlimited by default.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	)
	if err != nil {
		return nil, fmt.Errorf("envoy: dial ext_proc %s: %w", cfg.ExtProcAddr, err)
	}
	tr := &http.Transport{
		Proxy:               nil, // never an environment proxy
		DisableCompression:  true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     60 * time.Second,
		// HTTP/1.1 only, like the shipped configs' upstream cluster
		// (explicit_http_config: http_protocol_options): trailers then
		// follow the HTTP/1 codec's rules.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	return &StandIn{
		cfg: cfg, conn: conn,
		client:     extprocv3.NewExternalProcessorClient(conn),
		transport:  tr,
		httpClient: &http.Client{Transport: tr, CheckRedirect: noRedirects},
	}, nil
}

// clusterTLS is TLS as Envoy's ext_proc cluster does it: the gRPC
// :authority stays the cluster name while the certificate is checked against
// the UpstreamTlsContext's names (tls.Config.ServerName), which grpc-go
// would otherwise insist be the same.
type clusterTLS struct {
	credentials.TransportCredentials
	serverName string
}

func (c clusterTLS) ClientHandshake(ctx context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.TransportCredentials.ClientHandshake(ctx, c.serverName, conn)
}

func (c clusterTLS) Clone() credentials.TransportCredentials {
	return clusterTLS{c.TransportCredentials.Clone(), c.serverName}
}

// noRedirects: a proxy passes redirects to the client.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// ServeHTTP proxies one request through the ext_proc filter.
func (s *StandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.stats.requests.Add(1)
	raw := r.RequestURI
	if raw == "" {
		raw = r.URL.RequestURI()
	}
	path, action := s.cfg.normalizePath(raw)
	switch action {
	case pathReject:
		// The HCM answers before creating the filter chain: no ext_proc.
		s.stats.pathRejects.Add(1)
		s.cfg.Logger.Info("access", "status", http.StatusBadRequest, "details", "path_normalization_failed", "path", raw)
		w.Header().Set("Server", "envoy")
		w.WriteHeader(http.StatusBadRequest)
		return
	case pathRedirect:
		s.stats.pathRedirects.Add(1)
		w.Header().Set("Server", "envoy")
		w.Header().Set("Location", path)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if !strings.HasPrefix(path, s.cfg.RoutePrefix) {
		// The catch-all route: direct_response 404 with ext_proc disabled.
		s.stats.directResponses.Add(1)
		w.Header().Set("Server", "envoy")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	f := newFilter(s, w, r, path)
	f.run()
	f.cleanup()
	f.log.Info("access", "status", f.status, "details", f.details,
		"outcome", f.outcomeName(), "duration", time.Since(f.start))
	if f.outcome == outcomeReset || f.outcome == outcomeClientGone {
		// net/http's documented way to abort a response: HTTP/1 closes the
		// connection without the final chunk, HTTP/2 sends RST_STREAM. This
		// is Envoy's downstream reset, not control flow inside the stand-in.
		// A client taken for gone gets no response either: returning would
		// let net/http send an empty 200 should it still be listening.
		panic(http.ErrAbortHandler)
	}
}

func (f *filter) outcomeName() string {
	switch f.outcome {
	case outcomeReset:
		return "reset"
	case outcomeClientGone:
		return "client_gone"
	}
	return "complete"
}

// Close closes the gRPC connection and idle upstream connections.
func (s *StandIn) Close() error {
	s.transport.CloseIdleConnections()
	return s.conn.Close()
}
