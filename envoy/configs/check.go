package configs

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// CheckReferences runs the cross-reference checks Envoy does at start-up
// that PGV cannot: unique listener names and addresses, unique cluster
// names, every routed cluster and the ext_proc cluster defined, the router
// last in every HTTP filter chain, the ext_proc cluster on HTTP/2,
// auto_host_rewrite only towards DNS clusters, and admin on loopback.
// Every problem is reported.
func CheckReferences(bs *bootstrapv3.Bootstrap) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range bs.GetStaticResources().GetClusters() {
		if _, dup := clusters[c.GetName()]; dup {
			add("cluster %q defined twice", c.GetName())
		}
		clusters[c.GetName()] = c
		if len(c.GetLoadAssignment().GetEndpoints()) == 0 {
			add("cluster %q has no endpoints", c.GetName())
		}
	}
	if a := bs.GetAdmin().GetAddress().GetSocketAddress(); a != nil {
		if ip := net.ParseIP(a.GetAddress()); ip == nil || !ip.IsLoopback() {
			add("admin listens on %q: keep it on loopback", a.GetAddress())
		}
	}

	listeners, addrs := map[string]bool{}, map[string]string{}
	for _, l := range bs.GetStaticResources().GetListeners() {
		if listeners[l.GetName()] {
			add("listener %q defined twice", l.GetName())
		}
		listeners[l.GetName()] = true
		// Port 0 asks the kernel for a free port: never a clash.
		if port := l.GetAddress().GetSocketAddress().GetPortValue(); port != 0 {
			addr := socketAddr(l.GetAddress())
			if other, dup := addrs[addr]; dup {
				add("listeners %q and %q both bind %s", other, l.GetName(), addr)
			}
			addrs[addr] = l.GetName()
		}
		if err := checkListener(l.GetName(), bs, clusters); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkListener(name string, bs *bootstrapv3.Bootstrap, clusters map[string]*clusterv3.Cluster) error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("listener %q: "+format, append([]any{name}, args...)...))
	}
	l, err := Listener(bs, name)
	if err != nil {
		return err
	}
	h, err := HCM(l)
	if err != nil {
		return err
	}
	filters := h.GetHttpFilters()
	if len(filters) == 0 || filters[len(filters)-1].GetName() != RouterFilter {
		add("the last HTTP filter must be %s", RouterFilter)
	}
	if ep, err := ExtProc(h); err == nil {
		cn := ep.GetGrpcService().GetEnvoyGrpc().GetClusterName()
		switch c, ok := clusters[cn]; {
		case cn == "":
			add("ext_proc has no envoy_grpc cluster")
		case !ok:
			add("ext_proc cluster %q is not defined", cn)
		case !IsHTTP2(c):
			add("ext_proc cluster %q must use HTTP/2 (gRPC)", cn)
		}
	} else if !errors.Is(err, ErrNotFound) {
		errs = append(errs, err)
	}
	if h.GetRouteConfig() == nil {
		add("no inline route_config")
	}
	for _, vh := range h.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			ra := r.GetRoute()
			if ra == nil {
				continue // direct_response or redirect
			}
			c, ok := clusters[ra.GetCluster()]
			if !ok {
				add("route %q: cluster %q is not defined", r.GetName(), ra.GetCluster())
				continue
			}
			if ra.GetAutoHostRewrite().GetValue() && c.GetType() != clusterv3.Cluster_LOGICAL_DNS && c.GetType() != clusterv3.Cluster_STRICT_DNS {
				add("route %q: auto_host_rewrite needs a DNS cluster, %q is %s", r.GetName(), c.GetName(), c.GetType())
			}
		}
	}
	return errors.Join(errs...)
}

func socketAddr(a *corev3.Address) string {
	sa := a.GetSocketAddress()
	return net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10))
}
