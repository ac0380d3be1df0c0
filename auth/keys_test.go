package auth

import (
	"errors"
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
				require.True(t, errors.Is(err, tc.wantErr), "got %v", err)
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
