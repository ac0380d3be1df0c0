package k8s_test

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "helm/proxide"
	releaseName = "proxide"
	releaseNS   = "proxide"
	kubeVersion = "v1.33.0"
)

// rendered is one `helm template` of the chart.
type rendered struct {
	files map[string][]byte // template path → output (only non-empty manifests)
	notes string
	objs  []object
}

// render renders the chart as `helm template proxide k8s/helm/proxide -n
// proxide -f values` would, with values.schema.json enforced, and decodes
// every object strictly.
func render(values string) (rendered, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return rendered{}, fmt.Errorf("load chart: %w", err)
	}
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		return rendered{}, fmt.Errorf("values: %w", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return rendered{}, err
	}
	caps.KubeVersion = *kv
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: releaseNS, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(chrt, vals, opts, caps)
	if err != nil {
		return rendered{}, err
	}
	out, err := engine.Render(chrt, top)
	if err != nil {
		return rendered{}, err
	}
	r := rendered{files: map[string][]byte{}}
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body := out[name]
		switch {
		case strings.HasSuffix(name, "NOTES.txt"):
			r.notes = body
		case path.Ext(name) != ".yaml" || strings.TrimSpace(stripComments(body)) == "":
		default:
			r.files[name] = []byte(body)
			objs, err := decodeStrict(name, []byte(body))
			if err != nil {
				return rendered{}, err
			}
			r.objs = append(r.objs, objs...)
		}
	}
	return r, nil
}

func mustRender(t *testing.T, values string) rendered {
	t.Helper()
	r, err := render(values)
	require.NoError(t, err)
	return r
}

// lintChart runs helm's linter (what `helm lint --strict` runs) with values
// and fails on warnings as well as errors.
func lintChart(t *testing.T, values string) {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(values))
	require.NoError(t, err)
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	require.NoError(t, err)
	res := lint.AllWithKubeVersion(chartDir, vals, releaseNS, kv)
	for _, m := range res.Messages {
		require.Less(t, m.Severity, support.WarningSev, "helm lint: %s", m.Error())
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}

func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }
