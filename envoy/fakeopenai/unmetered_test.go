package fakeopenai

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnmeteredEndpoints(t *testing.T) {
	_, srv := start(t)
	cases := []struct {
		path, body, object string
	}{
		{"/v1/realtime/sessions", `{"model":"gpt-4o-realtime-preview"}`, "realtime.session"},
		{"/v1/fine_tuning/jobs", `{"model":"gpt-4o-mini","training_file":"file-abc"}`, "fine_tuning.job"},
		{"/v1/containers", `{"name":"scratch"}`, "container"},
		{"/v1/videos", `{"model":"sora-2","prompt":"otters","seconds":"8"}`, "video"},
		{"/v1/vector_stores", `{"name":"docs"}`, "vector_store"},
		{"/v1/conversations", `{}`, "conversation"},
	}
	ids := map[string]string{}
	for _, tc := range cases {
		r := call(t, srv, http.MethodPost, tc.path, tc.body, nil)
		require.Equal(t, http.StatusOK, r.status, tc.path)
		m := decodeMap(t, r.body)
		require.Equal(t, tc.object, m["object"], tc.path)
		require.NotEmpty(t, m["id"])
		require.NotContains(t, m, "usage", "unmetered endpoints report no usage")
		ids[tc.path] = m["id"].(string)
	}

	m := decodeMap(t, call(t, srv, http.MethodPost, "/v1/realtime/client_secrets", `{"session":{"type":"realtime","model":"gpt-realtime"}}`, nil).body)
	require.Regexp(t, `^ek_`, m["value"])
	require.Equal(t, 1_700_000_600, count(t, m["expires_at"]))
	require.Equal(t, "gpt-realtime", m["session"].(map[string]any)["model"])

	m = decodeMap(t, call(t, srv, http.MethodGet, "/v1/fine_tuning/jobs", "", nil).body)
	require.Equal(t, "list", m["object"])
	require.Len(t, m["data"], 1)
	job := decodeMap(t, call(t, srv, http.MethodGet, "/v1/fine_tuning/jobs/"+ids["/v1/fine_tuning/jobs"], "", nil).body)
	require.Equal(t, "validating_files", job["status"])
	require.Equal(t, "gpt-4o-mini-2024-07-18", job["model"])

	video := decodeMap(t, call(t, srv, http.MethodGet, "/v1/videos/"+ids["/v1/videos"], "", nil).body)
	require.Equal(t, "completed", video["status"])
	require.Equal(t, 100, count(t, video["progress"]))
	require.Equal(t, "8", video["seconds"])
	require.Equal(t, http.StatusNotFound, call(t, srv, http.MethodGet, "/v1/videos/video_nope", "", nil).status)
	require.Equal(t, http.StatusBadRequest, call(t, srv, http.MethodPost, "/v1/videos", `{"model":"sora-2"}`, nil).status)
}

func TestModerations(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/moderations", `{"input":["hello","world"]}`, nil)
	var mod struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Results []struct {
			Flagged                   bool                `json:"flagged"`
			Categories                map[string]bool     `json:"categories"`
			CategoryScores            map[string]float64  `json:"category_scores"`
			CategoryAppliedInputTypes map[string][]string `json:"category_applied_input_types"`
		} `json:"results"`
	}
	decodeInto(t, r.body, &mod)
	require.Regexp(t, `^modr-`, mod.ID)
	require.Equal(t, "omni-moderation-latest", mod.Model)
	require.Len(t, mod.Results, 2)
	res := mod.Results[0]
	require.False(t, res.Flagged)
	require.Len(t, res.Categories, 13)
	require.Contains(t, res.Categories, "self-harm/instructions")
	require.Less(t, res.CategoryScores["violence"], 0.001)
	require.Equal(t, []string{"text"}, res.CategoryAppliedInputTypes["hate"])
	require.NotContains(t, r.body, "usage")

	r = call(t, srv, http.MethodPost, "/v1/moderations",
		`{"model":"omni-moderation-latest","input":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"https://x"}}]}`, nil)
	decodeInto(t, r.body, &mod)
	require.Len(t, mod.Results, 1)
	require.Equal(t, []string{"text", "image"}, mod.Results[0].CategoryAppliedInputTypes["violence"])
}

func TestModelsListsEveryFamily(t *testing.T) {
	_, srv := start(t)
	for _, id := range []string{"dall-e-3", "gpt-image-1", "tts-1", "whisper-1", "gpt-4o-audio-preview", "gpt-4o-search-preview"} {
		require.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "/v1/models/"+id, "", nil).status, id)
	}
}
