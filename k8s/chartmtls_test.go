package k8s_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/proxide/proxide/envoy/configs"
	"github.com/proxide/proxide/internal/mtls/mtlstest"
)

const mtlsValues = `mtls: {enabled: true, existingSecret: proxide-grpc-tls, envoyClientSecret: proxide-envoy-tls}
envoy: {enabled: true}
`

// mountedFile is where path is in the container: the Secret volume mounted
// over its directory and the Secret's key for the file's name.
func mountedFile(t *testing.T, spec corev1.PodSpec, c corev1.Container, path string) (secret, key string) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if filepath.Dir(path) != m.MountPath {
			continue
		}
		require.Empty(t, m.SubPath, "a subPath mount is never updated on rotation")
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				for _, it := range v.Secret.Items {
					if it.Path == filepath.Base(path) {
						return v.Secret.SecretName, it.Key
					}
				}
			}
		}
	}
	t.Fatalf("%s is not a file of a mounted Secret", path)
	return "", ""
}

// With mtls.enabled, Proxide serves the ext_proc port from the files of
// mtls.existingSecret, the chart's Envoy presents the certificate of
// mtls.envoyClientSecret and checks Proxide's name, both through files that
// rotate in place; the NetworkPolicy stays.
func TestChartMutualTLS(t *testing.T) {
	r := mustRender(t, mtlsValues)

	cm := one[corev1.ConfigMap](t, r.objs, releaseName)
	cfg, err := parseProxideConfig([]byte(cm.Data["proxide.yaml"]))
	require.NoError(t, err)
	d := one[appsv1.Deployment](t, r.objs, releaseName)
	c := container(t, d.Spec.Template.Spec, "proxide")
	for path, key := range map[string]string{cfg.Listen.TLS.CertFile: "tls.crt", cfg.Listen.TLS.KeyFile: "tls.key", cfg.Listen.TLS.ClientCAFile: "ca.crt"} {
		secret, k := mountedFile(t, d.Spec.Template.Spec, c, path)
		require.Equal(t, "proxide-grpc-tls", secret)
		require.Equal(t, key, k)
	}
	require.NotNil(t, c.StartupProbe.HTTPGet, "kubelet's gRPC probe cannot present a client certificate")
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)

	ecm := one[corev1.ConfigMap](t, r.objs, releaseName+"-envoy")
	bs, err := configs.ParseBootstrap([]byte(ecm.Data["envoy.yaml"]))
	require.NoError(t, err)
	require.NoError(t, configs.CheckReferences(bs))
	cl, err := configs.Cluster(bs, "proxide_ext_proc")
	require.NoError(t, err)
	tc, err := configs.UpstreamTLS(cl)
	require.NoError(t, err)
	require.NotNil(t, tc, "the ext_proc cluster speaks TLS")
	const name = "proxide-grpc.proxide.svc.cluster.local"
	require.Equal(t, name, tc.GetSni())
	ctx := tc.GetCommonTlsContext()
	require.Equal(t, []string{"h2"}, ctx.GetAlpnProtocols())
	sans := ctx.GetCombinedValidationContext().GetDefaultValidationContext().GetMatchTypedSubjectAltNames()
	require.Len(t, sans, 1)
	require.Equal(t, name, sans[0].GetMatcher().GetExact(), "Envoy checks it talks to Proxide")

	// The SDS file holds the client certificate and the CA the cluster names.
	sdsPath := ctx.GetTlsCertificateSdsSecretConfigs()[0].GetSdsConfig().GetPathConfigSource().GetPath()
	require.Equal(t, sdsPath, ctx.GetCombinedValidationContext().GetValidationContextSdsSecretConfig().GetSdsConfig().GetPathConfigSource().GetPath())
	ed := one[appsv1.Deployment](t, r.objs, releaseName+"-envoy")
	ec := container(t, ed.Spec.Template.Spec, "envoy")
	require.Equal(t, "/etc/envoy/"+filepath.Base(sdsPath), sdsPath, "the SDS file is in the mounted ConfigMap")
	secrets := sdsSecrets(t, []byte(ecm.Data[filepath.Base(sdsPath)]))
	client := secrets[ctx.GetTlsCertificateSdsSecretConfigs()[0].GetName()]
	require.NotNil(t, client)
	ca := secrets[ctx.GetCombinedValidationContext().GetValidationContextSdsSecretConfig().GetName()]
	require.NotNil(t, ca)
	for path, key := range map[string]string{
		client.GetTlsCertificate().GetCertificateChain().GetFilename(): "tls.crt",
		client.GetTlsCertificate().GetPrivateKey().GetFilename():       "tls.key",
		ca.GetValidationContext().GetTrustedCa().GetFilename():         "ca.crt",
	} {
		secret, k := mountedFile(t, ed.Spec.Template.Spec, ec, path)
		require.Equal(t, "proxide-envoy-tls", secret)
		require.Equal(t, key, k)
	}
	require.NotEmpty(t, client.GetTlsCertificate().GetWatchedDirectory().GetPath(), "a rotated Secret is picked up")
	require.NotEmpty(t, ca.GetValidationContext().GetWatchedDirectory().GetPath())

	_, ok := objectsOf[networkingv1.NetworkPolicy](r.objs)[releaseName]
	require.True(t, ok, "mTLS adds to the NetworkPolicy, it does not replace it")

	// Without mtls the gateway has no TLS to Proxide and proxide.yaml no listen.tls.
	r = mustRender(t, "envoy: {enabled: true}")
	bs, err = configs.ParseBootstrap([]byte(one[corev1.ConfigMap](t, r.objs, releaseName+"-envoy").Data["envoy.yaml"]))
	require.NoError(t, err)
	cl, _ = configs.Cluster(bs, "proxide_ext_proc")
	require.Nil(t, cl.GetTransportSocket())
	cfg, err = parseProxideConfig([]byte(one[corev1.ConfigMap](t, r.objs, releaseName).Data["proxide.yaml"]))
	require.NoError(t, err)
	require.Empty(t, cfg.Listen.TLS.CertFile)

	r = mustRender(t, "mtls: {enabled: true, existingSecret: a, envoyClientSecret: b, serverName: proxide.internal.example}\nenvoy: {enabled: true}\n")
	bs, err = configs.ParseBootstrap([]byte(one[corev1.ConfigMap](t, r.objs, releaseName+"-envoy").Data["envoy.yaml"]))
	require.NoError(t, err)
	cl, _ = configs.Cluster(bs, "proxide_ext_proc")
	tc, _ = configs.UpstreamTLS(cl)
	require.Equal(t, "proxide.internal.example", tc.GetSni())
}

func TestChartRefusesIncompleteMutualTLS(t *testing.T) {
	for name, tt := range map[string]struct{ values, want string }{
		"no server secret":      {"mtls: {enabled: true}", "mtls.existingSecret"},
		"no envoy client cert":  {"mtls: {enabled: true, existingSecret: s}\nenvoy: {enabled: true}", "mtls.envoyClientSecret"},
		"grpc readiness probe":  {"mtls: {enabled: true, existingSecret: s}\nprobes: {readiness: grpc}", "probes.readiness=grpc"},
		"misspelled mtls value": {"mtls: {enable: true}", "additional properties 'enable'"},
		"bound key with a star": {`keys: [{name: a, sha256: "` + hashOf("x") + `", scopes: [gateway], client_ids: ["*"]}]` + "\nupstream: {existingSecret: o}", "client_ids"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := render(tt.values)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// sdsSecrets decodes an SDS file (a DiscoveryResponse of tls Secrets)
// strictly and validates every Secret, by name.
func sdsSecrets(t *testing.T, y []byte) map[string]*tlsv3.Secret {
	t.Helper()
	j, err := configs.YAMLToJSON(y)
	require.NoError(t, err)
	var doc struct {
		Resources []map[string]any `json:"resources"`
	}
	require.NoError(t, json.Unmarshal(j, &doc))
	out := map[string]*tlsv3.Secret{}
	for _, res := range doc.Resources {
		require.Equal(t, "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", res["@type"])
		delete(res, "@type")
		b, err := json.Marshal(res)
		require.NoError(t, err)
		var s tlsv3.Secret
		require.NoError(t, configs.Unmarshal(b, &s))
		out[s.GetName()] = &s
	}
	return out
}

// withTestCerts points a rendered proxide.yaml's listen.tls at certificates
// made for the test, so the real binary can start with it.
func withTestCerts(t *testing.T, cfg []byte) []byte {
	t.Helper()
	const mount = "/etc/proxide-tls/"
	if !bytes.Contains(cfg, []byte(mount)) {
		return cfg
	}
	ca := mtlstest.NewCA(t, "chart")
	dir := t.TempDir()
	mtlstest.WriteServerFiles(t, dir, ca.Server(t), ca)
	_, err := os.Stat(filepath.Join(dir, "ca.crt"))
	require.NoError(t, err)
	return bytes.ReplaceAll(cfg, []byte(mount), []byte(dir+"/"))
}
