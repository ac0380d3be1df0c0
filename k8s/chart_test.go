package k8s_test

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/proxide/proxide/envoy/configs"
)

func hashOf(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}

// chartCases are the value sets every invariant is checked on.
func chartCases() map[string]string {
	keys := `keys:
  - {name: app, sha256: "` + hashOf("prox-example-app") + `", scopes: [gateway]}
  - {name: ops, sha256: "` + strings.ToUpper(hashOf("prox-example-ops")) + `", scopes: [admin]}
upstream: {existingSecret: proxide-openai}
`
	return map[string]string{ //nolint:gosec // G101: Helm test values; the only key material is the SHA-256 of made-up example keys
		"defaults": "",
		"keys and rules": keys + `
budgets:
  timezone: Europe/Berlin
  default: {daily_limit_usd: 2, action: alert, alert_thresholds: [0.5, 1.0]}
  rules:
    - {client_id: user-12345, daily_limit_usd: 0.5, monthly_limit_usd: 5}
    - {match: "trial-*", daily_limit_usd: 0.05, action: alert}
pricing:
  custom:
    my-finetune: {input_per_mtok: 3, output_per_mtok: 12, cached_input_per_mtok: 1.5}
`,
		"external redis url": keys + `
redis: {mode: external, external: {url: "redis-sentinel://sentinel-0.redis:26379,sentinel-1.redis:26379?master_name=mymaster"}}
networkPolicy: {redisEgress: {ports: [26379, 6379], to: [{ipBlock: {cidr: 10.0.0.0/8}}]}}
`,
		"external redis secret": keys + `
redis: {mode: external, external: {existingSecret: proxide-redis}}
store: {failureMode: open}
probes: {readiness: grpc}
`,
		"ha": keys + `
autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 12, targetMemoryUtilizationPercentage: 80}
pdb: {enabled: true, minAvailable: 2}
topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway,
     labelSelector: {matchLabels: {app.kubernetes.io/component: proxide}}}
redis: {bundled: {auth: {existingSecret: proxide-redis-auth}}}
`,
		"memory, observability, no network policy": `
replicaCount: 1
redis: {mode: memory}
networkPolicy: {enabled: false}
serviceMonitor: {enabled: true, labels: {release: kube-prometheus}}
config: {log: {level: debug, format: text}, clientId: {default: anonymous, strip: false}}
`,
		"gateway": keys + `
envoy: {enabled: true, pdb: {enabled: true}, service: {type: LoadBalancer, port: 8080}}
networkPolicy: {adminFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}],
                gatewayFrom: [{namespaceSelector: {matchLabels: {proxide.io/client: "true"}}}]}
serviceMonitor: {enabled: true}
redis: {bundled: {persistence: {enabled: false}}}
`,
		"loop detection customised": keys + `
loopDetection: {enabled: true, window: 2m, maxRepeats: 8, similarity: 0.85, cooldown: 15m, action: alert, status: 503}
budgets:
  default: {daily_limit_usd: 1, loop_detection: {mode: block, cooldown: 1m}}
  rules:
    - {match: "eval-*", daily_limit_usd: 5, loop_detection: {mode: "off"}}
    - {client_id: agent-7, loop_detection: {mode: block, window: 30s, max_repeats: 3, similarity: 0.95, cooldown: 10m}}
    - {match: "user-*", monthly_limit_usd: 5}
`,
		"loop detection disabled": keys + `
loopDetection: {enabled: false}
budgets:
  rules:
    - {client_id: agent-7, loop_detection: {mode: alert}}
`,
		"mtls, bound keys": `keys:
  - {name: tenant-a, sha256: "` + hashOf("prox-example-tenant") + `", scopes: [gateway], client_ids: ["tenant-a-*", user-12345]}
upstream: {existingSecret: proxide-openai}
mtls: {enabled: true, existingSecret: proxide-grpc-tls, envoyClientSecret: proxide-envoy-tls}
envoy: {enabled: true}
`,
		"mesh peers, config from secret": `
config: {existingSecret: proxide-config}
upstream: {existingSecret: proxide-openai}
networkPolicy: {extProcFrom: [{namespaceSelector: {matchLabels: {istio-injection: enabled}}},
                              {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: envoy-gateway-system}}}]}
`,
	}
}

func TestChartRendersStrictly(t *testing.T) {
	for name, values := range chartCases() {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, values)
			require.NotEmpty(t, r.objs)
			checkMetadata(t, r.objs)
			checkNoInlineSecrets(t, r.objs, r.files)
			checkWorkloads(t, r)
			checkServices(t, r)
			checkProxide(t, r, values)
			checkPolicies(t, r)
			require.Contains(t, r.notes, "Admin API")
		})
	}
}

func TestChartLint(t *testing.T) {
	for _, name := range []string{"defaults", "gateway", "ha"} {
		t.Run(name, func(t *testing.T) { lintChart(t, chartCases()[name]) })
	}
}

// checkWorkloads runs the pod invariants on every Deployment and StatefulSet
// and checks that selectors select their own Pods.
func checkWorkloads(t *testing.T, r rendered) {
	t.Helper()
	cms := map[string]bool{}
	for n := range objectsOf[corev1.ConfigMap](r.objs) {
		cms[n] = true
	}
	for n, d := range objectsOf[appsv1.Deployment](r.objs) {
		require.True(t, selects(t, d.Spec.Selector, d.Spec.Template.Labels), "Deployment %s selects its Pods", n)
		checkPodSpec(t, "Deployment/"+n, d.Spec.Template.Spec, cms)
		require.Regexp(t, `^[0-9a-f]{64}$`, d.Spec.Template.Annotations["checksum/config"], "Deployment %s rolls on config changes", n)
	}
	for n, s := range objectsOf[appsv1.StatefulSet](r.objs) {
		require.True(t, selects(t, s.Spec.Selector, s.Spec.Template.Labels), "StatefulSet %s selects its Pods", n)
		var claims []string
		for _, c := range s.Spec.VolumeClaimTemplates {
			claims = append(claims, c.Name)
		}
		checkPodSpec(t, "StatefulSet/"+n, s.Spec.Template.Spec, cms, claims...)
		args := strings.Join(s.Spec.Template.Spec.Containers[0].Args, " ")
		require.Contains(t, args, "--appendonly yes", "Redis keeps an append-only file")
	}
}

// podTemplates returns every workload's Pod template.
func podTemplates(objs []object) map[string]corev1.PodTemplateSpec {
	out := map[string]corev1.PodTemplateSpec{}
	for n, d := range objectsOf[appsv1.Deployment](objs) {
		out["Deployment/"+n] = d.Spec.Template
	}
	for n, s := range objectsOf[appsv1.StatefulSet](objs) {
		out["StatefulSet/"+n] = s.Spec.Template
	}
	return out
}

// checkServices: each Service selects a workload whose containers have the
// named target ports.
func checkServices(t *testing.T, r rendered) {
	t.Helper()
	pods := podTemplates(r.objs)
	for n, svc := range objectsOf[corev1.Service](r.objs) {
		var matched []corev1.PodTemplateSpec
		for _, p := range pods {
			if len(svc.Spec.Selector) > 0 && subset(svc.Spec.Selector, p.Labels) {
				matched = append(matched, p)
			}
		}
		require.Len(t, matched, 1, "Service %s selects exactly one workload", n)
		for _, sp := range svc.Spec.Ports {
			require.NotEmpty(t, sp.TargetPort.StrVal, "Service %s port %s: target a named port", n, sp.Name)
			found := false
			for _, c := range matched[0].Spec.Containers {
				_, ok := containerPort(c, sp.TargetPort.StrVal)
				found = found || ok
			}
			require.True(t, found, "Service %s: targetPort %q is no container port", n, sp.TargetPort.StrVal)
		}
	}
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkProxide: the rendered proxide.yaml parses strictly, its listen ports
// are the container ports and the Services', the probes are the documented
// ones, and the Redis URL reaches Proxide the documented way.
func checkProxide(t *testing.T, r rendered, values string) {
	t.Helper()
	d := one[appsv1.Deployment](t, r.objs, releaseName)
	c := container(t, d.Spec.Template.Spec, "proxide")
	grpcPort, ok := containerPort(c, "grpc")
	require.True(t, ok)
	adminPort, ok := containerPort(c, "admin")
	require.True(t, ok)

	if cm, ok := objectsOf[corev1.ConfigMap](r.objs)[releaseName]; ok {
		cfg, err := parseProxideConfig([]byte(cm.Data["proxide.yaml"]))
		require.NoError(t, err)
		require.Equal(t, grpcPort, listenPort(t, cfg.Listen.GRPC), "container port grpc = listen.grpc")
		require.Equal(t, adminPort, listenPort(t, cfg.Listen.Admin), "container port admin = listen.admin")
		require.Empty(t, cfg.Store.RedisURL, "the Redis URL comes from the environment, never the ConfigMap")
		for _, k := range cfg.Keys {
			require.Empty(t, k.Key, "plaintext keys never rendered")
			require.Regexp(t, `^[0-9a-f]{64}$`, k.SHA256)
		}
		if len(cfg.Keys) > 0 {
			require.NotEmpty(t, cfg.Upstream.APIKeyFile, "with keys, the OpenAI key is a mounted Secret file")
		}
	} else {
		require.Contains(t, values, "existingSecret: proxide-config", "no ConfigMap only when the config comes from a Secret")
		require.NotNil(t, d.Spec.Template.Spec.Volumes[0].Secret)
	}

	if strings.Contains(values, "mtls: {enabled: true") {
		require.Equal(t, "/healthz", c.StartupProbe.HTTPGet.Path, "kubelet's gRPC probe has no client certificate")
	} else {
		require.NotNil(t, c.StartupProbe.GRPC, "startup: gRPC health of the ext_proc service")
		require.Equal(t, grpcPort, c.StartupProbe.GRPC.Port)
		require.Equal(t, "envoy.service.ext_proc.v3.ExternalProcessor", *c.StartupProbe.GRPC.Service)
	}
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	if strings.Contains(values, "readiness: grpc") {
		require.NotNil(t, c.ReadinessProbe.GRPC)
	} else {
		require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	}

	for _, svc := range objectsOf[corev1.Service](r.objs) {
		for _, sp := range svc.Spec.Ports {
			if sp.TargetPort.StrVal == "grpc" {
				require.Equal(t, grpcPort, sp.Port, "Service %s", svc.Name)
				require.Equal(t, "kubernetes.io/h2c", *sp.AppProtocol, "meshes must speak HTTP/2 to ext_proc")
			}
		}
	}
	headless := one[corev1.Service](t, r.objs, releaseName+"-grpc")
	require.Equal(t, corev1.ClusterIPNone, headless.Spec.ClusterIP)

	var redisURL *corev1.EnvVar
	for i, e := range c.Env {
		if e.Name == "PROXIDE_STORE_REDIS_URL" {
			redisURL = &c.Env[i]
		}
	}
	switch {
	case strings.Contains(values, "mode: memory"):
		require.Nil(t, redisURL)
		require.EqualValues(t, 1, *d.Spec.Replicas)
	case strings.Contains(values, "existingSecret: proxide-redis}"):
		require.NotNil(t, redisURL.ValueFrom.SecretKeyRef)
	case strings.Contains(values, "mode: external"):
		require.True(t, strings.HasPrefix(redisURL.Value, "redis-sentinel://"), redisURL.Value)
	default: // bundled
		redis := one[appsv1.StatefulSet](t, r.objs, releaseName+"-redis")
		require.NotNil(t, redis)
		require.Contains(t, redisURL.Value, "proxide-redis.proxide.svc.cluster.local:6379")
		one[corev1.Service](t, r.objs, releaseName+"-redis")
		require.Equal(t, "wait-for-redis", d.Spec.Template.Spec.InitContainers[0].Name)
	}

	hpas := objectsOf[autoscalingv2.HorizontalPodAutoscaler](r.objs)
	if h, ok := hpas[releaseName]; ok {
		require.Equal(t, "Deployment", h.Spec.ScaleTargetRef.Kind)
		require.Equal(t, d.Name, h.Spec.ScaleTargetRef.Name)
		require.Nil(t, d.Spec.Replicas, "with an HPA the Deployment leaves replicas to it")
	} else {
		require.NotNil(t, d.Spec.Replicas)
	}
	require.Greater(t, *d.Spec.Template.Spec.TerminationGracePeriodSeconds, int64(30), "longer than Proxide's drain (shutdown_timeout 30s)")
}

// checkPolicies: PDBs, NetworkPolicies and ServiceMonitors select real Pods
// and name real ports.
func checkPolicies(t *testing.T, r rendered) {
	t.Helper()
	pods := podTemplates(r.objs)
	selectsSome := func(kind, name string, sel map[string]string) {
		for _, p := range pods {
			if subset(sel, p.Labels) {
				return
			}
		}
		t.Fatalf("%s %s selects no Pod", kind, name)
	}
	for n, p := range objectsOf[policyv1.PodDisruptionBudget](r.objs) {
		selectsSome("PodDisruptionBudget", n, p.Spec.Selector.MatchLabels)
	}
	for n, np := range objectsOf[networkingv1.NetworkPolicy](r.objs) {
		selectsSome("NetworkPolicy", n, np.Spec.PodSelector.MatchLabels)
		require.ElementsMatch(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, np.Spec.PolicyTypes, n)
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				if peer.PodSelector != nil && peer.NamespaceSelector == nil {
					selectsSome("NetworkPolicy peer of", n, peer.PodSelector.MatchLabels)
				}
			}
		}
	}
	if np, ok := objectsOf[networkingv1.NetworkPolicy](r.objs)[releaseName]; ok {
		_, gateway := objectsOf[appsv1.Deployment](r.objs)[releaseName+"-envoy"]
		allowed := false
		for _, rule := range np.Spec.Ingress {
			if rule.Ports[0].Port.IntVal == 50051 {
				allowed = len(rule.From) > 0
			}
		}
		require.Equal(t, gateway || strings.Contains(yamlString(t, np), "istio-injection"), allowed, "ext_proc is reachable only from named Envoys")
	}
	for n, sm := range objectsOf[serviceMonitor](r.objs) {
		selectsSome("ServiceMonitor", n, sm.Spec.Selector.MatchLabels)
		svc := one[corev1.Service](t, r.objs, releaseName)
		found := false
		for _, p := range svc.Spec.Ports {
			found = found || p.Name == sm.Spec.Endpoints[0].Port
		}
		require.True(t, found, "ServiceMonitor port %q", sm.Spec.Endpoints[0].Port)
		require.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
	}
}

func yamlString(t *testing.T, v any) string { return string(yamlBytes(t, v)) }

// TestChartGatewayMatchesFrontProxy: with default values the Envoy gateway's
// rendered bootstrap is exactly envoy/configs/front-proxy.yaml, so the two
// cannot drift; changed values land in the right fields; the Deployment's
// ports, probes and drain follow the config.
func TestChartGatewayMatchesFrontProxy(t *testing.T) {
	want, err := configs.Load(configs.FrontProxy)
	require.NoError(t, err)

	r := mustRender(t, "envoy: {enabled: true}")
	cm := one[corev1.ConfigMap](t, r.objs, releaseName+"-envoy")
	got, err := configs.ParseBootstrap([]byte(cm.Data["envoy.yaml"]))
	require.NoError(t, err)
	require.NoError(t, configs.CheckReferences(got))
	require.True(t, proto.Equal(want, got), "rendered gateway config differs from front-proxy.yaml")
	require.NoError(t, configs.CheckPathHandling(got), "Envoy normalises paths in front of Proxide (defence in depth)")

	d := one[appsv1.Deployment](t, r.objs, releaseName+"-envoy")
	c := container(t, d.Spec.Template.Spec, "envoy")
	l, err := configs.Listener(got, "openai")
	require.NoError(t, err)
	httpPort, _ := containerPort(c, "http")
	require.EqualValues(t, l.GetAddress().GetSocketAddress().GetPortValue(), httpPort)
	hl, err := configs.Listener(got, "health")
	require.NoError(t, err)
	healthPort, _ := containerPort(c, "health")
	require.EqualValues(t, hl.GetAddress().GetSocketAddress().GetPortValue(), healthPort)
	require.Equal(t, "/ready", c.ReadinessProbe.HTTPGet.Path)
	pre := strings.Join(c.Lifecycle.PreStop.Exec.Command, " ")
	require.Contains(t, pre, "/healthcheck/fail")
	require.Contains(t, pre, "/drain_listeners?graceful")
	require.Contains(t, strings.Join(c.Args, " "), "--drain-time-s 60")
	require.Greater(t, *d.Spec.Template.Spec.TerminationGracePeriodSeconds, int64(60))
	require.Contains(t, r.notes, "http://proxide-envoy.proxide.svc/openai/v1")

	r = mustRender(t, `envoy: {enabled: true, failureModeAllow: true, messageTimeout: 5s, requestBodyBufferLimit: 4194304}
ports: {grpc: 9000}
`)
	cm = one[corev1.ConfigMap](t, r.objs, releaseName+"-envoy")
	got, err = configs.ParseBootstrap([]byte(cm.Data["envoy.yaml"]))
	require.NoError(t, err)
	require.NoError(t, configs.CheckPathHandling(got), "whatever the values")
	l, _ = configs.Listener(got, "openai")
	h, _ := configs.HCM(l)
	ep, err := configs.ExtProc(h)
	require.NoError(t, err)
	require.True(t, ep.GetFailureModeAllow())
	require.EqualValues(t, 5, ep.GetMessageTimeout().GetSeconds())
	route, _ := configs.Route(h, "openai_v1")
	require.EqualValues(t, 4194304, route.GetRequestBodyBufferLimit().GetValue())
	cl, _ := configs.Cluster(got, "proxide_ext_proc")
	sa := cl.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	require.EqualValues(t, 9000, sa.GetPortValue(), "Envoy follows ports.grpc")
	require.Equal(t, "proxide-grpc.proxide.svc.cluster.local", sa.GetAddress())
}

// TestChartRefuses: values that would deploy something broken or leak a
// secret fail the render with a message naming the value.
func TestChartRefuses(t *testing.T) {
	tests := []struct{ name, values, want string }{
		{"memory ledger with replicas", "redis: {mode: memory}\nreplicaCount: 2", "redis.mode=memory"},
		{"memory ledger with autoscaling", "redis: {mode: memory}\nreplicaCount: 1\nautoscaling: {enabled: true}", "redis.mode=memory"},
		{"password in the redis url", `redis: {mode: external, external: {url: "redis://:hunter2@redis:6379"}}`, "must not carry credentials"},
		{"external redis without url", "redis: {mode: external}", "redis.external.url or redis.external.existingSecret"},
		{"keys without the OpenAI secret", `keys: [{name: a, sha256: "` + hashOf("x") + `", scopes: [gateway]}]`, "upstream.existingSecret"},
		{"plaintext key", `keys: [{name: a, key: prox-plaintext, scopes: [gateway]}]`, "additional properties 'key'"},
		{"bad hash", `keys: [{name: a, sha256: "abc", scopes: [gateway]}]`, "sha256"},
		{"bad scope", `keys: [{name: a, sha256: "` + hashOf("x") + `", scopes: [root]}]`, "scopes"},
		{"unknown value", "replicas: 3", "replicas"},
		{"misspelled nested value", "envoy: {enable: true}", "enable"},
		{"failure mode", "store: {failureMode: maybe}", "failureMode"},
		{"negative limit", "budgets: {default: {daily_limit_usd: -1}}", "daily_limit_usd"},
		{"rule without id", "budgets: {rules: [{daily_limit_usd: 1}]}", "rules"},
		{"drain longer than grace", "envoy: {enabled: true, drainTimeSeconds: 120}", "terminationGracePeriodSeconds"},
		{"bad duration", "budgets: {reservationTTL: ten minutes}", "reservationTTL"},
		{"loop similarity above 1", "loopDetection: {similarity: 1.5}", "/loopDetection/similarity': maximum"},
		{"loop similarity 0", "loopDetection: {similarity: 0}", "/loopDetection/similarity"},
		{"loop action", "loopDetection: {action: shout}", "/loopDetection/action': value must be one of"},
		{"loop status not an error", "loopDetection: {status: 200}", "/loopDetection/status': minimum"},
		{"loop status beyond 599", "loopDetection: {status: 600}", "/loopDetection/status': maximum"},
		{"loop max repeats 0", "loopDetection: {maxRepeats: 0}", "/loopDetection/maxRepeats"},
		{"loop max repeats past the window's capacity", "loopDetection: {maxRepeats: 32}", "/loopDetection/maxRepeats"},
		{"loop window as a number", "loopDetection: {window: 60}", "/loopDetection/window': got number, want string"},
		{"loop cooldown not a duration", "loopDetection: {cooldown: five minutes}", "/loopDetection/cooldown"},
		{"loop detection misspelled", "loopDetection: {enable: false}", "additional properties 'enable'"},
		{"loop detection in proxide's spelling", "loopDetection: {max_repeats: 3}", "additional properties 'max_repeats'"},
		{"rule loop mode", `budgets: {rules: [{match: "eval-*", loop_detection: {mode: never}}]}`, "/budgets/rules/0/loop_detection/mode"},
		{"rule loop mode off unquoted (YAML 1.1 false)", `budgets: {rules: [{match: "eval-*", loop_detection: {mode: off}}]}`, "/budgets/rules/0/loop_detection/mode': got boolean, want string"},
		{"rule loop similarity", `budgets: {rules: [{client_id: a, loop_detection: {similarity: 1.5}}]}`, "/budgets/rules/0/loop_detection/similarity"},
		{"rule loop unknown key", `budgets: {rules: [{client_id: a, loop_detection: {action: block}}]}`, "additional properties 'action'"},
		{"default rule loop max repeats", `budgets: {default: {loop_detection: {max_repeats: 0}}}`, "/budgets/default/loop_detection/max_repeats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(tt.values)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestChartReadmeListsEveryValue: the chart README documents every value.
func TestChartReadmeListsEveryValue(t *testing.T) {
	readme := readFile(t, chartDir+"/README.md")
	var leaves []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			leaves = append(leaves, prefix)
			return
		}
		for k, e := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			walk(p, e)
		}
	}
	var vals map[string]any
	require.NoError(t, yamlUnmarshal(readFile(t, chartDir+"/values.yaml"), &vals))
	walk("", vals)
	require.Greater(t, len(leaves), 80)
	for _, l := range leaves {
		// resources / security contexts are documented as whole objects.
		doc := l
		for _, whole := range []string{"resources", "podSecurityContext", "securityContext", "budgets.default", "pricing.fallback"} {
			if l == whole || strings.HasPrefix(l, whole+".") || strings.Contains(l, "."+whole+".") {
				doc = l[:strings.Index(l, whole)+len(whole)]
			}
		}
		require.Regexp(t, "`"+regexp.QuoteMeta(doc)+"`", string(readme), "README.md does not list %s", doc)
	}
}
