package k8s_test

import (
	"debug/elf"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// No container engine runs here, so the Dockerfile is checked as text
// against what the manifests assume of the image, and the binary is built
// static (CGO_ENABLED=0) by buildProxide and checked to have no ELF interpreter.

func TestDockerfileMatchesManifests(t *testing.T) {
	df := string(readFile(t, "../Dockerfile"))
	gomod := string(readFile(t, "../go.mod"))

	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(gomod)
	require.NotNil(t, goVersion)
	require.Contains(t, df, "ARG GO_VERSION="+goVersion[1], "the build stage uses go.mod's Go")
	require.Regexp(t, `(?m)^FROM .*golang:\$\{GO_VERSION\}`, df)
	require.Contains(t, df, "CGO_ENABLED=0", "static binary")
	require.Contains(t, df, "-tags timetzdata", "time zones built in (budgets.timezone)")

	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1)
	final := froms[len(froms)-1][1]
	require.Regexp(t, `^gcr\.io/distroless/static[-a-z0-9]*:nonroot$`, final, "final stage: distroless static, nonroot")
	require.Regexp(t, `(?m)^USER 65532(:65532)?$`, df)
	require.Regexp(t, `(?m)^ENTRYPOINT \["/proxide", "serve"\]$`, df)

	expose := regexp.MustCompile(`(?m)^EXPOSE (.+)$`).FindStringSubmatch(df)
	require.NotNil(t, expose)
	ports := strings.Fields(expose[1])

	r := mustRender(t, "")
	objs, _ := sidecarManifests(t)
	pods := map[string]corev1.PodSpec{
		"chart":   one[appsv1.Deployment](t, r.objs, releaseName).Spec.Template.Spec,
		"sidecar": one[appsv1.Deployment](t, objs, "my-agent").Spec.Template.Spec,
	}
	for name, spec := range pods {
		c := container(t, spec, "proxide")
		require.Empty(t, c.Command, "%s: the image's entrypoint runs", name)
		require.NotEqual(t, "serve", c.Args[0], "%s: the entrypoint already says serve", name)
		uid := c.SecurityContext.RunAsUser
		if uid == nil && spec.SecurityContext != nil {
			uid = spec.SecurityContext.RunAsUser
		}
		require.NotNil(t, uid, name)
		require.EqualValues(t, 65532, *uid, "%s: the image's user", name)
	}
	chartProxide := container(t, pods["chart"], "proxide")
	for _, p := range chartProxide.Ports {
		require.Contains(t, ports, strconv.Itoa(int(p.ContainerPort)), "EXPOSE lists container port %s", p.Name)
	}

	ignore := string(readFile(t, "../.dockerignore"))
	for _, line := range strings.Split(ignore, "\n") {
		line = strings.TrimSpace(line)
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "extproc", "budget", "pricing", "usage", "auth", "admin", "metrics"} {
			require.NotEqual(t, needed, strings.Trim(line, "/"), ".dockerignore must not drop %s", needed)
		}
	}
}

// requireStatic fails unless bin is a statically linked ELF (no program
// interpreter), as the distroless/static base requires.
func requireStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "%s is dynamically linked", bin)
	}
}
