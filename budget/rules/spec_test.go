package rules

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

// TestSpecKeysSameInFileAndAPI: every key of the config file is the key of the admin
// API's JSON, and a document decodes to the same spec either way (the config file goes
// through mapstructure, as viper does, the API through encoding/json).
func TestSpecKeysSameInFileAndAPI(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[Spec](), reflect.TypeFor[LoopSpec](), reflect.TypeFor[EndpointsSpec]()} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			js, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			ms := f.Tag.Get("mapstructure")
			if js == "-" || ms == "-" {
				continue // not a key of both (default, the *_nano limits)
			}
			require.Equal(t, js, ms, "%s.%s", typ.Name(), f.Name)
		}
	}
	doc := `{"client_id":"user-1","daily_limit_usd":0.5,"monthly_limit_usd":5,"action":"alert","alert_thresholds":[0.5,1],
		"loop_detection":{"mode":"alert","window":"90s","max_repeats":8,"similarity":0.95,"cooldown":"10m"},
		"admission":"strict","endpoints":{"unmetered":"allow"}}`
	var fromJSON Spec
	require.NoError(t, json.Unmarshal([]byte(doc), &fromJSON))
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &raw))
	var fromFile Spec
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &fromFile, ErrorUnused: true})
	require.NoError(t, err)
	require.NoError(t, dec.Decode(raw))
	require.Equal(t, fromJSON, fromFile)
	require.Equal(t, Spec{ClientID: "user-1", DailyLimitUSD: ptr(0.5), MonthlyLimitUSD: ptr(5.0), Action: "alert",
		AlertThresholds: []float64{0.5, 1}, LoopDetection: &LoopSpec{Mode: "alert", Window: "90s", MaxRepeats: 8,
			Similarity: 0.95, Cooldown: "10m"}, Admission: "strict", Endpoints: &EndpointsSpec{Unmetered: "allow"}}, fromJSON)

	var bad Spec
	dec, err = mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &bad, ErrorUnused: true})
	require.NoError(t, err)
	require.ErrorContains(t, dec.Decode(map[string]any{"default": true}), "default",
		"the config file has budgets.default, not a default key")
}

func TestSpecRule(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spec   Spec
		want   Rule
		fields []string // the problems' fields, in order; nil = valid
	}{
		{"dollars to nano-dollars, rounded", Spec{ClientID: "u", DailyLimitUSD: ptr(0.1234567894), MonthlyLimitUSD: ptr(1e9)},
			Rule{ClientID: "u", Daily: LimitOf(123_456_789), Monthly: LimitOf(MaxLimitNano), Action: ActionBlock}, nil},
		{"exact nano-dollars", Spec{Match: "u*", DailyLimitNano: ptr(int64(7))},
			Rule{Match: "u*", Daily: LimitOf(7), Action: ActionBlock}, nil},
		{"zero is a limit, absent is none", Spec{DailyLimitUSD: ptr(0.0)}, Rule{Daily: LimitOf(0), Action: ActionBlock}, nil},
		{"canonical action and admission", Spec{Action: "alert", Admission: "soft"}, Rule{Action: ActionAlert}, nil},
		{"thresholds: nil is the default, [] none", Spec{AlertThresholds: []float64{}},
			Rule{Action: ActionBlock, AlertThresholds: []float64{}}, nil},
		{"loop and endpoints", Spec{LoopDetection: &LoopSpec{Mode: "off", Window: "1m30s", Cooldown: "2h"},
			Endpoints: &EndpointsSpec{Unmetered: "allow"}, Admission: "strict"},
			Rule{Action: ActionBlock, Loop: LoopSettings{Mode: LoopModeOff, Window: 90 * time.Second, Cooldown: 2 * time.Hour},
				Unmetered: UnmeteredAllow, Admission: AdmissionStrict}, nil},
		{"negative", Spec{DailyLimitUSD: ptr(-1.0)}, Rule{}, []string{"daily_limit_usd"}},
		{"not finite", Spec{MonthlyLimitUSD: ptr(math.Inf(1)), DailyLimitUSD: ptr(math.NaN())}, Rule{},
			[]string{"daily_limit_usd", "monthly_limit_usd"}},
		{"above $1e9", Spec{DailyLimitUSD: ptr(1e9 + 1)}, Rule{}, []string{"daily_limit_usd"}},
		{"nano out of range", Spec{MonthlyLimitNano: ptr(MaxLimitNano + 1)}, Rule{}, []string{"monthly_limit_nano"}},
		{"both units", Spec{DailyLimitUSD: ptr(1.0), DailyLimitNano: ptr(int64(1))}, Rule{}, []string{"daily_limit_usd"}},
		{"a catch-all pattern is the default rule, said explicitly", Spec{Match: "*", DailyLimitUSD: ptr(1.0)}, Rule{}, []string{"match"}},
		{"every problem, first the conversions", Spec{ClientID: "a\x00", Action: "deny", DailyLimitUSD: ptr(-1.0),
			AlertThresholds: []float64{0}, LoopDetection: &LoopSpec{Window: "soon", Mode: "loud"}}, Rule{},
			[]string{"daily_limit_usd", "loop_detection.window", "client_id", "action", "alert_thresholds[0]", "loop_detection.mode"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.spec.Rule()
			if tc.fields == nil {
				require.NoError(t, err)
				require.Equal(t, tc.want, r)
				return
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			var fields []string
			for _, fe := range FieldErrors(err) {
				fields = append(fields, fe.Field)
			}
			require.Equal(t, tc.fields, fields)
		})
	}
}

func TestFieldErrors(t *testing.T) {
	err := errors.Join(fieldErr("action", "unknown"), errors.Join(fieldErr("loop_detection.window", "bad")), errors.New("plain"))
	require.Equal(t, []*FieldError{{Field: "action", Msg: "unknown"}, {Field: "loop_detection.window", Msg: "bad"}, {Msg: "plain"}},
		FieldErrors(err))
	require.Nil(t, FieldErrors(nil))
	in := Within("budgets.rules[3]", err)
	require.Equal(t, "budgets.rules[3]: action: unknown\nbudgets.rules[3]: loop_detection.window: bad\nbudgets.rules[3]: plain", in.Error())
	var fe *FieldError
	require.ErrorAs(t, in, &fe)
	require.Equal(t, "action", fe.Field)
	require.NoError(t, Within("x", nil))
}

func TestLoopSpecJSON(t *testing.T) {
	var s Spec
	err := json.Unmarshal([]byte(`{"loop_detection":{"action":"block"}}`), &s)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, FieldError{Field: "loop_detection.action", Msg: "unknown field"}, *fe)
	require.Equal(t, &LoopSpec{Mode: "off"}, LoopSpecOf(LoopSettings{Mode: "off"}))
	require.Nil(t, LoopSpecOf(LoopSettings{}))
	require.Equal(t, &LoopSpec{Window: "1m", Cooldown: "1h30m"}, LoopSpecOf(LoopSettings{Window: time.Minute, Cooldown: 90 * time.Minute}))
}
