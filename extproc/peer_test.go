package extproc

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/proxide/proxide/internal/auth"
)

// withPeer adds Envoy's attributes with the peer certificate's URI SAN ("" sends none).
func withPeer(req *extprocv3.ProcessingRequest, uri string) *extprocv3.ProcessingRequest {
	fields := map[string]*structpb.Value{"request.path": structpb.NewStringValue(chatPath)}
	if uri != "" {
		fields[PeerURIAttribute] = structpb.NewStringValue(uri)
	}
	req.Attributes = map[string]*structpb.Struct{attributesKey: {Fields: fields}}
	return req
}

// With ids from the mesh, the verified peer names the client whatever the
// header says; no peer is a 403 (never the default id); key binding applies
// to the peer's id.
func TestClientIDFromPeerCertificate(t *testing.T) {
	const teamA = "spiffe://cluster.local/ns/team-a/sa/agent-7"
	keys, err := auth.NewKeys([]auth.KeySpec{
		{Name: "gw", SHA256: auth.Hash(gatewayKey), Scopes: []string{auth.ScopeGateway}},
		{Name: "team-a", SHA256: auth.Hash(tenantKey), Scopes: []string{auth.ScopeGateway}, ClientIDs: []string{"spiffe://cluster.local/ns/team-a/*"}},
	})
	require.NoError(t, err)
	tests := []struct {
		name, key, header, peer string
		charged                 string
		status                  int
		code                    string
	}{
		{"the peer names the client", gatewayKey, "", teamA, teamA, 0, ""},
		{"a header cannot override the peer", gatewayKey, "user-12345", teamA, teamA, 0, ""},
		{"bound key, its namespace", tenantKey, "", teamA, teamA, 0, ""},
		{"bound key, another namespace", tenantKey, teamA, "spiffe://cluster.local/ns/team-b/sa/agent-7", "", 403, "client_id_not_allowed"},
		{"no peer certificate", gatewayKey, "user-12345", "", "", 403, "peer_identity_required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.Keys = keys; o.ClientIDFromPeer = true; o.DefaultClientID = "anonymous" })
			kv := []string{":method", "POST", ":path", chatPath, "authorization", "Bearer " + tc.key, "content-type", "application/json"}
			if tc.header != "" {
				kv = append(kv, "x-proxide-client-id", tc.header)
			}
			out := f.run(t, nil, withPeer(reqHeaders(false, kv...), tc.peer),
				reqBody(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
			if tc.charged != "" {
				require.Len(t, out, 2)
				require.NotNil(t, out[0].GetRequestHeaders(), "admitted: %v", out[0])
				require.Contains(t, out[0].GetRequestHeaders().GetResponse().GetHeaderMutation().GetRemoveHeaders(), "x-proxide-client-id",
					"the header is stripped all the same")
				require.Len(t, f.ledger.reserves, 1)
				require.Equal(t, tc.charged, f.ledger.reserves[0].ClientID)
				return
			}
			require.Len(t, out, 1)
			code, h, body := immediateOf(t, out[0])
			require.Equal(t, tc.status, code)
			require.Equal(t, "false", h["x-should-retry"])
			require.Equal(t, tc.code, body["error"].(map[string]any)["code"])
			require.Empty(t, f.ledger.reserves)
		})
	}
}

// Without the option the attribute is ignored: the header names the client.
func TestPeerURIIgnoredByDefault(t *testing.T) {
	f := newFixture(t, nil)
	out := f.run(t, nil, withPeer(chatHeaders(), "spiffe://cluster.local/ns/team-a/sa/agent-7"),
		reqBody(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	require.Len(t, out, 2)
	require.Len(t, f.ledger.reserves, 1)
	require.Equal(t, "user-12345", f.ledger.reserves[0].ClientID)
}
