package extproc

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/auth"
)

const tenantKey = "prox-test-tenant"

// withTenantKey adds a gateway key bound to user-12345 and tenant-a-*.
func withTenantKey(t *testing.T, normalize bool) func(*Options) {
	t.Helper()
	keys, err := auth.NewKeys([]auth.KeySpec{
		{Name: "gw", SHA256: auth.Hash(gatewayKey), Scopes: []string{auth.ScopeGateway}},
		{Name: "tenant", SHA256: auth.Hash(tenantKey), Scopes: []string{auth.ScopeGateway}, ClientIDs: []string{"user-12345", "tenant-a-*"}},
	})
	require.NoError(t, err)
	return func(o *Options) { o.Keys = keys; o.NormalizeClientIDs = normalize }
}

// The client id a request is charged to, or the refusal it gets, for a key
// bound to ids and for an unbound key, with and without normalisation. A
// leaked tenant key cannot rotate ids: every variant of its own id that is
// not exactly an id it owns is refused before anything is reserved.
func TestClientIDBindingAndNormalisation(t *testing.T) {
	tests := []struct {
		name      string
		key, id   string
		normalize bool
		charged   string // "" when refused
		status    int
		code      string
	}{
		{"bound key, its exact id", tenantKey, "user-12345", false, "user-12345", 0, ""},
		{"bound key, its pattern", tenantKey, "tenant-a-7", false, "tenant-a-7", 0, ""},
		{"bound key, suffixed id", tenantKey, "user-12345-2", false, "", 403, "client_id_not_allowed"},
		{"bound key, zero-width space", tenantKey, "user-12345\u200b", false, "", 403, "client_id_not_allowed"},
		{"bound key, cyrillic look-alike", tenantKey, "us\u0435r-12345", false, "", 403, "client_id_not_allowed"},
		{"bound key, upper case", tenantKey, "USER-12345", false, "", 403, "client_id_not_allowed"},
		{"bound key, other tenant", tenantKey, "tenant-b-1", false, "", 403, "client_id_not_allowed"},
		{"bound key, fullwidth is refused raw", tenantKey, "ｕｓｅｒ-12345", false, "", 403, "client_id_not_allowed"},
		{"bound key, fullwidth folds to its id", tenantKey, "ｕｓｅｒ-12345", true, "user-12345", 0, ""},
		{"bound key, zero-width space normalised", tenantKey, "user-12345\u200b", true, "", 400, "invalid_client_id"},
		{"unbound key names anyone", gatewayKey, "user-12345-2", false, "user-12345-2", 0, ""},
		{"unbound key, zero-width space kept raw", gatewayKey, "user-12345\u200b", false, "user-12345\u200b", 0, ""},
		{"unbound key, zero-width space normalised", gatewayKey, "user-12345\u200b", true, "", 400, "invalid_client_id"},
		{"unbound key, mixed script normalised", gatewayKey, "us\u0435r-12345", true, "", 400, "invalid_client_id"},
		{"unbound key, trailing no-break space normalised", gatewayKey, "user-12345\u00a0", true, "", 400, "invalid_client_id"},
		{"unbound key, fullwidth normalised", gatewayKey, "ｕｓｅｒ-12345", true, "user-12345", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, withTenantKey(t, tc.normalize))
			kv := []string{":method", "POST", ":path", chatPath, "authorization", "Bearer " + tc.key, "x-proxide-client-id", tc.id,
				"content-type", "application/json"}
			out := f.run(t, nil, reqHeaders(false, kv...), reqBody(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
			if tc.charged != "" {
				require.Len(t, out, 2)
				require.NotNil(t, out[0].GetRequestHeaders(), "admitted: %v", out[0])
				require.Len(t, f.ledger.reserves, 1)
				require.Equal(t, tc.charged, f.ledger.reserves[0].ClientID)
				return
			}
			require.Len(t, out, 1, "the stream ends with the local reply")
			code, h, body := immediateOf(t, out[0])
			require.Equal(t, tc.status, code)
			require.Equal(t, "false", h["x-should-retry"])
			e := body["error"].(map[string]any)
			require.Equal(t, tc.code, e["code"])
			require.Equal(t, "x-proxide-client-id", e["param"])
			require.Empty(t, f.ledger.reserves, "a refused id reserves nothing")
		})
	}
}

// The 403 shows the id quoted with escapes, so an operator reading it sees
// the invisible character the caller sent.
func TestForbiddenClientIDMessageShowsInvisibleCharacters(t *testing.T) {
	f := newFixture(t, withTenantKey(t, false))
	out := f.run(t, nil, reqHeaders(true, ":method", "GET", ":path", "/openai/v1/models", "authorization", "Bearer "+tenantKey,
		"x-proxide-client-id", "user-12345\u200b"))
	require.Len(t, out, 1)
	code, _, body := immediateOf(t, out[0])
	require.Equal(t, 403, code)
	require.Equal(t, `This Proxide key may not speak for client "user-12345\u200b".`, body["error"].(map[string]any)["message"])
}
