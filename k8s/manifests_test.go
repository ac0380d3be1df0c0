package k8s_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/proxide/proxide/envoy/configs"
)

const sidecarDir = "manifests/sidecar"

// sidecarManifests decodes every file of the sidecar example strictly.
func sidecarManifests(t *testing.T) ([]object, map[string][]byte) {
	t.Helper()
	var k kustomization
	require.NoError(t, yaml.UnmarshalStrict(readFile(t, filepath.Join(sidecarDir, "kustomization.yaml")), &k))
	files, err := filepath.Glob(filepath.Join(sidecarDir, "*.yaml"))
	require.NoError(t, err)
	var objs []object
	raw := map[string][]byte{}
	var listed []string
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		listed = append(listed, filepath.Base(f))
		b := readFile(t, f)
		raw[f] = b
		o, err := decodeStrict(f, b)
		require.NoError(t, err)
		objs = append(objs, o...)
	}
	require.ElementsMatch(t, listed, k.Resources, "kustomization.yaml lists every manifest")
	return objs, raw
}

// sidecarProxideConfig is the example's proxide.yaml with the key
// placeholder replaced, as a user does before applying it.
func sidecarProxideConfig(t *testing.T, objs []object) []byte {
	t.Helper()
	cm := one[corev1.ConfigMap](t, objs, "my-agent-proxide")
	cfg := cm.Data["proxide.yaml"]
	require.Contains(t, cfg, "REPLACE_WITH_SHA256_OF_THE_APP_KEY", "the docs' sed step relies on this placeholder")
	return []byte(strings.Replace(cfg, "REPLACE_WITH_SHA256_OF_THE_APP_KEY", hashOf("prox-example-app"), 1))
}

func TestSidecarManifests(t *testing.T) {
	objs, raw := sidecarManifests(t)
	checkMetadata(t, objs)
	checkNoInlineSecrets(t, objs, raw)
	cms := map[string]bool{}
	for n := range objectsOf[corev1.ConfigMap](objs) {
		cms[n] = true
	}
	for n, s := range objectsOf[appsv1.StatefulSet](objs) {
		var claims []string
		for _, c := range s.Spec.VolumeClaimTemplates {
			claims = append(claims, c.Name)
		}
		checkPodSpec(t, "StatefulSet/"+n, s.Spec.Template.Spec, cms, claims...)
		require.Contains(t, strings.Join(s.Spec.Template.Spec.Containers[0].Args, " "), "--appendonly yes")
	}

	d := one[appsv1.Deployment](t, objs, "my-agent")
	spec := d.Spec.Template.Spec
	checkPodSpec(t, "Deployment/my-agent", spec, cms)
	require.True(t, selects(t, d.Spec.Selector, d.Spec.Template.Labels))

	// Native sidecars, Proxide first: Envoy starts once Proxide's startup
	// probe passes, and both outlive the app at shutdown.
	require.Len(t, spec.InitContainers, 2)
	for i, name := range []string{"proxide", "envoy"} {
		c := spec.InitContainers[i]
		require.Equal(t, name, c.Name)
		require.NotNil(t, c.RestartPolicy, "%s is a native sidecar", name)
		require.Equal(t, corev1.ContainerRestartPolicyAlways, *c.RestartPolicy)
		require.NotNil(t, c.StartupProbe, "%s: the next container waits for its startup probe", name)
	}

	// Envoy's bootstrap is envoy/configs/sidecar.yaml, unchanged.
	want, err := configs.Load(configs.Sidecar)
	require.NoError(t, err)
	got, err := configs.ParseBootstrap([]byte(one[corev1.ConfigMap](t, objs, "my-agent-envoy").Data["envoy.yaml"]))
	require.NoError(t, err)
	require.True(t, proto.Equal(want, got), "envoy-config.yaml differs from envoy/configs/sidecar.yaml")
	require.NoError(t, configs.CheckPathHandling(got), "Envoy normalises paths in front of Proxide (defence in depth)")

	// Proxide's config: strict keys, ext_proc on loopback at the port Envoy
	// dials, admin on the declared container port, the key from a Secret file.
	cfg, err := parseProxideConfig(sidecarProxideConfig(t, objs))
	require.NoError(t, err)
	px := container(t, spec, "proxide")
	require.True(t, strings.HasPrefix(cfg.Listen.GRPC, "127.0.0.1:"), "ext_proc replies carry the OpenAI key: loopback only")
	epc, err := configs.Cluster(want, "proxide_ext_proc")
	require.NoError(t, err)
	require.EqualValues(t, epc.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue(),
		listenPort(t, cfg.Listen.GRPC), "Envoy's ext_proc cluster dials listen.grpc")
	admin, ok := containerPort(px, "admin")
	require.True(t, ok)
	require.Equal(t, admin, listenPort(t, cfg.Listen.Admin))
	require.Empty(t, cfg.Store.RedisURL)
	require.NotNil(t, cfg.LoopDetection, "loop_detection is spelled out, so users see what they can tune")
	require.Equal(t, proxideLoopDefaults(t), loopSection(t, sidecarProxideConfig(t, objs)), "the example's loop_detection is Proxide's defaults")
	var evalOff bool
	for _, r := range cfg.Budgets.Rules {
		evalOff = evalOff || r.LoopDetection != nil && r.LoopDetection.Mode == "off"
	}
	require.True(t, evalOff, "the example shows a per-rule loop_detection override")
	require.Equal(t, "/readyz", px.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, "/healthz", px.LivenessProbe.HTTPGet.Path)
	var redisFromSecret bool
	for _, e := range px.Env {
		redisFromSecret = redisFromSecret || (e.Name == "PROXIDE_STORE_REDIS_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil)
	}
	require.True(t, redisFromSecret, "the Redis URL comes from a Secret")
	mounted := false
	for _, m := range px.VolumeMounts {
		mounted = mounted || strings.HasPrefix(cfg.Upstream.APIKeyFile, m.MountPath+"/") && m.Name == "openai"
	}
	require.True(t, mounted, "upstream.api_key_file lies in the mounted Secret")

	// Envoy: probes on the health listener, drain before exit, and the app
	// pointed at Envoy's loopback listener.
	ev := container(t, spec, "envoy")
	hl, err := configs.Listener(want, "health")
	require.NoError(t, err)
	hp, ok := containerPort(ev, "health")
	require.True(t, ok)
	require.EqualValues(t, hl.GetAddress().GetSocketAddress().GetPortValue(), hp)
	pre := strings.Join(ev.Lifecycle.PreStop.Exec.Command, " ")
	require.Contains(t, pre, "/drain_listeners?graceful")
	ol, err := configs.Listener(want, "openai")
	require.NoError(t, err)
	app := container(t, spec, "app")
	var baseURL string
	for _, e := range app.Env {
		if e.Name == "OPENAI_BASE_URL" {
			baseURL = e.Value
		}
	}
	sa := ol.GetAddress().GetSocketAddress()
	require.Equal(t, "http://"+sa.GetAddress()+":"+strconv.FormatUint(uint64(sa.GetPortValue()), 10)+"/openai/v1", baseURL)
	require.Greater(t, *spec.TerminationGracePeriodSeconds, int64(30+15), "Proxide's drain plus Envoy's")

	// Every Secret the Deployment reads is one docs/deploy.md tells users to create.
	deploy := string(readFile(t, "../docs/deploy.md"))
	for _, s := range secretNames(spec) {
		require.Contains(t, deploy, "secret generic "+s, "docs/deploy.md creates Secret %s", s)
	}
}

// secretNames lists the Secrets a Pod reads (volumes and env).
func secretNames(spec corev1.PodSpec) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			add(v.Secret.SecretName)
		}
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				add(e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	return out
}

// TestKustomizeBuilds runs `kubectl kustomize` (offline) on every example
// directory when kubectl is installed, and decodes its output strictly.
func TestKustomizeBuilds(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not on PATH: kustomize builds not checked (the files are decoded directly by the other tests)")
	}
	for _, dir := range []string{sidecarDir, "mesh/istio", "mesh/envoy-gateway"} {
		t.Run(dir, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), kubectl, "kustomize", dir).CombinedOutput()
			require.NoError(t, err, "%s", out)
			docs := splitDocs(out)
			require.NotEmpty(t, docs)
			if dir == sidecarDir {
				_, err := decodeStrict(dir, out)
				require.NoError(t, err)
			}
		})
	}
}

// TestRenderedConfigsStartProxide: every proxide.yaml we ship (each chart
// value set, the sidecar example) is accepted by the real `proxide serve`,
// which rejects unknown keys and validates rules, keys, time zones and prices.
func TestRenderedConfigsStartProxide(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts proxide")
	}
	bin := buildProxide(t)
	requireStatic(t, bin)
	for name, values := range chartCases() {
		r := mustRender(t, values)
		cm, ok := objectsOf[corev1.ConfigMap](r.objs)[releaseName]
		if !ok {
			continue // config.existingSecret: nothing rendered
		}
		t.Run("chart/"+name, func(t *testing.T) { startsWith(t, bin, withTestCerts(t, []byte(cm.Data["proxide.yaml"]))) })
	}
	objs, _ := sidecarManifests(t)
	t.Run("sidecar", func(t *testing.T) { startsWith(t, bin, sidecarProxideConfig(t, objs)) })
	for name, tt := range proxideRefusals() {
		cm := one[corev1.ConfigMap](t, mustRender(t, tt.values).objs, releaseName)
		t.Run("refused/"+name, func(t *testing.T) {
			require.Contains(t, refusedBy(t, bin, []byte(cm.Data["proxide.yaml"])), tt.want)
		})
	}
}
