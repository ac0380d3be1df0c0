package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/proxide/proxide/budget/redistest"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

func redisConfig(addr string) string {
	return e2eConfig + fmt.Sprintf("store: {redis_url: \"redis://%s/0\"}\n", addr)
}

func (s *stack) adminPost(t *testing.T, path, body, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.admin+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// The seed flow of the admin issue: POST a budget, and the very next request
// of that client through Envoy is limited by it.
func TestE2EAdminRuleAppliesToTheNextRequest(t *testing.T) {
	s := startStack(t, redisConfig(redistest.Start(t)), nil)
	r := s.do(t, priceyCall("tenant-7", 5))
	require.Equal(t, http.StatusOK, r.status, "the default rule ($100/day) admits it")

	code, body := s.adminPost(t, "/v1/budgets", `{"client_id":"tenant-7","daily_limit_usd":0.01}`, "prox-e2e-ops")
	require.Equal(t, http.StatusCreated, code, body)
	require.Contains(t, body, `"source": "api"`)

	r = s.do(t, priceyCall("tenant-7", 5))
	require.Equal(t, http.StatusPaymentRequired, r.status, "the new $0.01 limit is already spent")
	require.Contains(t, string(r.body), `"limit_usd":0.01`)

	// Raising the limit again lifts the block on the next request (the local refusal cache is dropped).
	code, body = s.adminPost(t, "/v1/budgets", `{"client_id":"tenant-7","daily_limit_usd":50}`, "prox-e2e-ops")
	require.Equal(t, http.StatusOK, code, body)
	r = s.do(t, priceyCall("tenant-7", 5))
	require.Equal(t, http.StatusOK, r.status)

	// Bad input changes nothing.
	code, body = s.adminPost(t, "/v1/budgets", `{"client_id":"tenant-7","daily_limit_usd":-1}`, "prox-e2e-ops")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, `"param": "daily_limit_usd"`)
	code, _ = s.adminPost(t, "/v1/budgets", `{"client_id":"tenant-7","daily_limit_usd":0.01}`, "prox-e2e-app")
	require.Equal(t, http.StatusForbidden, code, "a gateway key cannot change budgets")
	require.Equal(t, http.StatusOK, s.do(t, priceyCall("tenant-7", 5)).status)
}

// A rule written through one replica is enforced by another on the same Redis.
func TestE2ERuleSetOnOneSidecarIsEnforcedByAnother(t *testing.T) {
	cfg := redisConfig(redistest.Start(t))
	a, b := startStack(t, cfg, nil), startStack(t, cfg, nil)
	require.Equal(t, http.StatusOK, b.do(t, priceyCall("shared-1", 5)).status)

	code, body := a.adminPost(t, "/v1/budgets", `{"match":"shared-*","daily_limit_usd":0.05}`, "prox-e2e-ops")
	require.Equal(t, http.StatusCreated, code, body)
	require.Eventually(t, func() bool {
		return b.do(t, priceyCall("shared-1", 5)).status == http.StatusPaymentRequired
	}, 2*time.Second, 50*time.Millisecond, "replica b never applied the pattern rule written on replica a")
}

// The gRPC front door shares the ext_proc port and the admin keys.
func TestE2EAdminGRPCOnTheExtProcPort(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	api := proxidev1.NewAdminServiceClient(conn)

	_, err = api.ListBudgets(t.Context(), &proxidev1.ListBudgetsRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer prox-e2e-app")
	_, err = api.ListBudgets(ctx, &proxidev1.ListBudgetsRequest{})
	require.Equal(t, codes.PermissionDenied, status.Code(err))

	ctx = metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer prox-e2e-ops")
	list, err := api.ListBudgets(ctx, &proxidev1.ListBudgetsRequest{})
	require.NoError(t, err)
	var keys []string
	for _, b := range list.GetBudgets() {
		keys = append(keys, b.GetKey())
	}
	require.Contains(t, keys, "client:user-12345", "file rules are listed")
	require.Contains(t, keys, "default")
}

// The CLI talks to a running admin API.
func TestE2ECLISetsABudget(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	env := []string{"PROXIDE_ADMIN_ADDR=" + s.admin, "PROXIDE_ADMIN_KEY=prox-e2e-ops"}
	var out, errOut bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"budgets", "set", "cli-user", "--daily", "0.01"}, &out, &errOut, env), errOut.String())
	require.Equal(t, http.StatusOK, s.do(t, priceyCall("cli-user", 5)).status, "nothing spent yet: admitted")
	require.Equal(t, http.StatusPaymentRequired, s.do(t, priceyCall("cli-user", 5)).status, "$0.01 is spent")

	out.Reset()
	require.NoError(t, run(t.Context(), []string{"budgets", "get", "cli-user", "--json"}, &out, &errOut, env))
	require.Contains(t, out.String(), `"daily_limit_usd": 0.01`)

	err := run(t.Context(), []string{"budgets", "set"}, &out, &errOut, env)
	require.Error(t, err, "a usage error")
}

func (s *stack) adminDo(t *testing.T, method, path, key string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.admin+path, http.NoBody)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), resp.Header
}

// Every admin endpoint against a running server on the Redis ledger, with the
// auth matrix on each.
func TestE2EAdminEndpointsOnRedis(t *testing.T) {
	s := startStack(t, redisConfig(redistest.Start(t)), nil)
	for i, client := range []string{"acme-1", "acme-2", "globex-1"} {
		for j := 0; j <= i; j++ {
			require.Equal(t, http.StatusOK, s.do(t, priceyCall(client, 2)).status)
		}
	}
	code, body := s.adminPost(t, "/v1/budgets", `{"match":"acme-*","daily_limit_usd":5,"action":"alert","alert_thresholds":[0.5]}`, "prox-e2e-ops")
	require.Equal(t, http.StatusCreated, code, body)

	today := time.Now().UTC().Format("2006-01-02")
	reads := []struct {
		path string
		want []string
	}{
		{"/v1/budgets", []string{`"key": "match:acme-*"`, `"source": "api"`, `"key": "client:user-12345"`, `"source": "file"`}},
		{"/v1/budgets/match:acme-*", []string{`"action": "alert"`, `"alert_thresholds": [`}},
		{"/v1/budgets/user-12345", []string{`"daily_limit_usd": 0.5`}},
		{"/v1/clients/acme-2", []string{`"client_id": "acme-2"`, `"requests_today": 2`, `"key": "match:acme-*"`}},
		{"/v1/spend?client_id=acme-2&from=" + today + "&to=" + today, []string{`"requests": 2`}},
		{"/v1/spend?from=" + today + "&to=" + today + "&group_by=model", []string{`"model": "pricey"`, `"requests": 6`}},
	}
	for _, r := range reads {
		require.Eventually(t, func() bool {
			code, body, _ := s.adminDo(t, http.MethodGet, r.path, "prox-e2e-ops")
			if code != http.StatusOK {
				return false
			}
			for _, w := range r.want {
				if !strings.Contains(body, w) {
					return false
				}
			}
			return true
		}, 2*time.Second, 50*time.Millisecond, "GET %s", r.path)
		for key, want := range map[string]int{"": http.StatusUnauthorized, "prox-wrong": http.StatusUnauthorized, "prox-e2e-app": http.StatusForbidden} {
			code, _, _ := s.adminDo(t, http.MethodGet, r.path, key)
			require.Equal(t, want, code, "GET %s with %q", r.path, key)
		}
	}

	// The client index lags the ledger by at most one batch (250 ms).
	require.Eventually(t, func() bool {
		_, body, _ := s.adminDo(t, http.MethodGet, "/v1/clients?sort=day&limit=2", "prox-e2e-ops")
		return strings.Contains(body, `"client_id": "globex-1"`) && strings.Contains(body, `"client_id": "acme-2"`) &&
			strings.Index(body, "globex-1") < strings.Index(body, "acme-2") && strings.Contains(body, `"next_cursor"`)
	}, 2*time.Second, 50*time.Millisecond, "clients sorted by today's spend")

	code, csv, h := s.adminDo(t, http.MethodGet, "/v1/spend?client_id=globex-1&from="+today+"&to="+today+"&format=csv", "prox-e2e-ops")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, h.Get("Content-Type"), "text/csv")
	require.True(t, strings.HasPrefix(csv, "day,requests,failed,estimated,prompt_tokens,cached_tokens,completion_tokens,reasoning_tokens,cost_usd,estimated_cost_usd\n"), csv)

	code, body, _ = s.adminDo(t, http.MethodDelete, "/v1/budgets/match:acme-*", "prox-e2e-ops")
	require.Equal(t, http.StatusOK, code, body)
	code, _, _ = s.adminDo(t, http.MethodGet, "/v1/budgets/match:acme-*", "prox-e2e-ops")
	require.Equal(t, http.StatusNotFound, code)
	code, body, _ = s.adminDo(t, http.MethodDelete, "/v1/budgets/user-12345", "prox-e2e-ops")
	require.Equal(t, http.StatusConflict, code, "a file rule cannot be deleted through the API: %s", body)
}
