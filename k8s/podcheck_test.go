package k8s_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// checkPodSpec asserts the invariants every workload of ours keeps: hardened
// security contexts, resources, probes on every long-running container
// (pointing at ports that exist), no service-account token, and volumes
// that resolve. configMaps lists the ConfigMaps that exist beside it, claims
// a StatefulSet's volumeClaimTemplates.
func checkPodSpec(t *testing.T, id string, spec corev1.PodSpec, configMaps map[string]bool, claims ...string) {
	t.Helper()
	require.NotNil(t, spec.AutomountServiceAccountToken, "%s: automountServiceAccountToken", id)
	require.False(t, *spec.AutomountServiceAccountToken, "%s: no workload of ours calls the API server", id)
	pod := spec.SecurityContext
	require.NotNil(t, pod, "%s: pod securityContext", id)

	volumes := map[string]corev1.Volume{}
	for _, c := range claims {
		volumes[c] = corev1.Volume{Name: c}
	}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if v.ConfigMap != nil {
			require.True(t, configMaps[v.ConfigMap.Name], "%s: volume %s: ConfigMap %q is not defined", id, v.Name, v.ConfigMap.Name)
		}
	}
	names := map[string]bool{}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for i, c := range all {
		cid := id + "/" + c.Name
		require.False(t, names[c.Name], "%s: container name used twice", cid)
		names[c.Name] = true
		require.Empty(t, validation.IsDNS1123Label(c.Name), cid)
		require.NotEmpty(t, c.Image, cid)

		sc := c.SecurityContext
		require.NotNil(t, sc, "%s: securityContext", cid)
		require.True(t, boolOr(sc.RunAsNonRoot, pod.RunAsNonRoot), "%s: runAsNonRoot", cid)
		require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s: readOnlyRootFilesystem", cid)
		require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s: allowPrivilegeEscalation false", cid)
		require.True(t, sc.Capabilities != nil && len(sc.Capabilities.Drop) == 1 && sc.Capabilities.Drop[0] == "ALL", "%s: capabilities drop ALL", cid)
		require.Empty(t, sc.Capabilities.Add, "%s: no added capabilities", cid)
		require.False(t, sc.Privileged != nil && *sc.Privileged, cid)
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = pod.SeccompProfile
		}
		require.True(t, seccomp != nil && seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault, "%s: seccomp RuntimeDefault", cid)

		require.False(t, c.Resources.Requests.Cpu().IsZero(), "%s: cpu request", cid)
		require.False(t, c.Resources.Requests.Memory().IsZero(), "%s: memory request", cid)
		require.False(t, c.Resources.Limits.Memory().IsZero(), "%s: memory limit", cid)

		ports := map[string]int32{}
		for _, p := range c.Ports {
			require.Empty(t, validation.IsValidPortName(p.Name), "%s: port name %q", cid, p.Name)
			ports[p.Name] = p.ContainerPort
		}
		longRunning := i >= len(spec.InitContainers) ||
			(c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways)
		if longRunning {
			require.NotNil(t, c.LivenessProbe, "%s: liveness probe", cid)
			require.NotNil(t, c.ReadinessProbe, "%s: readiness probe", cid)
		} else {
			require.Nil(t, c.LivenessProbe, "%s: init containers cannot have probes", cid)
			require.Nil(t, c.ReadinessProbe, "%s: init containers cannot have probes", cid)
		}
		for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
			checkProbePort(t, cid, p, ports)
		}
		for _, m := range c.VolumeMounts {
			_, ok := volumes[m.Name]
			require.True(t, ok, "%s: mount %s has no volume", cid, m.Name)
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				require.NotEmpty(t, e.ValueFrom.SecretKeyRef.Name, "%s: env %s", cid, e.Name)
			}
		}
	}
}

func checkProbePort(t *testing.T, cid string, p *corev1.Probe, ports map[string]int32) {
	t.Helper()
	if p == nil {
		return
	}
	var port intstr.IntOrString
	switch {
	case p.HTTPGet != nil:
		port = p.HTTPGet.Port
	case p.TCPSocket != nil:
		port = p.TCPSocket.Port
	case p.GRPC != nil:
		port = intstr.FromInt32(p.GRPC.Port)
	case p.Exec != nil:
		require.NotEmpty(t, p.Exec.Command, cid)
		return
	default:
		t.Fatalf("%s: probe without a handler", cid)
	}
	if port.Type == intstr.String {
		_, ok := ports[port.StrVal]
		require.True(t, ok, "%s: probe port %q is not a container port", cid, port.StrVal)
		return
	}
	found := false
	for _, n := range ports {
		found = found || n == port.IntVal
	}
	require.True(t, found, "%s: probe port %d is not a container port", cid, port.IntVal)
}

func boolOr(a, b *bool) bool {
	if a != nil {
		return *a
	}
	return b != nil && *b
}

// selects reports whether a label selector selects a Pod with these labels.
func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	require.NoError(t, err)
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

// containerPort finds a named port of a container.
func containerPort(c corev1.Container, name string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}
