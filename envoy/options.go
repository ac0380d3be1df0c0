package envoy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// Defaults mirror the example envoy.yaml of the ext_proc reference notes (§7),
// as configs/front-proxy.yaml does.
const (
	DefaultRoutePrefix       = "/openai/v1/"
	DefaultPrefixRewrite     = "/v1/"
	DefaultMessageTimeout    = 2 * time.Second
	DefaultMaxMessageTimeout = 30 * time.Second
	DefaultStatusOnError     = 500
	DefaultBodyLimit         = 1 << 20 // per_connection_buffer_limit_bytes
	defaultRouteName         = "openai"
	defaultClusterName       = "openai_upstream"
)

// defaultRequestAttributes are sent in attributes["envoy.filters.http.ext_proc"]
// on the first message of the request direction.
var defaultRequestAttributes = []string{"request.id", "request.path", "request.method", "source.address", "xds.route_name"}

// defaultResponseAttributes are sent on the first message of the response direction.
var defaultResponseAttributes = []string{"response.code"}

// Options configure a [StandIn]. The zero value of every field means "as in
// the example envoy.yaml".
type Options struct {
	// ExtProcAddr is the gRPC target of the sidecar, e.g. "127.0.0.1:50051"
	// (plaintext HTTP/2 unless ExtProcTLS is set). Required.
	ExtProcAddr string
	// ExtProcTLS is the ext_proc cluster's transport_socket (an
	// UpstreamTlsContext with a client certificate, for a sidecar serving
	// mutual TLS); nil dials plaintext like the shipped configs.
	ExtProcTLS *tls.Config
	// Upstream is the base URL of the upstream, e.g. "http://127.0.0.1:8081". Required.
	Upstream string
	// RoutePrefix is the route's prefix match (default "/openai/v1/"); requests
	// outside it get a 404 direct response with ext_proc disabled.
	RoutePrefix string
	// PrefixRewrite replaces RoutePrefix on the path sent upstream (default
	// "/v1/"). It is applied after ext_proc, which sees the client's path.
	PrefixRewrite string
	// ProcessingMode is the filter-level processing_mode. Nil means request
	// headers SEND, request body BUFFERED, response headers SEND, response body
	// STREAMED, trailers SKIP. FULL_DUPLEX_STREAMED and GRPC are not supported.
	ProcessingMode *extprocfilterv3.ProcessingMode
	// DisallowModeOverride turns allow_mode_override off (it is on by default).
	DisallowModeOverride bool
	// MessageTimeout is message_timeout (default 2s): one timer per direction,
	// re-armed on every send and stopped on every reply.
	MessageTimeout time.Duration
	// MaxMessageTimeout caps override_message_timeout (default 30s as in
	// envoy.yaml; a negative value disables overrides like Envoy's default 0).
	MaxMessageTimeout time.Duration
	// FailureModeAllow is failure_mode_allow: false (default) fails closed.
	FailureModeAllow bool
	// StatusOnError is status_on_error (default 500).
	StatusOnError int
	// RequestBodyLimit is the request buffer limit (default 1 MiB): a BUFFERED
	// request body over it gets 413. It is also the STREAMED watermark.
	RequestBodyLimit int
	// ResponseBodyLimit is the response buffer limit (default 1 MiB): a
	// BUFFERED response body over it gets 500 (or a reset).
	ResponseBodyLimit int
	// RequestHeadersToRemove are removed by the route after ext_proc, like the
	// route's request_headers_to_remove (default none).
	RequestHeadersToRemove []string
	// RequestAttributes and ResponseAttributes are the CEL attribute names sent
	// on the first message of each direction. Nil selects the defaults
	// (request: request.id, request.path, request.method, source.address,
	// xds.route_name; response: response.code); an empty non-nil slice sends none.
	RequestAttributes, ResponseAttributes []string
	// NormalizePath, MergeSlashes and PathWithEscapedSlashesAction are the
	// connection manager's normalize_path, merge_slashes and
	// path_with_escaped_slashes_action (zero values: Envoy's defaults, off
	// and KEEP_UNCHANGED). They rewrite :path before ext_proc sees it and
	// before routing; a rejected path gets 400 and no ext_proc stream. The
	// shipped configs set all three (REJECT_REQUEST).
	NormalizePath                bool
	MergeSlashes                 bool
	PathWithEscapedSlashesAction hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction
	// KeepRawPath ignores the three settings above: ext_proc sees the
	// client's path exactly as sent, so tests can check Proxide's own
	// canonicalisation whatever the Envoy config says.
	KeepRawPath bool
	// DownstreamHTTP1Trailers is the connection manager's
	// http_protocol_options.enable_trailers. Envoy's HTTP/1 codec drops
	// trailers unless it is set: an HTTP/1.1 client's request trailers never
	// reach ext_proc, and response trailers are not sent to it. HTTP/2
	// clients always get trailers.
	DownstreamHTTP1Trailers bool
	// UpstreamHTTP1Trailers is enable_trailers in the upstream cluster's
	// http_protocol_options (the stand-in talks HTTP/1.1 upstream, like the
	// shipped configs): without it response trailers from the upstream are
	// dropped before ext_proc, and request trailers are not sent upstream.
	UpstreamHTTP1Trailers bool
	// ResponseChunkSplit optionally re-splits every upstream read into several
	// chunks (several response_body messages). Nil sends one message per read.
	ResponseChunkSplit func(b []byte) [][]byte
	// Logger receives debug logs and one access-log line per request.
	Logger *slog.Logger
}

// config is the validated, defaulted form of Options.
type config struct {
	Options
	upstream          *url.URL
	mode              *extprocfilterv3.ProcessingMode
	allowModeOverride bool
	requestAttrs      []string
	responseAttrs     []string
}

// errUnsupportedMode is returned for body modes the stand-in cannot emulate.
var errUnsupportedMode = errors.New("envoy: unsupported body mode")

func newConfig(o Options) (*config, error) {
	var errs []error
	c := &config{Options: o}
	if o.ExtProcAddr == "" {
		errs = append(errs, errors.New("envoy: ExtProcAddr is required"))
	}
	u, err := url.Parse(o.Upstream)
	switch {
	case o.Upstream == "":
		errs = append(errs, errors.New("envoy: Upstream is required"))
	case err != nil:
		errs = append(errs, fmt.Errorf("envoy: Upstream: %w", err))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		errs = append(errs, fmt.Errorf("envoy: Upstream %q must be an absolute http(s) URL", o.Upstream))
	default:
		c.upstream = u
	}
	if c.RoutePrefix == "" {
		c.RoutePrefix = DefaultRoutePrefix
	}
	if !strings.HasPrefix(c.RoutePrefix, "/") {
		errs = append(errs, fmt.Errorf("envoy: RoutePrefix %q must start with /", c.RoutePrefix))
	}
	if c.PrefixRewrite == "" {
		c.PrefixRewrite = DefaultPrefixRewrite
	}
	if c.MessageTimeout <= 0 {
		c.MessageTimeout = DefaultMessageTimeout
	}
	switch {
	case c.MaxMessageTimeout == 0:
		c.MaxMessageTimeout = DefaultMaxMessageTimeout
	case c.MaxMessageTimeout < 0:
		c.MaxMessageTimeout = 0
	}
	if _, ok := hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction_name[int32(c.PathWithEscapedSlashesAction)]; !ok {
		errs = append(errs, fmt.Errorf("envoy: PathWithEscapedSlashesAction %d unknown", c.PathWithEscapedSlashesAction))
	}
	if c.StatusOnError == 0 {
		c.StatusOnError = DefaultStatusOnError
	}
	if c.StatusOnError < 200 || c.StatusOnError > 599 {
		errs = append(errs, fmt.Errorf("envoy: StatusOnError %d out of range", c.StatusOnError))
	}
	if c.RequestBodyLimit <= 0 {
		c.RequestBodyLimit = DefaultBodyLimit
	}
	if c.ResponseBodyLimit <= 0 {
		c.ResponseBodyLimit = DefaultBodyLimit
	}
	c.mode = defaultMode()
	if o.ProcessingMode != nil {
		c.mode = cloneMode(o.ProcessingMode)
	}
	for _, m := range []extprocfilterv3.ProcessingMode_BodySendMode{c.mode.GetRequestBodyMode(), c.mode.GetResponseBodyMode()} {
		if !supportedBodyMode(m) {
			errs = append(errs, fmt.Errorf("%w: %s", errUnsupportedMode, m))
		}
	}
	c.allowModeOverride = !o.DisallowModeOverride
	c.requestAttrs, c.responseAttrs = o.RequestAttributes, o.ResponseAttributes
	if c.requestAttrs == nil {
		c.requestAttrs = defaultRequestAttributes
	}
	if c.responseAttrs == nil {
		c.responseAttrs = defaultResponseAttributes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, errors.Join(errs...)
}

func defaultMode() *extprocfilterv3.ProcessingMode {
	return &extprocfilterv3.ProcessingMode{
		RequestHeaderMode:   extprocfilterv3.ProcessingMode_SEND,
		RequestBodyMode:     extprocfilterv3.ProcessingMode_BUFFERED,
		RequestTrailerMode:  extprocfilterv3.ProcessingMode_SKIP,
		ResponseHeaderMode:  extprocfilterv3.ProcessingMode_SEND,
		ResponseBodyMode:    extprocfilterv3.ProcessingMode_STREAMED,
		ResponseTrailerMode: extprocfilterv3.ProcessingMode_SKIP,
	}
}

func cloneMode(m *extprocfilterv3.ProcessingMode) *extprocfilterv3.ProcessingMode {
	return &extprocfilterv3.ProcessingMode{
		RequestHeaderMode:   m.GetRequestHeaderMode(),
		RequestBodyMode:     m.GetRequestBodyMode(),
		RequestTrailerMode:  m.GetRequestTrailerMode(),
		ResponseHeaderMode:  m.GetResponseHeaderMode(),
		ResponseBodyMode:    m.GetResponseBodyMode(),
		ResponseTrailerMode: m.GetResponseTrailerMode(),
	}
}

func supportedBodyMode(m extprocfilterv3.ProcessingMode_BodySendMode) bool {
	switch m {
	case extprocfilterv3.ProcessingMode_NONE, extprocfilterv3.ProcessingMode_STREAMED,
		extprocfilterv3.ProcessingMode_BUFFERED, extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL:
		return true
	}
	return false
}

// effectiveModeOverride follows Envoy: DEFAULT header and trailer modes keep
// the filter-level value, body modes are always taken literally (unset = NONE).
func effectiveModeOverride(target, filter *extprocfilterv3.ProcessingMode) *extprocfilterv3.ProcessingMode {
	m := cloneMode(filter)
	if v := target.GetRequestHeaderMode(); v != extprocfilterv3.ProcessingMode_DEFAULT {
		m.RequestHeaderMode = v
	}
	if v := target.GetResponseHeaderMode(); v != extprocfilterv3.ProcessingMode_DEFAULT {
		m.ResponseHeaderMode = v
	}
	if v := target.GetRequestTrailerMode(); v != extprocfilterv3.ProcessingMode_DEFAULT {
		m.RequestTrailerMode = v
	}
	if v := target.GetResponseTrailerMode(); v != extprocfilterv3.ProcessingMode_DEFAULT {
		m.ResponseTrailerMode = v
	}
	m.RequestBodyMode = target.GetRequestBodyMode()
	m.ResponseBodyMode = target.GetResponseBodyMode()
	return m
}
