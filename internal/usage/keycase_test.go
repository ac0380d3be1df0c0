package usage

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseRequestRefusesCaseVariantParameters(t *testing.T) {
	tests := map[string]struct {
		ep      Endpoint
		body    string
		wantErr string // "" = accepted
	}{
		"exact keys":                  {ChatCompletions, `{"model":"o3","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`, ""},
		"unknown keys pass":           {ChatCompletions, `{"model":"o3","messages":[],"temperature":1,"Temperature":2,"user":"u"}`, ""},
		"model in another case":       {ChatCompletions, `{"model":"o3","Model":"gpt-4o-mini","messages":[]}`, `unknown parameter "Model"`},
		"limit in capitals":           {ChatCompletions, `{"model":"o3","messages":[],"max_tokens":100000,"MAX_TOKENS":1}`, `unknown parameter "MAX_TOKENS"`},
		"escaped key":                 {ChatCompletions, `{"model":"o3","messages":[],"\u004dodel":"gpt-4o-mini"}`, `unknown parameter "Model"`},
		"escaped exact key":           {ChatCompletions, `{"mod\u0065l":"o3","messages":[]}`, ""},
		"Kelvin sign folds to k":      {Responses, `{"model":"o3","input":"hi","max_output_to\u212aens":1}`, "unknown parameter \"max_output_to\u212aens\""},
		"long s folds to s":           {ChatCompletions, `{"model":"o3","messages":[],"\u017ftream":true}`, `unknown parameter "ſtream"`},
		"embedded struct fields":      {Embeddings, `{"model":"text-embedding-3-small","input":"a","Service_Tier":"flex"}`, `unknown parameter "Service_Tier"`},
		"other endpoints too":         {Other, `{"Model":"gpt-4o"}`, `unknown parameter "Model"`},
		"responses limit":             {Responses, `{"model":"o3","input":"hi","Max_Output_Tokens":1}`, `unknown parameter "Max_Output_Tokens"`},
		"nested keys are not checked": {ChatCompletions, `{"model":"o3","messages":[{"role":"user","Content":"hi"}]}`, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRequest(tt.ep, []byte(tt.body), Options{})
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrBadRequest)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
