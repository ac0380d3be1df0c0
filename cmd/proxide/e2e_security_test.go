package main

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/proxide/proxide/envoy"
	"github.com/proxide/proxide/extproc"
	"github.com/proxide/proxide/internal/mtls/mtlstest"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

// boundKeyConfig adds a tenant key bound to user-12345 and tenant-a-* to the
// refusal config.
func boundKeyConfig(extra string) string {
	return strings.Replace(refusalConfig, "  - {name: ops,",
		"  - {name: tenant, key: prox-e2e-tenant, scopes: [gateway], client_ids: [\"user-12345\", \"tenant-a-*\"]}\n  - {name: ops,", 1) +
		"loop_detection: {enabled: false}\n" + extra
}

// A leaked tenant key cannot rotate client ids to get a fresh default budget:
// through the Envoy stand-in, every id it does not own — another tenant, a
// suffixed id, a zero-width space, a Cyrillic look-alike, a case change — is
// a 403 an SDK can read and will not retry, nothing reaches the upstream and
// nothing is charged to the id it named.
func TestE2EBoundKeyRefusesLookAlikeIDs(t *testing.T) {
	onBothLedgers(t, boundKeyConfig(""), func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		url := s.front + "/openai/v1/chat/completions"
		for _, own := range []string{"user-12345", "tenant-a-1"} {
			r := send(t, url, call{client: own, body: chatHello}, "prox-e2e-tenant")
			require.Equal(t, http.StatusOK, r.status, "%s is the key's own: %s", own, r.body)
			require.Positive(t, s.spend(t, own).Day.SpentNano)
		}
		before := len(s.upstream.Requests())
		for _, other := range []string{"user-12345-2", "user-12345\u200b", "us\u0435r-12345", "USER-12345", "tenant-b-1", "ｕｓｅｒ-12345"} {
			r := send(t, url, call{client: other, body: chatHello}, "prox-e2e-tenant")
			e := requireRefusal(t, r, http.StatusForbidden, "invalid_request_error", "client_id_not_allowed")
			require.Contains(t, e.Error.Message, "may not speak for client")
			require.Equal(t, `"x-proxide-client-id"`, string(e.Error.Param))
			require.Zero(t, s.spend(t, other).Day.SpentNano, "%q", other)
		}
		require.Len(t, s.upstream.Requests(), before, "no refused request reaches the upstream")
		// The unbound key keeps today's behaviour: any id.
		r := s.do(t, call{path: "/openai/v1/chat/completions", client: "user-12345-2", body: chatHello})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	})
}

// client_id.normalize: one client has one id. A fullwidth spelling is charged
// to the ASCII id (and so passes the key's binding); an invisible character,
// a mixed-script look-alike or a trailing no-break space is a 400.
func TestE2ENormalisedClientIDs(t *testing.T) {
	yaml := boundKeyConfig("client_id: {normalize: true}\n")
	s := startStack(t, yaml, nil)
	url := s.front + "/openai/v1/chat/completions"
	r := send(t, url, call{client: "ｕｓｅｒ-12345", body: chatHello}, "prox-e2e-tenant")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Positive(t, s.spend(t, "user-12345").Day.SpentNano, "charged to the folded id")

	before := len(s.upstream.Requests())
	for _, bad := range []string{"user-12345\u200b", "us\u0435r-12345", "user-12345\u00a0", "new\u2060client"} {
		for _, key := range []string{"prox-e2e-tenant", "prox-e2e-app"} {
			r := send(t, url, call{client: bad, body: chatHello}, key)
			e := requireRefusal(t, r, http.StatusBadRequest, "invalid_client_id", "invalid_client_id")
			require.Contains(t, e.Error.Message, "Invalid x-proxide-client-id header: client id ")
		}
	}
	require.Len(t, s.upstream.Requests(), before)
}

// meshFront serves the stand-in over TLS the way a mesh sidecar's inbound
// listener does: it verifies a client certificate of ca when one is given
// and sends its URI SAN to Proxide as connection.uri_san_peer_certificate.
func meshFront(t *testing.T, s *stack, ca *mtlstest.CA) string {
	t.Helper()
	si, err := envoy.New(envoy.Options{ExtProcAddr: s.grpcAddr, Upstream: s.upURL,
		RequestAttributes: []string{"request.id", "source.address", extproc.PeerURIAttribute},
		Logger:            slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	front := httptest.NewUnstartedServer(si)
	front.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool(),
		Certificates: []tls.Certificate{ca.Server(t).TLS(t)}}
	front.StartTLS()
	t.Cleanup(func() { front.Close(); require.NoError(t, si.Close()) })
	return front.URL
}

// sendAs posts a chat request to url as the workload holding cert (none when nil).
func sendAs(t *testing.T, url string, ca *mtlstest.CA, cert *mtlstest.Leaf, key, header string) reply {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS(t)}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/openai/v1/chat/completions", strings.NewReader(chatHello))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if header != "" {
		req.Header.Set("x-proxide-client-id", header)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, errors.Join(err, resp.Body.Close()))
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// client_id.source: peer_uri_san — in a mesh the workload's SPIFFE id names
// the client: a header cannot override it, a key bound to a namespace cannot
// speak for another, and a caller without a verified certificate is refused.
func TestE2EClientIDFromMeshIdentity(t *testing.T) {
	const agentA, agentB = "spiffe://cluster.local/ns/team-a/sa/agent-7", "spiffe://cluster.local/ns/team-b/sa/agent-7"
	yaml := strings.Replace(e2eYAML("", "client_id: {source: peer_uri_san}\nloop_detection: {enabled: false}\n"), "  - {name: ops,",
		"  - {name: team-a, key: prox-e2e-team-a, scopes: [gateway], client_ids: [\"spiffe://cluster.local/ns/team-a/*\"]}\n  - {name: ops,", 1)
	s := startStack(t, yaml, nil)
	ca := mtlstest.NewCA(t, "mesh")
	url := meshFront(t, s, ca)
	a, b := ca.Client(t, "agent-a", agentA), ca.Client(t, "agent-b", agentB)

	r := sendAs(t, url, ca, &a, "prox-e2e-app", "user-12345")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Positive(t, s.spend(t, agentA).Day.SpentNano, "charged to the workload")
	require.Zero(t, s.spend(t, "user-12345").Day.SpentNano, "not to the id the header claimed")
	r = sendAs(t, url, ca, &a, "prox-e2e-team-a", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	before := len(s.upstream.Requests())
	r = sendAs(t, url, ca, &b, "prox-e2e-team-a", agentA)
	requireRefusal(t, r, http.StatusForbidden, "invalid_request_error", "client_id_not_allowed")
	r = sendAs(t, url, ca, nil, "prox-e2e-app", "user-12345")
	requireRefusal(t, r, http.StatusForbidden, "invalid_request_error", "peer_identity_required")
	require.Len(t, s.upstream.Requests(), before)
	require.Zero(t, s.spend(t, agentB).Day.SpentNano)
}

func TestClientIDSourceIsChecked(t *testing.T) {
	_, err := load(t, nil, "--config", writeConfig(t, "client_id: {source: certificate}\n"))
	require.ErrorContains(t, err, `client_id.source: "certificate" must be header or peer_uri_san`)
}

// With client_id.normalize, a rule or a key binding that no normalised id can
// match is a config error, not a rule that silently never applies.
func TestNormalizeRefusesIDsNoRequestCanCarry(t *testing.T) {
	_, err := load(t, nil, "--config", writeConfig(t, `client_id: {normalize: true}
keys:
  - {name: t, key: prox-t, scopes: [gateway], client_ids: ["ｔｅｎａｎｔ-*", "user-12345", "us\u0435r-1"]}
budgets:
  rules:
    - {client_id: "user-12345\u200b", daily_limit_usd: 1}
    - {match: "team-*", daily_limit_usd: 1}
`))
	require.ErrorContains(t, err, "keys[0].client_ids[0]")
	require.ErrorContains(t, err, "keys[0].client_ids[2]")
	require.ErrorContains(t, err, "budgets.rules[0].client_id")
	require.NotContains(t, err.Error(), "keys[0].client_ids[1]")
	require.NotContains(t, err.Error(), "budgets.rules[1]")

	_, err = load(t, nil, "--config", writeConfig(t, `keys:
  - {name: t, key: prox-t, scopes: [gateway], client_ids: ["ｔｅｎａｎｔ-*"]}
`))
	require.NoError(t, err, "without normalize the id is taken as written")
}

// The admin API on a running sidecar takes field names exactly, refuses a
// repeated key and a catch-all pattern — on REST and on gRPC — and stores
// nothing for any of them; the exact spelling is accepted.
func TestE2EAdminRefusesLooseInputAndCatchAll(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	for body, param := range map[string]string{
		`{"client_id":"victim","DAILY_LIMIT_USD":500}`:                       `"DAILY_LIMIT_USD"`,
		`{"client_id":"victim","daily_limit_usd":0.5,"daily_limit_usd":500}`: `"daily_limit_usd"`,
		`{"match":"*","daily_limit_usd":500}`:                                `"match"`,
	} {
		code, resp := s.adminPost(t, "/v1/budgets", body, "prox-e2e-ops")
		require.Equal(t, http.StatusBadRequest, code, "%s → %s", body, resp)
		require.Contains(t, resp, `"param": `+param)
	}
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer prox-e2e-ops")
	_, err = proxidev1.NewAdminServiceClient(conn).SetBudget(ctx, &proxidev1.SetBudgetRequest{Match: "*", DailyLimitUsd: new(500.0)})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)

	code, list, _ := s.adminDo(t, http.MethodGet, "/v1/budgets", "prox-e2e-ops")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, list, "client:victim")
	require.NotContains(t, list, "match:*")
	code, resp := s.adminPost(t, "/v1/budgets", `{"client_id":"victim","daily_limit_usd":0.5}`, "prox-e2e-ops")
	require.Equal(t, http.StatusCreated, code, resp)
}
