package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
