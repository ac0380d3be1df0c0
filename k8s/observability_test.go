package k8s_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// exported reads the metric names Proxide exports from the metrics package's
// golden exposition, so a dashboard or an alert on a renamed metric fails here.
func exported(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../internal/metrics/testdata/exposition.golden")
	require.NoError(t, err)
	types := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
	}
	require.NotEmpty(t, types)
	return types
}

var metricName = regexp.MustCompile(`\bproxide_[a-z_]+`)

// checkExpr checks one PromQL expression against the exported metrics: every
// name exists (histograms by their _bucket series), rate() is not taken of a
// gauge, and the brackets balance.
func checkExpr(t *testing.T, where, expr string, types map[string]string) {
	t.Helper()
	names := metricName.FindAllString(expr, -1)
	require.NotEmpty(t, names, "%s: %s names no proxide metric", where, expr)
	for _, n := range names {
		base := n
		if strings.HasSuffix(n, "_bucket") {
			base = strings.TrimSuffix(n, "_bucket")
			require.Equal(t, "histogram", types[base], "%s: %s is not a histogram", where, n)
		}
		typ, ok := types[base]
		require.True(t, ok, "%s: %s is not exported", where, n)
		if typ == "gauge" {
			require.NotRegexp(t, `(rate|increase)\(`+n, expr, "%s: rate of the gauge %s", where, n)
		}
	}
	for _, pair := range []string{"()", "[]", "{}"} {
		require.Equal(t, strings.Count(expr, pair[:1]), strings.Count(expr, pair[1:]), "%s: unbalanced %s in %s", where, pair, expr)
	}
}

func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/proxide-dashboard.json")
	require.NoError(t, err)
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int    `json:"id"`
			Title      string `json:"title"`
			Type       string `json:"type"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			GridPos struct{ X, Y, W, H int } `json:"gridPos"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	require.NotEmpty(t, d.UID)
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	require.True(t, vars["datasource"] && vars["job"], "the dashboard picks its data source and job")
	types := exported(t)
	ids, titles := map[int]bool{}, map[string]bool{}
	for _, p := range d.Panels {
		require.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID], titles[p.Title] = true, true
		require.Contains(t, []string{"timeseries", "stat"}, p.Type)
		require.Equal(t, "${datasource}", p.Datasource.UID, p.Title)
		require.Positive(t, p.GridPos.W, p.Title)
		require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			checkExpr(t, p.Title, tg.Expr, types)
			require.Contains(t, tg.Expr, `job=~"$job"`, "%s: every query follows the job variable", p.Title)
		}
	}
	// What the issue asks the dashboard to show.
	for _, want := range []string{"Spend by model (USD per hour)", "Budget refusals by period", "Loops detected",
		"Ledger latency p99 by operation", "Ledger circuit"} {
		require.True(t, titles[want], "panel %q", want)
	}
}

// The chart's PrometheusRule alerts on metrics Proxide exports, scoped to the
// release's Service, and fires on what the issue names: ledger down, unknown
// models, webhook drops.
func TestChartPrometheusRule(t *testing.T) {
	off := mustRender(t, "")
	require.Empty(t, objectsOf[prometheusRule](off.objs), "off by default")

	r := mustRender(t, `prometheusRule: {enabled: true, ledgerDownFor: 5m, labels: {release: kube-prometheus},
  additionalRules: [{alert: MyBudgetBurn, expr: 'sum(rate(proxide_spend_usd_total[1h])) * 24 > 100', labels: {severity: info}}]}
serviceMonitor: {enabled: true}`)
	lintChart(t, `prometheusRule: {enabled: true}`)
	rules := objectsOf[prometheusRule](r.objs)
	require.Len(t, rules, 1)
	pr := rules[releaseName]
	require.Equal(t, "kube-prometheus", pr.Labels["release"])
	types := exported(t)
	alerts := map[string]string{}
	for _, g := range pr.Spec.Groups {
		for _, rule := range g.Rules {
			alerts[rule.Alert] = rule.For
			checkExpr(t, rule.Alert, rule.Expr, types)
			if rule.Alert != "MyBudgetBurn" {
				require.Contains(t, rule.Expr, `namespace="proxide",service="proxide"`, rule.Alert)
				require.NotEmpty(t, rule.Annotations["summary"], rule.Alert)
				require.Contains(t, []string{"critical", "warning"}, rule.Labels["severity"], rule.Alert)
			}
		}
	}
	for _, want := range []string{"ProxideLedgerDown", "ProxideLedgerErrors", "ProxideSettlementsBuffered", "ProxideUnknownModels", "ProxideWebhookDrops", "MyBudgetBurn"} {
		require.Contains(t, alerts, want)
	}
	require.Equal(t, "5m", alerts["ProxideLedgerDown"])

	// The rules select the Service the ServiceMonitor scrapes.
	for n := range objectsOf[serviceMonitor](r.objs) {
		require.Equal(t, releaseName, n)
	}
	_, hasService := objectsOf[corev1.Service](r.objs)[releaseName]
	require.True(t, hasService)
}
