package openaierr

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBody(t *testing.T) {
	for _, tc := range []struct {
		name             string
		typ, code, param string
		want             string
	}{
		{"every field", "invalid_request_error", "invalid_value", "daily_limit_usd",
			`{"error":{"message":"m","type":"invalid_request_error","param":"daily_limit_usd","code":"invalid_value"}}`},
		{"null param and code", "internal_error", "", "",
			`{"error":{"message":"m","type":"internal_error","param":null,"code":null}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(New(tc.typ, tc.code, tc.param, "m"))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(b), "the field order SDKs and people read")
			var back Body
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, New(tc.typ, tc.code, tc.param, "m"), back)
		})
	}
}
