package alerts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestVerify(t *testing.T) {
	secret, body := []byte("whsec-1"), []byte(`{"id":"evt_1"}`)
	at := time.Unix(1_764_000_000, 0)
	sig := Sign(secret, at, body)
	ts := "1764000000"
	tests := map[string]struct {
		secret    []byte
		ts, sig   string
		body      []byte
		now       time.Time
		wantError error
	}{
		"valid":                {secret, ts, sig, body, at.Add(time.Minute), nil},
		"valid, clock behind":  {secret, ts, sig, body, at.Add(-time.Minute), nil},
		"tampered body":        {secret, ts, sig, []byte(`{"id":"evt_2"}`), at, ErrBadSignature},
		"other secret":         {[]byte("whsec-2"), ts, sig, body, at, ErrBadSignature},
		"timestamp changed":    {secret, "1764000001", sig, body, at, ErrBadSignature},
		"replayed later":       {secret, ts, sig, body, at.Add(DefaultReplayWindow + time.Second), ErrStale},
		"from the future":      {secret, ts, sig, body, at.Add(-DefaultReplayWindow - time.Second), ErrStale},
		"timestamp not number": {secret, "soon", sig, body, at, ErrBadSignature},
		"no signature":         {secret, ts, "", body, at, ErrBadSignature},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := Verify(tt.secret, tt.ts, tt.sig, tt.body, tt.now, DefaultReplayWindow)
			if tt.wantError == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantError)
		})
	}
}
