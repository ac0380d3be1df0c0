package k8s_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/proxide/proxide/envoy/configs"
)

// crd is a custom resource whose spec is decoded separately.
type crd struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       json.RawMessage   `json:"spec"`
}

// kustomization is the part of kustomization.yaml we use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
}

// loadDir decodes every YAML document of dir (strictly, as crd), checks that
// kustomization.yaml lists every file, and returns the docs by kind/name.
func loadDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	var k kustomization
	require.NoError(t, yaml.UnmarshalStrict(readFile(t, filepath.Join(dir, "kustomization.yaml")), &k))
	require.Equal(t, "Kustomization", k.Kind)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	var want []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			want = append(want, filepath.Base(f))
		}
	}
	require.ElementsMatch(t, want, k.Resources, "%s/kustomization.yaml lists every manifest", dir)

	docs := map[string][]byte{}
	for _, f := range want {
		for _, doc := range splitDocs(readFile(t, filepath.Join(dir, f))) {
			var c crd
			require.NoError(t, yaml.UnmarshalStrict(doc, &c), f)
			require.NotEmpty(t, c.APIVersion, f)
			require.NotEmpty(t, c.Metadata.Name, f)
			require.NotEmpty(t, c.Spec, "%s: %s has a spec", f, c.Kind)
			docs[c.Kind+"/"+c.Metadata.Name] = doc
		}
	}
	return docs
}

// specOf decodes an Istio spec strictly with the Istio API's protos.
func specOf(t *testing.T, doc []byte, m proto.Message) crd {
	t.Helper()
	var c crd
	require.NoError(t, yaml.UnmarshalStrict(doc, &c))
	require.NoError(t, protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(c.Spec, m), "%s %s spec", c.Kind, c.Metadata.Name)
	return c
}

// sidecarExtProc is the reference ext_proc filter and route.
func sidecarExtProc(t *testing.T) (*extprocv3.ExternalProcessor, *routev3.Route) {
	t.Helper()
	bs, err := configs.Load(configs.Sidecar)
	require.NoError(t, err)
	l, err := configs.Listener(bs, "openai")
	require.NoError(t, err)
	h, err := configs.HCM(l)
	require.NoError(t, err)
	ep, err := configs.ExtProc(h)
	require.NoError(t, err)
	r, err := configs.Route(h, "openai_v1")
	require.NoError(t, err)
	return ep, r
}

// chartGRPC returns the chart's default ext_proc Service name and port.
func chartGRPC(t *testing.T) (string, int32) {
	t.Helper()
	r := mustRender(t, "")
	svc := one[corev1.Service](t, r.objs, releaseName)
	for _, p := range svc.Spec.Ports {
		if p.Name == "grpc" {
			return svc.Name, p.Port
		}
	}
	t.Fatal("chart Service has no grpc port")
	return "", 0
}

func TestIstioExample(t *testing.T) {
	docs := loadDir(t, "mesh/istio")
	svcName, grpcPort := chartGRPC(t)
	wantEP, wantRoute := sidecarExtProc(t)

	se := &networkingv1alpha3.ServiceEntry{}
	c := specOf(t, docs["ServiceEntry/openai"], se)
	require.Equal(t, "networking.istio.io/v1", c.APIVersion)
	require.Equal(t, []string{"api.openai.com"}, se.GetHosts())
	require.Equal(t, networkingv1alpha3.ServiceEntry_MESH_EXTERNAL, se.GetLocation())
	require.Equal(t, networkingv1alpha3.ServiceEntry_DNS, se.GetResolution())
	require.Len(t, se.GetPorts(), 1, "only the plain-HTTP port: no way around Proxide")
	port := se.GetPorts()[0]
	require.Equal(t, "HTTP", port.GetProtocol())
	require.EqualValues(t, 443, port.GetTargetPort())

	dr := &networkingv1alpha3.DestinationRule{}
	c = specOf(t, docs["DestinationRule/openai"], dr)
	require.Equal(t, "networking.istio.io/v1", c.APIVersion)
	require.Equal(t, "api.openai.com", dr.GetHost())
	pls := dr.GetTrafficPolicy().GetPortLevelSettings()
	require.Len(t, pls, 1)
	require.Equal(t, port.GetNumber(), pls[0].GetPort().GetNumber())
	tls := pls[0].GetTls()
	require.Equal(t, networkingv1alpha3.ClientTLSSettings_SIMPLE, tls.GetMode(), "TLS origination")
	require.Equal(t, "api.openai.com", tls.GetSni())
	require.Equal(t, []string{"api.openai.com"}, tls.GetSubjectAltNames())

	ef := &networkingv1alpha3.EnvoyFilter{}
	c = specOf(t, docs["EnvoyFilter/proxide-ext-proc"], ef)
	require.Equal(t, "networking.istio.io/v1alpha3", c.APIVersion)
	require.NotEmpty(t, ef.GetWorkloadSelector().GetLabels(), "only opted-in workloads")
	patches := ef.GetConfigPatches()
	require.Len(t, patches, 3)

	fp := patches[0]
	require.Equal(t, networkingv1alpha3.EnvoyFilter_HTTP_FILTER, fp.GetApplyTo())
	require.Equal(t, networkingv1alpha3.EnvoyFilter_SIDECAR_OUTBOUND, fp.GetMatch().GetContext())
	require.Equal(t, port.GetNumber(), fp.GetMatch().GetListener().GetPortNumber())
	require.Equal(t, configs.RouterFilter, fp.GetMatch().GetListener().GetFilterChain().GetFilter().GetSubFilter().GetName())
	require.Equal(t, networkingv1alpha3.EnvoyFilter_Patch_INSERT_BEFORE, fp.GetPatch().GetOperation())
	hf := &hcmv3.HttpFilter{}
	require.NoError(t, configs.Unmarshal(structJSON(t, fp.GetPatch().GetValue()), hf), "the patch is a valid Envoy HttpFilter")
	require.Equal(t, configs.ExtProcFilter, hf.GetName())
	require.True(t, hf.GetDisabled(), "off except on the OpenAI virtual host")
	ep := &extprocv3.ExternalProcessor{}
	require.NoError(t, hf.GetTypedConfig().UnmarshalTo(ep))
	requireSameFilter(t, wantEP, ep)
	require.Equal(t, fmt.Sprintf("outbound|%d||%s.%s.svc.cluster.local", grpcPort, svcName, releaseNS),
		ep.GetGrpcService().GetEnvoyGrpc().GetClusterName(), "Istio's cluster of the chart's Service")

	vp := patches[1]
	require.Equal(t, networkingv1alpha3.EnvoyFilter_VIRTUAL_HOST, vp.GetApplyTo())
	require.Equal(t, fmt.Sprintf("api.openai.com:%d", port.GetNumber()), vp.GetMatch().GetRouteConfiguration().GetVhost().GetName())
	require.Equal(t, networkingv1alpha3.EnvoyFilter_Patch_MERGE, vp.GetPatch().GetOperation())
	vh := &routev3.VirtualHost{} // a partial VirtualHost (MERGE): decoded strictly, its Anys validated
	require.NoError(t, protojson.Unmarshal(structJSON(t, vp.GetPatch().GetValue()), vh))
	require.Equal(t, wantRoute.GetRequestBodyBufferLimit().GetValue(), vh.GetRequestBodyBufferLimit().GetValue())
	require.Contains(t, vh.GetRequestHeadersToRemove(), "accept-encoding")
	per, ok := vh.GetTypedPerFilterConfig()[configs.ExtProcFilter]
	require.True(t, ok, "the virtual host enables the filter")
	require.NoError(t, configs.Validate(per))
	pr := &extprocv3.ExtProcPerRoute{}
	require.NoError(t, per.UnmarshalTo(pr))
	require.False(t, pr.GetDisabled())
	require.NotNil(t, pr.GetOverrides())

	// Path normalisation on the connection manager the filter runs in.
	np := patches[2]
	require.Equal(t, networkingv1alpha3.EnvoyFilter_NETWORK_FILTER, np.GetApplyTo())
	require.Equal(t, networkingv1alpha3.EnvoyFilter_SIDECAR_OUTBOUND, np.GetMatch().GetContext())
	require.Equal(t, fp.GetMatch().GetListener().GetPortNumber(), np.GetMatch().GetListener().GetPortNumber(), "the listener the ext_proc filter is in")
	require.Equal(t, configs.HCMFilter, np.GetMatch().GetListener().GetFilterChain().GetFilter().GetName())
	require.Equal(t, networkingv1alpha3.EnvoyFilter_Patch_MERGE, np.GetPatch().GetOperation())
	nf := &listenerv3.Filter{} // a partial HCM (MERGE): decoded strictly, not validated
	require.NoError(t, protojson.Unmarshal(structJSON(t, np.GetPatch().GetValue()), nf))
	require.Equal(t, configs.HCMFilter, nf.GetName())
	hcm := &hcmv3.HttpConnectionManager{}
	require.NoError(t, nf.GetTypedConfig().UnmarshalTo(hcm))
	require.NoError(t, configs.CheckHCMPathHandling(hcm), "Envoy normalises paths in front of Proxide (defence in depth)")
}

func structJSON(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := protojson.Marshal(m)
	require.NoError(t, err)
	return b
}

// requireSameFilter: the mesh's ext_proc filter behaves as the reference.
func requireSameFilter(t *testing.T, want, got *extprocv3.ExternalProcessor) {
	t.Helper()
	require.True(t, proto.Equal(want.GetProcessingMode(), got.GetProcessingMode()), "processing_mode: got %v", got.GetProcessingMode())
	require.Equal(t, want.GetAllowModeOverride(), got.GetAllowModeOverride())
	require.Equal(t, want.GetFailureModeAllow(), got.GetFailureModeAllow())
	require.Equal(t, want.GetMessageTimeout().AsDuration(), got.GetMessageTimeout().AsDuration())
	require.Equal(t, want.GetMaxMessageTimeout().AsDuration(), got.GetMaxMessageTimeout().AsDuration())
}

// Envoy Gateway's own CRDs, mirrored for the fields the example uses;
// strict decoding rejects anything else (Gateway API objects use the
// upstream Go types instead).
type egTargetRef struct {
	Group string `json:"group"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
}

type egBackend struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Endpoints []struct {
			FQDN *struct {
				Hostname string `json:"hostname"`
				Port     int32  `json:"port"`
			} `json:"fqdn"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type egExtensionPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		TargetRefs []egTargetRef `json:"targetRefs"`
		ExtProc    []struct {
			BackendRefs []struct {
				Name string `json:"name"`
				Port int32  `json:"port"`
			} `json:"backendRefs"`
			ProcessingMode struct {
				Request           *struct{ Body string } `json:"request"`
				Response          *struct{ Body string } `json:"response"`
				AllowModeOverride bool                   `json:"allowModeOverride"`
			} `json:"processingMode"`
			MessageTimeout string `json:"messageTimeout"`
			FailOpen       *bool  `json:"failOpen"`
		} `json:"extProc"`
	} `json:"spec"`
}

type egClientTrafficPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		TargetRefs []egTargetRef `json:"targetRefs"`
		Connection struct {
			BufferLimit resource.Quantity `json:"bufferLimit"`
		} `json:"connection"`
		Timeout struct {
			HTTP struct {
				StreamIdleTimeout string `json:"streamIdleTimeout"`
			} `json:"http"`
		} `json:"timeout"`
		Path *struct {
			EscapedSlashesAction string `json:"escapedSlashesAction"`
			DisableMergeSlashes  *bool  `json:"disableMergeSlashes"`
		} `json:"path"`
	} `json:"spec"`
}

// egBodyMode maps Envoy's body modes to Envoy Gateway's names.
var egBodyMode = map[extprocv3.ProcessingMode_BodySendMode]string{
	extprocv3.ProcessingMode_BUFFERED: "Buffered",
	extprocv3.ProcessingMode_STREAMED: "Streamed",
}

func strict[T any](t *testing.T, doc []byte) *T {
	t.Helper()
	v := new(T)
	require.NoError(t, yaml.UnmarshalStrict(doc, v), "%T", v)
	return v
}

func TestEnvoyGatewayExample(t *testing.T) {
	docs := loadDir(t, "mesh/envoy-gateway")
	svcName, grpcPort := chartGRPC(t)
	wantEP, wantRoute := sidecarExtProc(t)

	gw := strict[gwapiv1.Gateway](t, docs["Gateway/proxide-gateway"])
	require.Equal(t, "gateway.networking.k8s.io/v1", gw.APIVersion)
	require.EqualValues(t, "eg", gw.Spec.GatewayClassName)
	require.Len(t, gw.Spec.Listeners, 1)

	be := strict[egBackend](t, docs["Backend/openai"])
	require.Equal(t, "gateway.envoyproxy.io/v1alpha1", be.APIVersion)
	require.Equal(t, "api.openai.com", be.Spec.Endpoints[0].FQDN.Hostname)
	require.EqualValues(t, 443, be.Spec.Endpoints[0].FQDN.Port)

	tp := strict[gwapiv1.BackendTLSPolicy](t, docs["BackendTLSPolicy/openai-tls"])
	require.Equal(t, "gateway.networking.k8s.io/v1", tp.APIVersion)
	require.EqualValues(t, "Backend", tp.Spec.TargetRefs[0].Kind)
	require.EqualValues(t, be.Name, tp.Spec.TargetRefs[0].Name)
	require.EqualValues(t, "api.openai.com", tp.Spec.Validation.Hostname, "SNI and the certificate check")
	require.NotNil(t, tp.Spec.Validation.WellKnownCACertificates)
	require.EqualValues(t, "System", *tp.Spec.Validation.WellKnownCACertificates)

	rt := strict[gwapiv1.HTTPRoute](t, docs["HTTPRoute/openai"])
	require.EqualValues(t, gw.Name, rt.Spec.ParentRefs[0].Name)
	rule := rt.Spec.Rules[0]
	require.Equal(t, "/openai/v1", *rule.Matches[0].Path.Value)
	var rewrite *gwapiv1.HTTPURLRewriteFilter
	var removed []string
	for _, f := range rule.Filters {
		if f.URLRewrite != nil {
			rewrite = f.URLRewrite
		}
		if f.RequestHeaderModifier != nil {
			removed = f.RequestHeaderModifier.Remove
		}
	}
	require.NotNil(t, rewrite)
	require.Equal(t, "/v1", *rewrite.Path.ReplacePrefixMatch)
	require.EqualValues(t, "api.openai.com", *rewrite.Hostname)
	require.Contains(t, removed, "accept-encoding")
	require.EqualValues(t, "Backend", *rule.BackendRefs[0].Kind)
	require.EqualValues(t, be.Name, rule.BackendRefs[0].Name)
	require.EqualValues(t, "0s", *rule.Timeouts.Request, "no deadline on whole responses (SSE)")

	eep := strict[egExtensionPolicy](t, docs["EnvoyExtensionPolicy/proxide"])
	require.Equal(t, "gateway.envoyproxy.io/v1alpha1", eep.APIVersion)
	require.Equal(t, egTargetRef{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute", Name: rt.Name}, eep.Spec.TargetRefs[0])
	xp := eep.Spec.ExtProc[0]
	require.Equal(t, svcName, xp.BackendRefs[0].Name, "the chart's Service")
	require.Equal(t, grpcPort, xp.BackendRefs[0].Port)
	mode := wantEP.GetProcessingMode()
	require.Equal(t, extprocv3.ProcessingMode_SEND, mode.GetRequestHeaderMode(), "EG sends headers when request is present")
	require.Equal(t, egBodyMode[mode.GetRequestBodyMode()], xp.ProcessingMode.Request.Body)
	require.Equal(t, egBodyMode[mode.GetResponseBodyMode()], xp.ProcessingMode.Response.Body)
	require.Equal(t, wantEP.GetAllowModeOverride(), xp.ProcessingMode.AllowModeOverride)
	d, err := time.ParseDuration(xp.MessageTimeout)
	require.NoError(t, err)
	require.Equal(t, wantEP.GetMessageTimeout().AsDuration(), d)
	require.NotNil(t, xp.FailOpen)
	require.Equal(t, wantEP.GetFailureModeAllow(), *xp.FailOpen)

	ctp := strict[egClientTrafficPolicy](t, docs["ClientTrafficPolicy/proxide-gateway"])
	require.Equal(t, gw.Name, ctp.Spec.TargetRefs[0].Name)
	limit := ctp.Spec.Connection.BufferLimit.Value()
	require.GreaterOrEqual(t, uint64(limit), wantRoute.GetRequestBodyBufferLimit().GetValue(), "bodies as large as the sidecar's fit")
	require.Less(t, limit, int64(16<<20), "below Proxide's gRPC message limit")

	// Path normalisation, as in envoy/configs (defence in depth): Envoy
	// Gateway always sets normalize_path; slashes merged (the default, said
	// explicitly), escaped slashes rejected (the default would redirect).
	require.NotNil(t, ctp.Spec.Path, "ClientTrafficPolicy.spec.path")
	require.Equal(t, "RejectRequest", ctp.Spec.Path.EscapedSlashesAction)
	require.NotNil(t, ctp.Spec.Path.DisableMergeSlashes, "say disableMergeSlashes: false explicitly")
	require.False(t, *ctp.Spec.Path.DisableMergeSlashes)
}

// TestMeshReadmeNamesEveryExample keeps the "which one to choose" page in
// step with the directories.
func TestMeshReadmeNamesEveryExample(t *testing.T) {
	readme := string(readFile(t, "README.md"))
	for _, dir := range []string{"manifests/sidecar", "helm/proxide", "mesh/istio", "mesh/envoy-gateway"} {
		_, err := os.Stat(dir)
		require.NoError(t, err)
		require.Contains(t, readme, dir, "k8s/README.md does not mention %s", dir)
	}
}
