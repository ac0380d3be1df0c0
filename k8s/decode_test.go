package k8s_test

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// object is one decoded manifest: its file, kind and typed value.
type object struct {
	File string
	Kind string // "apps/v1/Deployment"
	Name string
	Obj  any
}

// serviceMonitor mirrors the part of the Prometheus Operator's CRD the
// chart uses; strict decoding rejects anything else.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// prometheusRule mirrors the part of the Prometheus Operator's CRD the chart
// uses; strict decoding rejects anything else.
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for,omitempty"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// newTyped returns an empty typed object for an apiVersion/kind the
// deployment files may contain, or nil for an unknown one.
func newTyped(kind string) any {
	switch kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/Secret":
		return &corev1.Secret{}
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &serviceMonitor{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &prometheusRule{}
	}
	return nil
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// splitDocs splits a multi-document YAML file, dropping empty documents.
func splitDocs(b []byte) [][]byte {
	var out [][]byte
	for _, d := range docSep.Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// decodeStrict decodes every document of file into its k8s.io/api type;
// unknown fields, duplicate keys and unknown kinds are errors.
func decodeStrict(file string, b []byte) ([]object, error) {
	var out []object
	for i, doc := range splitDocs(b) {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("%s doc %d: %w", file, i, err)
		}
		kind := meta.APIVersion + "/" + meta.Kind
		obj := newTyped(kind)
		if obj == nil {
			return nil, fmt.Errorf("%s doc %d: unexpected kind %q", file, i, kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("%s doc %d (%s %s): %w", file, i, kind, meta.Metadata.Name, err)
		}
		out = append(out, object{File: file, Kind: kind, Name: meta.Metadata.Name, Obj: obj})
	}
	return out, nil
}

// objectsOf returns the objects of one Go type, by name.
func objectsOf[T any](objs []object) map[string]*T {
	out := map[string]*T{}
	for _, o := range objs {
		if t, ok := o.Obj.(*T); ok {
			out[o.Name] = t
		}
	}
	return out
}

func one[T any](t *testing.T, objs []object, name string) *T {
	t.Helper()
	m := objectsOf[T](objs)
	o, ok := m[name]
	require.True(t, ok, "no %T named %q; have %v", o, name, keys(m))
	return o
}

func keys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkMetadata validates names and labels as the API server would.
func checkMetadata(t *testing.T, objs []object) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range objs {
		id := o.Kind + "/" + o.Name
		require.False(t, seen[id], "%s defined twice", id)
		seen[id] = true
		require.Empty(t, validation.IsDNS1123Subdomain(o.Name), "%s: name", id)
		if o.Kind == "v1/Service" {
			require.Empty(t, validation.IsDNS1035Label(o.Name), "%s: a Service name is a DNS-1035 label", id)
		}
		var labels map[string]string
		if v, ok := o.Obj.(interface{ GetLabels() map[string]string }); ok {
			labels = v.GetLabels()
		}
		for k, v := range labels {
			require.Empty(t, validation.IsQualifiedName(k), "%s: label key %q", id, k)
			require.Empty(t, validation.IsValidLabelValue(v), "%s: label %s=%q", id, k, v)
		}
	}
}

// secretLike matches what must never be inline in a manifest: OpenAI keys,
// Proxide keys, passwords in URLs, private keys.
var secretLike = regexp.MustCompile(`sk-[A-Za-z0-9_-]{16,}|prox-[A-Za-z0-9_-]{8,}|://[^/\s:@]*:[^/\s@$]+@|-----BEGIN [A-Z ]*PRIVATE KEY-----`)

// checkNoInlineSecrets: no Secret objects with data, no secret-looking
// values anywhere (ConfigMaps, env values, args).
func checkNoInlineSecrets(t *testing.T, objs []object, raw map[string][]byte) {
	t.Helper()
	for _, s := range objectsOf[corev1.Secret](objs) {
		require.Empty(t, s.Data, "Secret %s carries data in the manifests", s.Name)
		require.Empty(t, s.StringData, "Secret %s carries data in the manifests", s.Name)
	}
	for file, b := range raw {
		if m := secretLike.Find(b); m != nil {
			t.Errorf("%s: secret-looking value inline: %q", file, m)
		}
	}
}

// yamlBytes re-encodes a value (for error messages and nested documents).
func yamlBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	require.NoError(t, err)
	return bytes.TrimSpace(b)
}
