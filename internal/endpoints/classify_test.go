package endpoints

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// examplePath fills a row's pattern with realistic ids.
func examplePath(pattern string) string {
	var out []string
	for _, s := range strings.Split(strings.TrimPrefix(pattern, "/"), "/") {
		switch {
		case s == "{model}":
			s = "ft:gpt-4o-mini:acme::abc123"
		case strings.HasSuffix(s, "...}"):
			s = "usage/completions"
		case s == "{action}":
			s = "accept"
		case strings.HasPrefix(s, "{"):
			s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "_id}") + "_68a1b2c3"
			s = strings.TrimSuffix(s, "}")
		}
		out = append(out, s)
	}
	return "/openai/v1/" + strings.Join(out, "/")
}

func classify(t *testing.T, method, raw string, hdr map[string]string) Route {
	t.Helper()
	p, err := Canonicalize(raw, testPrefixes)
	require.NoError(t, err, raw)
	return Classify(method, p, func(k string) (string, bool) {
		v, ok := hdr[k]
		return v, ok
	})
}

// TestClassifyEveryRow hits every row of the table with a realistic path.
func TestClassifyEveryRow(t *testing.T) {
	for _, e := range Table() {
		methods := []string{e.Method}
		if e.Method == "*" {
			methods = []string{http.MethodGet, http.MethodPost, http.MethodDelete}
		}
		for _, m := range methods {
			path := examplePath(e.Pattern)
			t.Run(m+" "+path, func(t *testing.T) {
				got := classify(t, m, path, nil)
				require.Equal(t, Route{Operation: e.Operation, Kind: e.Kind, Pattern: e.Pattern, Known: true}, got)
			})
		}
	}
}

// TestClassifySDKPaths: the paths the official SDKs send, as sent.
func TestClassifySDKPaths(t *testing.T) {
	tests := []struct {
		method, path string
		op           Operation
		kind         Kind
	}{
		{"POST", "/openai/v1/chat/completions", ChatCompletionsCreate, Metered},
		{"GET", "/openai/v1/chat/completions?limit=20&order=desc", ChatCompletionsList, Free},
		{"GET", "/openai/v1/chat/completions/chatcmpl-abc123", ChatCompletionsRetrieve, Free},
		{"GET", "/openai/v1/chat/completions/chatcmpl-abc123/messages", ChatCompletionsMessages, Free},
		{"POST", "/openai/v1/completions", CompletionsCreate, Metered},
		{"POST", "/openai/v1/embeddings", EmbeddingsCreate, Metered},
		{"POST", "/openai/v1/responses", ResponsesCreate, Metered},
		{"GET", "/openai/v1/responses/resp_68a1?stream=true&starting_after=42", ResponsesRetrieve, Metered},
		{"POST", "/openai/v1/responses/resp_68a1/cancel", ResponsesCancel, Metered},
		{"DELETE", "/openai/v1/responses/resp_68a1", ResponsesDelete, Free},
		{"GET", "/openai/v1/responses/resp_68a1/input_items", ResponsesInputItems, Free},
		{"POST", "/openai/v1/responses/input_tokens", ResponsesInputTokens, Free},
		{"POST", "/openai/v1/images/generations", ImagesGenerate, Metered},
		{"POST", "/openai/v1/audio/transcriptions", AudioTranscription, Metered},
		{"POST", "/openai/v1/moderations", Moderations, Free},
		{"GET", "/openai/v1/models", ModelsList, Free},
		{"GET", "/openai/v1/models/gpt-4o-mini-2024-07-18", ModelsRetrieve, Free},
		{"HEAD", "/openai/v1/models", ModelsList, Free},
		{"POST", "/openai/v1/files", FilesUpload, Free},
		{"GET", "/openai/v1/files/file-abc123/content", FilesContent, Free},
		{"POST", "/openai/v1/batches", BatchesCreate, Metered},
		{"GET", "/openai/v1/batches/batch_abc123", BatchesRetrieve, Free},
		{"POST", "/openai/v1/fine_tuning/jobs", FineTuningJobsCreate, Unmetered},
		{"GET", "/openai/v1/fine_tuning/jobs/ftjob-abc123/events?limit=2", FineTuningJobsEvents, Free},
		{"POST", "/openai/v1/vector_stores", VectorStoresCreate, Unmetered},
		{"POST", "/openai/v1/vector_stores/vs_abc123/search", VectorStoresSearch, Unmetered},
		{"POST", "/openai/v1/threads/runs", ThreadsCreateAndRun, Unmetered},
		{"POST", "/openai/v1/threads/thread_abc123", ThreadsUpdate, Free},
		{"POST", "/openai/v1/threads/thread_abc/runs/run_abc/submit_tool_outputs", ThreadRunsSubmitToolOutputs, Unmetered},
		{"POST", "/openai/v1/conversations/conv_123/items", ConversationItemsCreate, Free},
		{"POST", "/openai/v1/realtime/client_secrets", RealtimeClientSecrets, Unmetered},
		{"POST", "/openai/v1/realtime/sessions", RealtimeSessions, Unmetered},
		{"GET", "/openai/v1/realtime?model=gpt-realtime", Realtime, Unmetered},
		{"POST", "/openai/v1/realtime/calls/rtc_123/hangup", RealtimeCallsControl, Unmetered},
		{"GET", "/openai/v1/realtime/something/new", RealtimeOther, Unmetered},
		{"POST", "/openai/v1/containers", ContainersCreate, Metered},
		{"POST", "/openai/v1/videos", VideosCreate, Metered},
		{"POST", "/openai/v1/videos/video_123/remix", VideosRemix, Metered},
		{"GET", "/openai/v1/videos/video_123/content?variant=thumbnail", VideosContent, Free},
		{"GET", "/openai/v1/videos/characters/content", VideoCharactersRetrieve, Free},
		{"POST", "/openai/v1/evals/eval_123/runs", EvalRunsCreate, Unmetered},
		{"POST", "/openai/v1/fine_tuning/alpha/graders/run", GradersRun, Unmetered},
		{"GET", "/openai/v1/organization/costs?start_time=1730419200", OrganizationAdmin, Free},
		{"POST", "/openai/v1/organization/projects/proj_abc/api_keys", OrganizationAdmin, Free},
		{"post", "/OpenAI/V1/Chat/Completions/", ChatCompletionsCreate, Metered},
		{"POST", "/openai/v1//chat//completions", ChatCompletionsCreate, Metered},
		{"POST", "/openai/v1/%63hat/completions", ChatCompletionsCreate, Metered},
		{"POST", "/openai/v1/./chat/./completions", ChatCompletionsCreate, Metered},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			got := classify(t, tt.method, tt.path, nil)
			require.Equal(t, tt.op, got.Operation)
			require.Equal(t, tt.kind, got.Kind)
			require.True(t, got.Known)
		})
	}
}

func TestClassifyUnknownAndOutside(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "OPTIONS", "DELETE"} {
		got := classify(t, m, "/openai/v1/brand/new/thing", nil)
		require.Equal(t, Route{Kind: Free}, got, m)
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "PROPFIND"} {
		got := classify(t, m, "/openai/v1/brand/new/thing", nil)
		require.Equal(t, Route{Kind: Unmetered}, got, "%s: a new paid endpoint must not pass silently", m)
	}
	// Known paths with an unlisted method.
	require.Equal(t, Route{Kind: Unmetered}, classify(t, "PUT", "/openai/v1/chat/completions", nil))
	require.Equal(t, Route{Kind: Free}, classify(t, "GET", "/openai/v1/embeddings", nil))
	// Outside every prefix: Envoy's routing decides.
	require.Equal(t, Route{Kind: Free}, classify(t, "POST", "/v2/chat/completions", nil))
	require.Equal(t, Route{Kind: Free}, classify(t, "POST", "/openai/v1x/chat/completions", nil))
}

func TestClassifyWebSocketIsRealtime(t *testing.T) {
	got := classify(t, "GET", "/openai/v1/realtime?model=gpt-realtime", map[string]string{"upgrade": "websocket", "connection": "Upgrade"})
	require.Equal(t, Route{Operation: Realtime, Kind: Unmetered, Pattern: "/realtime", Known: true}, got)

	// A WebSocket to any other path is realtime too, whatever the table says.
	got = classify(t, "GET", "/openai/v1/responses", map[string]string{"upgrade": "h2c, WebSocket"})
	require.Equal(t, Route{Operation: Realtime, Kind: Unmetered}, got)
	got = classify(t, "GET", "/openai/v1/models", map[string]string{"upgrade": "websocket"})
	require.Equal(t, Route{Operation: Realtime, Kind: Unmetered, Pattern: "/models", Known: true}, got)
	got = classify(t, "CONNECT", "/openai/v1/responses", map[string]string{":protocol": "websocket"})
	require.Equal(t, Route{Operation: Realtime, Kind: Unmetered}, got)
	// Not an upgrade: h2c alone.
	got = classify(t, "GET", "/openai/v1/models", map[string]string{"upgrade": "h2c"})
	require.Equal(t, Free, got.Kind)
	// Outside the prefix Envoy decides, upgrade or not.
	got = classify(t, "GET", "/elsewhere", map[string]string{"upgrade": "websocket"})
	require.Equal(t, Route{Kind: Free}, got)
}

// TestTableRowsWellFormed: methods, patterns, kinds and texts.
func TestTableRowsWellFormed(t *testing.T) {
	seen := map[Operation]bool{}
	for _, e := range Table() {
		require.Contains(t, []string{"GET", "POST", "DELETE", "*"}, e.Method, e.Pattern)
		require.True(t, strings.HasPrefix(e.Pattern, "/"), e.Pattern)
		require.NotContains(t, e.Pattern, "//")
		for i, s := range e.segs {
			require.NotEmpty(t, s, e.Pattern)
			if segKind(s) == segRest {
				require.Equal(t, len(e.segs)-1, i, "%s: a rest wildcard comes last", e.Pattern)
			}
			require.Equal(t, s, strings.ToLower(s), "%s: literals are lower-case", e.Pattern)
		}
		require.NotEmpty(t, e.How, e.Pattern)
		require.NotEmpty(t, e.Operation, e.Pattern)
		require.Contains(t, []Kind{Metered, Free, Unmetered}, e.Kind)
		if e.Operation != OrganizationAdmin {
			require.False(t, seen[e.Operation], "operation %s appears twice", e.Operation)
		}
		seen[e.Operation] = true
	}
}

// TestTableNotAmbiguous: no method+path is matched by two rows unless one
// row is strictly more specific (it matches a subset of the other's paths,
// and lookup prefers it). The one tolerated exception is a partial overlap
// between rows of the same Kind, where a mis-pick cannot change metering.
func TestTableNotAmbiguous(t *testing.T) {
	tab := Table()
	for i := range tab {
		for j := i + 1; j < len(tab); j++ {
			a, b := &tab[i], &tab[j]
			if !overlaps(a, b) {
				continue
			}
			aSub, bSub := subset(a, b), subset(b, a)
			switch {
			case aSub && bSub:
				t.Errorf("%s %s and %s %s match exactly the same requests", a.Method, a.Pattern, b.Method, b.Pattern)
			case aSub:
				require.True(t, moreSpecific(a, b), "%s %s should win over %s %s", a.Method, a.Pattern, b.Method, b.Pattern)
			case bSub:
				require.True(t, moreSpecific(b, a), "%s %s should win over %s %s", b.Method, b.Pattern, a.Method, a.Pattern)
			case a.Kind != b.Kind:
				t.Errorf("%s %s (%s) and %s %s (%s) overlap and neither is more specific",
					a.Method, a.Pattern, a.Kind, b.Method, b.Pattern, b.Kind)
			default:
				t.Logf("tolerated overlap of two %s rows: %s %s, %s %s", a.Kind, a.Method, a.Pattern, b.Method, b.Pattern)
			}
		}
	}
}

// overlaps reports whether some request matches both rows.
func overlaps(a, b *Endpoint) bool {
	if a.Method != b.Method && a.Method != "*" && b.Method != "*" {
		return false
	}
	for i := 0; ; i++ {
		aEnd, bEnd := i >= len(a.segs), i >= len(b.segs)
		switch {
		case aEnd && bEnd:
			return true
		case aEnd:
			return false // b needs more segments (a rest needs at least one)
		case bEnd:
			return false
		}
		ka, kb := segKind(a.segs[i]), segKind(b.segs[i])
		if ka == segRest || kb == segRest {
			return true
		}
		if ka == segLiteral && kb == segLiteral && !strings.EqualFold(a.segs[i], b.segs[i]) {
			return false
		}
	}
}

// subset reports whether every request matching a also matches b.
func subset(a, b *Endpoint) bool {
	if b.Method != "*" && a.Method != b.Method {
		return false
	}
	for i := 0; ; i++ {
		aEnd, bEnd := i >= len(a.segs), i >= len(b.segs)
		switch {
		case aEnd && bEnd:
			return true
		case aEnd || bEnd:
			return false
		}
		ka, kb := segKind(a.segs[i]), segKind(b.segs[i])
		switch {
		case kb == segRest:
			return true
		case ka == segRest:
			return false
		case kb == segWildcard:
		case ka != segLiteral || !strings.EqualFold(a.segs[i], b.segs[i]):
			return false
		}
	}
}

func TestMarkdownTable(t *testing.T) {
	md := MarkdownTable()
	lines := strings.Split(strings.TrimSpace(md), "\n")
	require.Len(t, lines, len(Table())+2)
	require.Contains(t, md, "| `/chat/completions` | POST | metered | `chat.completions.create` |")
	require.Contains(t, md, "| `/organization/{path...}` | any | free |")
	for _, l := range lines {
		require.Equal(t, 6, strings.Count(l, "|")-strings.Count(l, "\\|"), l)
	}
}

// TestAmbiguityCheckerCatches proves the checks above can fail.
func TestAmbiguityCheckerCatches(t *testing.T) {
	dup1, dup2 := row("POST", "/threads/{a}", ThreadsUpdate, Free, "x"), row("POST", "/threads/{b}", ThreadsUpdate, Free, "x")
	require.True(t, overlaps(&dup1, &dup2) && subset(&dup1, &dup2) && subset(&dup2, &dup1), "identical shapes")
	p1, p2 := row("GET", "/a/{x}/c", ModelsList, Free, "x"), row("GET", "/a/b/{y}", ModelsList, Metered, "x")
	require.True(t, overlaps(&p1, &p2), "/a/b/c matches both")
	require.False(t, subset(&p1, &p2) || subset(&p2, &p1), "a partial overlap")
	lit, wild := row("POST", "/threads/runs", ThreadsCreateAndRun, Unmetered, "x"), row("POST", "/threads/{id}", ThreadsUpdate, Free, "x")
	require.True(t, subset(&lit, &wild) && moreSpecific(&lit, &wild))
	rest, anyRest := row("POST", "/realtime/calls", RealtimeCalls, Unmetered, "x"), row("*", "/realtime/{p...}", RealtimeOther, Unmetered, "x")
	require.True(t, subset(&rest, &anyRest) && moreSpecific(&rest, &anyRest))
	short := row("*", "/realtime", Realtime, Unmetered, "x")
	require.False(t, overlaps(&short, &anyRest), "a rest wildcard needs one segment at least")
}
