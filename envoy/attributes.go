package envoy

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// attributesKey is the filter name Envoy uses as the attributes map key.
const attributesKey = "envoy.filters.http.ext_proc"

// addAttributes sets attributes on the first message of a direction only,
// and only when attributes are configured for it.
func (f *filter) addAttributes(st *procState, req *extprocv3.ProcessingRequest) {
	names := f.cfg.requestAttrs
	if st.dir == dirResponse {
		names = f.cfg.responseAttrs
	}
	if st.attributesSent || len(names) == 0 {
		return
	}
	st.attributesSent = true
	fields := make(map[string]*structpb.Value, len(names))
	for _, name := range names {
		if v, ok := f.attribute(name); ok {
			fields[name] = v
		}
	}
	req.Attributes = map[string]*structpb.Struct{attributesKey: {Fields: fields}}
}

// attribute evaluates one CEL attribute name; unknown names and attributes
// that cannot be evaluated are omitted, as in Envoy.
func (f *filter) attribute(name string) (*structpb.Value, bool) {
	reqH := f.dec.headers
	header := func(k string) (*structpb.Value, bool) {
		v, ok := reqH.get(k)
		return structpb.NewStringValue(v), ok
	}
	switch name {
	case "request.path":
		return header(":path")
	case "request.url_path":
		p, _ := reqH.get(":path")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return structpb.NewStringValue(p), true
	case "request.host":
		return header(":authority")
	case "request.scheme":
		return header(":scheme")
	case "request.method":
		return header(":method")
	case "request.id":
		return header("x-request-id")
	case "request.referer":
		return header("referer")
	case "request.useragent":
		return header("user-agent")
	case "request.protocol":
		return structpb.NewStringValue(f.r.Proto), true
	case "request.size":
		if v, ok := reqH.get("content-length"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return structpb.NewNumberValue(float64(n)), true
			}
		}
		return nil, false
	case "source.address":
		return structpb.NewStringValue(f.r.RemoteAddr), true
	case "source.port":
		return port(f.r.RemoteAddr)
	case "destination.address", "destination.port":
		addr, ok := f.r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if !ok {
			return nil, false
		}
		if name == "destination.port" {
			return port(addr.String())
		}
		return structpb.NewStringValue(addr.String()), true
	case "connection.mtls":
		return structpb.NewBoolValue(f.r.TLS != nil && len(f.r.TLS.PeerCertificates) > 0), true
	case "connection.uri_san_peer_certificate":
		// The first URI SAN of the verified downstream certificate (a SPIFFE id).
		if f.r.TLS == nil || len(f.r.TLS.PeerCertificates) == 0 || len(f.r.TLS.PeerCertificates[0].URIs) == 0 {
			return nil, false
		}
		return structpb.NewStringValue(f.r.TLS.PeerCertificates[0].URIs[0].String()), true
	case "xds.route_name":
		return structpb.NewStringValue(defaultRouteName), true
	case "xds.cluster_name":
		return structpb.NewStringValue(defaultClusterName), true
	case "response.code":
		if !f.enc.started {
			return nil, false
		}
		code, err := strconv.Atoi(firstValue(f.enc.headers, ":status"))
		if err != nil {
			return nil, false
		}
		return structpb.NewNumberValue(float64(code)), true
	}
	return nil, false
}

func port(hostport string) (*structpb.Value, bool) {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, false
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return nil, false
	}
	return structpb.NewNumberValue(float64(n)), true
}
