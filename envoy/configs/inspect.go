package configs

import (
	"errors"
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Well-known names used by the configs.
const (
	HCMFilter     = "envoy.filters.network.http_connection_manager"
	ExtProcFilter = "envoy.filters.http.ext_proc"
	RouterFilter  = "envoy.filters.http.router"
	HTTPOptions   = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)

// ErrNotFound is returned when a named listener, cluster or filter is absent.
var ErrNotFound = errors.New("configs: not found")

// Listener returns the named static listener.
func Listener(bs *bootstrapv3.Bootstrap, name string) (*listenerv3.Listener, error) {
	for _, l := range bs.GetStaticResources().GetListeners() {
		if l.GetName() == name {
			return l, nil
		}
	}
	return nil, fmt.Errorf("listener %q: %w", name, ErrNotFound)
}

// Cluster returns the named static cluster.
func Cluster(bs *bootstrapv3.Bootstrap, name string) (*clusterv3.Cluster, error) {
	for _, c := range bs.GetStaticResources().GetClusters() {
		if c.GetName() == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("cluster %q: %w", name, ErrNotFound)
}

// HCM unpacks the HTTP connection manager of a listener's first filter chain.
func HCM(l *listenerv3.Listener) (*hcmv3.HttpConnectionManager, error) {
	for _, fc := range l.GetFilterChains() {
		for _, f := range fc.GetFilters() {
			if f.GetName() == HCMFilter {
				h := &hcmv3.HttpConnectionManager{}
				if err := unpack(f.GetTypedConfig(), h); err != nil {
					return nil, fmt.Errorf("listener %q: %w", l.GetName(), err)
				}
				return h, nil
			}
		}
	}
	return nil, fmt.Errorf("listener %q: %s: %w", l.GetName(), HCMFilter, ErrNotFound)
}

// ExtProc unpacks the ext_proc HTTP filter of a connection manager.
func ExtProc(h *hcmv3.HttpConnectionManager) (*extprocv3.ExternalProcessor, error) {
	for _, f := range h.GetHttpFilters() {
		if f.GetName() == ExtProcFilter {
			ep := &extprocv3.ExternalProcessor{}
			if err := unpack(f.GetTypedConfig(), ep); err != nil {
				return nil, err
			}
			return ep, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", ExtProcFilter, ErrNotFound)
}

// Route returns the named route of a connection manager's inline route config.
func Route(h *hcmv3.HttpConnectionManager, name string) (*routev3.Route, error) {
	for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if r.GetName() == name {
				return r, nil
			}
		}
	}
	return nil, fmt.Errorf("route %q: %w", name, ErrNotFound)
}

// HTTPProtocolOptions unpacks a cluster's upstream HTTP protocol options.
func HTTPProtocolOptions(c *clusterv3.Cluster) (*httpv3.HttpProtocolOptions, error) {
	a, ok := c.GetTypedExtensionProtocolOptions()[HTTPOptions]
	if !ok {
		return nil, fmt.Errorf("cluster %q: %s: %w", c.GetName(), HTTPOptions, ErrNotFound)
	}
	o := &httpv3.HttpProtocolOptions{}
	if err := unpack(a, o); err != nil {
		return nil, fmt.Errorf("cluster %q: %w", c.GetName(), err)
	}
	return o, nil
}

// UpstreamTLS unpacks a cluster's TLS transport socket.
func UpstreamTLS(c *clusterv3.Cluster) (*tlsv3.UpstreamTlsContext, error) {
	ts := c.GetTransportSocket()
	if ts == nil {
		return nil, fmt.Errorf("cluster %q: transport_socket: %w", c.GetName(), ErrNotFound)
	}
	t := &tlsv3.UpstreamTlsContext{}
	if err := unpack(ts.GetTypedConfig(), t); err != nil {
		return nil, fmt.Errorf("cluster %q: %w", c.GetName(), err)
	}
	return t, nil
}

// IsHTTP2 reports whether a cluster speaks HTTP/2 to its hosts (as gRPC needs).
func IsHTTP2(c *clusterv3.Cluster) bool {
	o, err := HTTPProtocolOptions(c)
	if err != nil {
		return false
	}
	return o.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
}

func unpack(a *anypb.Any, m proto.Message) error {
	if a == nil {
		return errors.New("configs: typed_config missing")
	}
	if err := a.UnmarshalTo(m); err != nil {
		return fmt.Errorf("configs: %s: %w", a.GetTypeUrl(), err)
	}
	return nil
}
