package rules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCodec(t *testing.T) {
	r := Rule{Match: "a*", Monthly: LimitOf(9), AlertThresholds: []float64{}}
	v, err := Encode(r)
	require.NoError(t, err)
	require.JSONEq(t, `{"match":"a*","monthly_limit_nano":9,"alert_thresholds":[]}`, v)
	got, err := Decode("match:a*", v)
	require.NoError(t, err)
	require.Equal(t, r, got)
	_, err = Decode("match:b*", v)
	require.Error(t, err, "stored under another key")
	_, err = Decode("match:a*", `{"match":"a*","monthly_limit_nano":1.5}`)
	require.Error(t, err)
}

func TestCodecWithLoop(t *testing.T) {
	full := Rule{ClientID: "agent-7", Daily: LimitOf(5), Loop: LoopSettings{Mode: LoopModeAlert, Window: 90 * time.Second,
		MaxRepeats: 8, Similarity: 0.95, Cooldown: 10 * time.Minute}}
	js, err := Encode(full)
	require.NoError(t, err)
	require.JSONEq(t, `{"client_id":"agent-7","daily_limit_nano":5,"alert_thresholds":null,
		"loop_detection":{"mode":"alert","window_ms":90000,"max_repeats":8,"similarity":0.95,"cooldown_ms":600000}}`, js)
	got, err := Decode("client:agent-7", js)
	require.NoError(t, err)
	require.Equal(t, full, got)

	// A rule without overrides keeps the JSON of before loop detection, and such stored
	// rules still decode.
	plain := Rule{ClientID: "old", Monthly: LimitOf(3)}
	js, err = Encode(plain)
	require.NoError(t, err)
	require.JSONEq(t, `{"client_id":"old","monthly_limit_nano":3,"alert_thresholds":null}`, js)
	got, err = Decode("client:old", `{"client_id":"old","monthly_limit_nano":3,"alert_thresholds":null}`)
	require.NoError(t, err)
	require.Equal(t, plain, got)

	for name, bad := range map[string]string{
		"mode":     `{"loop_detection":{"mode":"loud"},"alert_thresholds":null}`,
		"window":   `{"loop_detection":{"window_ms":-5},"alert_thresholds":null}`,
		"overflow": `{"loop_detection":{"cooldown_ms":9223372036854775807},"alert_thresholds":null}`,
		"type":     `{"loop_detection":{"max_repeats":"5"},"alert_thresholds":null}`,
	} {
		_, err := Decode("default", bad)
		require.Error(t, err, name)
	}
}
