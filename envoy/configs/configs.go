// Package configs holds Proxide's production Envoy bootstrap files
// (sidecar.yaml, front-proxy.yaml), embedded, and a strict loader: YAML is
// turned into JSON and decoded with protojson into go-control-plane's
// Bootstrap with unknown fields rejected and every typed extension resolved,
// then validated with protoc-gen-validate rules, including inside every Any.
//
// That is as much of Envoy's own config check as runs without an Envoy
// binary: field names, types, enum values, PGV constraints (required fields,
// ranges, string patterns). Envoy's semantic checks at start-up (for example
// that a cluster named by a route exists) are covered by assertions in the
// tests and by envoy/envoy_binary_test.go when an envoy binary is available.
//
// The k8s/ module uses the same loader for the Envoy config the Helm chart
// renders and for the ext_proc filter embedded in the Istio EnvoyFilter.
package configs

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	// Every typed extension the configs (and the mesh examples) use must be
	// registered, or protojson cannot resolve its "@type".
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

//go:embed sidecar.yaml front-proxy.yaml
var files embed.FS

// Sidecar and FrontProxy name the embedded bootstrap files.
const (
	Sidecar    = "sidecar.yaml"
	FrontProxy = "front-proxy.yaml"
)

// Names lists every embedded bootstrap file.
func Names() []string { return []string{Sidecar, FrontProxy} }

// Raw returns an embedded file's bytes.
func Raw(name string) ([]byte, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("configs: %w", err)
	}
	return b, nil
}

// Load parses and validates an embedded bootstrap file.
func Load(name string) (*bootstrapv3.Bootstrap, error) {
	b, err := Raw(name)
	if err != nil {
		return nil, err
	}
	bs, err := ParseBootstrap(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return bs, nil
}

// ParseBootstrap decodes a YAML (or JSON) Envoy v3 bootstrap strictly and
// validates it and every Any inside it.
func ParseBootstrap(y []byte) (*bootstrapv3.Bootstrap, error) {
	bs := &bootstrapv3.Bootstrap{}
	if err := Unmarshal(y, bs); err != nil {
		return nil, err
	}
	return bs, nil
}

// Unmarshal decodes YAML (or JSON) into any Envoy message, rejecting unknown
// fields and unresolvable "@type"s, then validates it with [Validate].
func Unmarshal(y []byte, m proto.Message) error {
	j, err := YAMLToJSON(y)
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(j, m); err != nil {
		return fmt.Errorf("configs: decode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return Validate(m)
}

// YAMLToJSON converts one YAML document to JSON. Duplicate keys are an error
// (Envoy would silently take one of them).
func YAMLToJSON(y []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		return nil, fmt.Errorf("configs: yaml: %w", err)
	}
	if v == nil {
		return nil, errors.New("configs: yaml: empty document")
	}
	v, err := jsonable(v, "")
	if err != nil {
		return nil, err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("configs: yaml to json: %w", err)
	}
	return j, nil
}

// jsonable turns the map[any]any that YAML may produce into map[string]any.
func jsonable(v any, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := jsonable(e, path+"."+k)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("configs: yaml: key %v at %s is not a string", k, path)
			}
			c, err := jsonable(e, path+"."+ks)
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	case []any:
		for i, e := range t {
			c, err := jsonable(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	}
	return v, nil
}
