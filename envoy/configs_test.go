package envoy_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/proxide/proxide/envoy"
	"github.com/proxide/proxide/envoy/configs"
	"github.com/proxide/proxide/envoy/fakeopenai"
)

// wantMode is DESIGN.md §2's processing mode for metered routes.
var wantMode = &extprocv3.ProcessingMode{
	RequestHeaderMode:   extprocv3.ProcessingMode_SEND,
	RequestBodyMode:     extprocv3.ProcessingMode_BUFFERED,
	RequestTrailerMode:  extprocv3.ProcessingMode_SKIP,
	ResponseHeaderMode:  extprocv3.ProcessingMode_SEND,
	ResponseBodyMode:    extprocv3.ProcessingMode_STREAMED,
	ResponseTrailerMode: extprocv3.ProcessingMode_SKIP,
}

// proxideMaxMessage is Proxide's default listen.max_message_bytes: a
// BUFFERED body must fit in one gRPC message.
const proxideMaxMessage = 16 << 20

func TestConfigsLoadStrictlyAndReferenceCheck(t *testing.T) {
	for _, name := range configs.Names() {
		t.Run(name, func(t *testing.T) {
			bs, err := configs.Load(name)
			require.NoError(t, err)
			require.NoError(t, configs.CheckReferences(bs))
		})
	}
}

func TestConfigsExtProcFilter(t *testing.T) {
	for _, name := range configs.Names() {
		t.Run(name, func(t *testing.T) {
			bs, err := configs.Load(name)
			require.NoError(t, err)
			l, err := configs.Listener(bs, "openai")
			require.NoError(t, err)
			require.EqualValues(t, 10000, l.GetAddress().GetSocketAddress().GetPortValue())
			h, err := configs.HCM(l)
			require.NoError(t, err)
			require.Equal(t, configs.ExtProcFilter, h.GetHttpFilters()[0].GetName(), "ext_proc runs first, before the router")

			ep, err := configs.ExtProc(h)
			require.NoError(t, err)
			require.Empty(t, cmpMode(ep.GetProcessingMode()), "processing_mode")
			require.True(t, ep.GetAllowModeOverride(), "unmetered paths are released with mode_override")
			require.False(t, ep.GetFailureModeAllow(), "Proxide enforces auth and budgets: fail closed")
			require.Equal(t, 2*time.Second, ep.GetMessageTimeout().AsDuration())
			require.Equal(t, 30*time.Second, ep.GetMaxMessageTimeout().AsDuration())
			require.Equal(t, "proxide_ext_proc", ep.GetGrpcService().GetEnvoyGrpc().GetClusterName())

			c, err := configs.Cluster(bs, "proxide_ext_proc")
			require.NoError(t, err)
			require.True(t, configs.IsHTTP2(c), "gRPC needs HTTP/2")
			th := c.GetCircuitBreakers().GetThresholds()
			require.NotEmpty(t, th)
			require.Greater(t, th[0].GetMaxRequests().GetValue(), uint32(1024), "one stream per in-flight request: raise the 1024 default")
			require.Greater(t, th[0].GetMaxPendingRequests().GetValue(), uint32(1024))
			require.EqualValues(t, 50051, c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue())
		})
	}
}

// cmpMode is empty when got is wantMode, else a readable diff.
func cmpMode(got *extprocv3.ProcessingMode) string {
	return cmp.Diff(wantMode, got, protocmp.Transform())
}

func TestConfigsRouteAndUpstream(t *testing.T) {
	for _, name := range configs.Names() {
		t.Run(name, func(t *testing.T) {
			bs, err := configs.Load(name)
			require.NoError(t, err)
			l, err := configs.Listener(bs, "openai")
			require.NoError(t, err)
			h, err := configs.HCM(l)
			require.NoError(t, err)
			require.NoError(t, configs.CheckHCMPathHandling(h), "Envoy normalises paths before Proxide sees them (defence in depth)")

			r, err := configs.Route(h, "openai_v1")
			require.NoError(t, err)
			require.Equal(t, "/openai/v1/", r.GetMatch().GetPrefix())
			ra := r.GetRoute()
			require.Equal(t, "/v1/", ra.GetPrefixRewrite())
			require.True(t, ra.GetAutoHostRewrite().GetValue())
			require.Equal(t, "openai_upstream", ra.GetCluster())
			require.NotNil(t, ra.GetTimeout())
			require.Zero(t, ra.GetTimeout().AsDuration(), "a route timeout would cut SSE streams")
			require.Positive(t, ra.GetIdleTimeout().AsDuration())
			limit := r.GetRequestBodyBufferLimit().GetValue()
			require.GreaterOrEqual(t, limit, uint64(8<<20), "BUFFERED bodies need a limit above the 1 MiB default")
			require.Less(t, limit, uint64(proxideMaxMessage), "and below Proxide's gRPC message limit")
			require.Contains(t, r.GetRequestHeadersToRemove(), "accept-encoding")

			nf, err := configs.Route(h, "not_found")
			require.NoError(t, err)
			per := &extprocv3.ExtProcPerRoute{}
			require.NoError(t, nf.GetTypedPerFilterConfig()[configs.ExtProcFilter].UnmarshalTo(per))
			require.True(t, per.GetDisabled(), "no ext_proc stream for unknown paths")

			up, err := configs.Cluster(bs, "openai_upstream")
			require.NoError(t, err)
			require.Equal(t, clusterv3.Cluster_LOGICAL_DNS, up.GetType())
			sa := up.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
			require.Equal(t, "api.openai.com", sa.GetAddress())
			require.EqualValues(t, 443, sa.GetPortValue())
			tls, err := configs.UpstreamTLS(up)
			require.NoError(t, err)
			require.Equal(t, "api.openai.com", tls.GetSni())
			vc := tls.GetCommonTlsContext().GetValidationContext()
			require.NotEmpty(t, vc.GetTrustedCa().GetFilename(), "without a CA Envoy does not verify the server")
			sans := vc.GetMatchTypedSubjectAltNames()
			require.Len(t, sans, 1)
			require.Equal(t, "api.openai.com", sans[0].GetMatcher().GetExact())
		})
	}
}

func TestConfigsAdminAndHealth(t *testing.T) {
	for _, name := range configs.Names() {
		t.Run(name, func(t *testing.T) {
			bs, err := configs.Load(name)
			require.NoError(t, err)
			admin := bs.GetAdmin().GetAddress().GetSocketAddress()
			require.Equal(t, "127.0.0.1", admin.GetAddress())
			require.EqualValues(t, 9901, admin.GetPortValue())
			l, err := configs.Listener(bs, "health")
			require.NoError(t, err)
			require.EqualValues(t, 9902, l.GetAddress().GetSocketAddress().GetPortValue())
			require.Equal(t, "0.0.0.0", l.GetAddress().GetSocketAddress().GetAddress(), "kubelet probes the Pod IP")
			h, err := configs.HCM(l)
			require.NoError(t, err)
			require.Equal(t, "envoy.filters.http.health_check", h.GetHttpFilters()[0].GetName())
			_, err = configs.ExtProc(h)
			require.ErrorIs(t, err, configs.ErrNotFound, "health checks never open ext_proc streams")
		})
	}
}

// TestConfigsStandInAgrees pins the stand-in's defaults, which every
// end-to-end test uses, to the production config.
func TestConfigsStandInAgrees(t *testing.T) {
	bs, err := configs.Load(configs.Sidecar)
	require.NoError(t, err)
	o := standInOptions(t, bs, "127.0.0.1:1", "http://127.0.0.1:2")
	require.Equal(t, envoy.DefaultRoutePrefix, o.RoutePrefix)
	require.Equal(t, envoy.DefaultPrefixRewrite, o.PrefixRewrite)
	require.Equal(t, envoy.DefaultMessageTimeout, o.MessageTimeout)
	require.Equal(t, envoy.DefaultMaxMessageTimeout, o.MaxMessageTimeout)
	require.Empty(t, cmpMode(o.ProcessingMode))
	require.True(t, o.NormalizePath && o.MergeSlashes, "the stand-in normalises paths like the config")
	require.Equal(t, configs.WantEscapedSlashes, o.PathWithEscapedSlashesAction)
	require.False(t, o.DownstreamHTTP1Trailers || o.UpstreamHTTP1Trailers, "the configs keep Envoy's HTTP/1 default: trailers dropped")
}

// TestConfigsDriveStandIn runs the full gateway exercise (auth and key swap,
// SSE, unmetered path, 401, 402, 404) through the Go stand-in configured from
// each production config, against a real `proxide serve` process. The same
// exercise runs through a real envoy binary in envoy_binary_test.go.
func TestConfigsDriveStandIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts proxide")
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
			si, err := envoy.New(standInOptions(t, bs, px.grpc, up.URL))
			require.NoError(t, err)
			defer func() { require.NoError(t, si.Close()) }()
			front := httptest.NewServer(si)
			defer front.Close()
			exerciseGateway(t, front.URL, fake)
		})
	}
}

// TestConfigsLoaderRejects proves the checks above can fail: each broken
// variant of sidecar.yaml must be refused, with the problem named.
func TestConfigsLoaderRejects(t *testing.T) {
	good, err := configs.Raw(configs.Sidecar)
	require.NoError(t, err)
	tests := []struct {
		name, old, new, want string
		refs                 bool // the decode passes; CheckReferences must fail
	}{
		{name: "unknown field in a nested Any", old: "allow_mode_override: true", new: "allow_mode_overide: true", want: "allow_mode_overide"},
		{name: "unknown top-level field", old: "node:\n", new: "nodes:\n", want: "nodes"},
		{name: "unregistered @type", old: "ext_proc.v3.ExternalProcessor\n", new: "ext_proc.v3.ExternalProcessorX\n", want: "ExternalProcessorX"},
		{name: "bad enum", old: "response_body_mode: STREAMED", new: "response_body_mode: STREAMING", want: "STREAMING"},
		{name: "PGV rule inside an Any", old: "message_timeout: 2s", new: "message_timeout: 7200s", want: "MessageTimeout"},
		{name: "PGV rule in the bootstrap", old: "connect_timeout: 0.25s", new: "connect_timeout: -1s", want: "ConnectTimeout"},
		{name: "duplicate key", old: "failure_mode_allow: false", new: "failure_mode_allow: false\n              failure_mode_allow: true", want: "already defined"},
		{name: "route to a missing cluster", old: "cluster: openai_upstream", new: "cluster: openai", want: `cluster "openai" is not defined`, refs: true},
		{name: "ext_proc cluster on HTTP/1", old: "explicit_http_config:\n          http2_protocol_options:\n            connection_keepalive: {interval: 30s, timeout: 5s}",
			new: "explicit_http_config: {http_protocol_options: {}}", want: "must use HTTP/2", refs: true},
		{name: "router not last", old: "          - name: envoy.filters.http.router\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n\n  # Health",
			new: "\n  # Health", want: "last HTTP filter", refs: true},
		{name: "admin off loopback", old: "address: {socket_address: {address: 127.0.0.1, port_value: 9901}}", new: "address: {socket_address: {address: 0.0.0.0, port_value: 9901}}", want: "loopback", refs: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, 1, strings.Count(string(good), tt.old), "the test's anchor must match once")
			bad := strings.Replace(string(good), tt.old, tt.new, 1)
			bs, err := configs.ParseBootstrap([]byte(bad))
			if tt.refs {
				require.NoError(t, err)
				err = configs.CheckReferences(bs)
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestConfigsPathHandling: every shipped config normalises paths in the
// connection manager in front of ext_proc (normalize_path, merge_slashes,
// escaped slashes rejected). Proxide canonicalises paths itself; this is
// defence in depth, so the router, Proxide and OpenAI read one path.
func TestConfigsPathHandling(t *testing.T) {
	for _, name := range configs.Names() {
		t.Run(name, func(t *testing.T) {
			bs, err := configs.Load(name)
			require.NoError(t, err)
			require.NoError(t, configs.CheckPathHandling(bs))
		})
	}
}

// TestConfigsPathHandlingRequired proves CheckPathHandling fails for a
// config that drops or weakens any of the three settings.
func TestConfigsPathHandlingRequired(t *testing.T) {
	for _, name := range configs.Names() {
		good, err := configs.Raw(name)
		require.NoError(t, err)
		tests := []struct{ name, old, new, want string }{
			{"normalize_path off", "normalize_path: true", "normalize_path: false", "normalize_path"},
			{"normalize_path missing", "normalize_path: true\n", "# removed\n", "normalize_path"},
			{"merge_slashes missing", "merge_slashes: true\n", "# removed\n", "merge_slashes"},
			{"escaped slashes unescaped", "path_with_escaped_slashes_action: REJECT_REQUEST", "path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD", "UNESCAPE_AND_FORWARD"},
			{"escaped slashes kept", "path_with_escaped_slashes_action: REJECT_REQUEST", "path_with_escaped_slashes_action: KEEP_UNCHANGED", "KEEP_UNCHANGED"},
			{"escaped slashes default", "path_with_escaped_slashes_action: REJECT_REQUEST\n", "# removed\n", "IMPLEMENTATION_SPECIFIC_DEFAULT"},
		}
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				require.Equal(t, 1, strings.Count(string(good), tt.old), "the test's anchor must match once")
				bs, err := configs.ParseBootstrap([]byte(strings.Replace(string(good), tt.old, tt.new, 1)))
				require.NoError(t, err)
				err = configs.CheckPathHandling(bs)
				require.ErrorContains(t, err, tt.want)
				require.ErrorContains(t, err, `listener "openai"`)
			})
		}
	}
}

// TestConfigsEveryAnyValidated: a PGV violation two Anys deep (listener →
// connection manager → ext_proc) is found, and the message names the path.
func TestConfigsEveryAnyValidated(t *testing.T) {
	bs, err := configs.Load(configs.Sidecar)
	require.NoError(t, err)
	l, err := configs.Listener(bs, "openai")
	require.NoError(t, err)
	h, err := configs.HCM(l)
	require.NoError(t, err)
	ep, err := configs.ExtProc(h)
	require.NoError(t, err)
	ep.MessageTimeout = durationpb.New(2 * time.Hour) // PGV: at most 3600s
	require.NoError(t, h.GetHttpFilters()[0].GetTypedConfig().MarshalFrom(ep))
	require.NoError(t, l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().MarshalFrom(h))
	require.NoError(t, bs.ValidateAll(), "PGV alone does not look inside an Any")
	err = configs.Validate(bs)
	require.ErrorContains(t, err, "<ExternalProcessor>")
}
