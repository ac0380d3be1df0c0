package auth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAuthenticate(t *testing.T) {
	keys, err := NewKeys([]KeySpec{
		{Name: "app", SHA256: Hash("prox-app"), Scopes: []string{ScopeGateway}},
		{Name: "ops", Key: "prox-ops", Scopes: []string{ScopeGateway, ScopeAdmin}},
	})
	require.NoError(t, err)
	tests := []struct {
		name, header, scope string
		wantName            string
		wantErr             error
	}{
		{"gateway key", "Bearer prox-app", ScopeGateway, "app", nil},
		{"case-insensitive scheme", "bearer   prox-app ", ScopeGateway, "app", nil},
		{"dev plain key", "Bearer prox-ops", ScopeAdmin, "ops", nil},
		{"missing header", "", ScopeGateway, "", ErrMissingKey},
		{"basic scheme", "Basic prox-app", ScopeGateway, "", ErrMissingKey},
		{"empty bearer", "Bearer ", ScopeGateway, "", ErrMissingKey},
		{"unknown key", "Bearer prox-nope", ScopeGateway, "", ErrUnknownKey},
		{"missing scope", "Bearer prox-app", ScopeAdmin, "app", ErrMissingScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := keys.Authenticate(tc.header, tc.scope)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantName, k.Name)
		})
	}
}

func TestNewKeysReportsEveryProblem(t *testing.T) {
	_, err := NewKeys([]KeySpec{
		{Name: "a", SHA256: "zz", Scopes: []string{ScopeGateway}},
		{Name: "b", SHA256: Hash("x"), Key: "x", Scopes: []string{ScopeGateway}},
		{Name: "c", SHA256: Hash("y"), Scopes: []string{"root"}},
		{Name: "d"},
		{Name: "e", Key: "y", Scopes: []string{ScopeAdmin}},
	})
	require.Error(t, err)
	for _, want := range []string{"keys[0] (a): sha256 must be 64 hex", "keys[1] (b): set sha256 or key", `unknown scope "root"`, "keys[3] (d): sha256 is required", "keys[4] (e): same key as keys[2]"} {
		require.ErrorContains(t, err, want)
	}
}

func TestEnabled(t *testing.T) {
	var none *Keys
	require.False(t, none.Enabled())
	k, err := NewKeys(nil)
	require.NoError(t, err)
	require.False(t, k.Enabled())
}

func TestKeyBoundToClientIDs(t *testing.T) {
	ks, err := NewKeys([]KeySpec{{Name: "tenant", Key: "prox-t", Scopes: []string{ScopeGateway}, ClientIDs: []string{"tenant-a-*", "shared"}},
		{Name: "any", Key: "prox-any", Scopes: []string{ScopeGateway}}})
	require.NoError(t, err)
	k, err := ks.Authenticate("Bearer prox-t", ScopeGateway)
	require.NoError(t, err)
	for id, want := range map[string]bool{"tenant-a-1": true, "tenant-a-": true, "shared": true, "shared2": false,
		"tenant-b-1": false, "tenant-a\u200b-1": false, "": false} {
		require.Equal(t, want, k.Allows(id), id)
	}
	open, err := ks.Authenticate("Bearer prox-any", ScopeGateway)
	require.NoError(t, err)
	require.True(t, open.Allows("whoever"), "a key without the list speaks for anyone")

	_, err = NewKeys([]KeySpec{{Name: "bad", Key: "prox-b", Scopes: []string{ScopeGateway}, ClientIDs: []string{"*", "a*b*", ""}}})
	require.ErrorContains(t, err, "client_ids[0]")
	require.ErrorContains(t, err, "client_ids[1]")
	require.ErrorContains(t, err, "client_ids[2]")
}
