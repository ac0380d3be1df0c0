package fakeopenai

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// handler answers one route; ids are the path segments matched by "*".
type handler func(ex *exchange, ids []string) error

type route struct {
	method  string
	pattern string // "/v1/responses/*/cancel": "*" matches one segment
	handle  handler
}

// plain adapts a handler that needs no path ids.
func plain(f func(*exchange) error) handler {
	return func(ex *exchange, _ []string) error { return f(ex) }
}

// one adapts a handler taking the single path id.
func one(f func(*exchange, string) error) handler {
	return func(ex *exchange, ids []string) error { return f(ex, ids[0]) }
}

// routeTable is every endpoint the fake answers, metered or not. It is
// built per Server (not a package variable) because batches route their
// lines through it, which would make an initialization cycle.
func routeTable() []route {
	return []route{
		{http.MethodPost, "/v1/chat/completions", plain((*exchange).chat)},
		{http.MethodGet, "/v1/chat/completions", plain((*exchange).storedChats)},
		{http.MethodGet, "/v1/chat/completions/*", one((*exchange).storedChat)},
		{http.MethodPost, "/v1/completions", plain((*exchange).completions)},
		{http.MethodPost, "/v1/embeddings", plain((*exchange).embeddings)},
		{http.MethodPost, "/v1/moderations", plain((*exchange).moderations)},

		{http.MethodPost, "/v1/responses", plain((*exchange).responses)},
		{http.MethodGet, "/v1/responses/*", one((*exchange).getResponse)},
		{http.MethodDelete, "/v1/responses/*", one((*exchange).deleteResponse)},
		{http.MethodPost, "/v1/responses/*/cancel", one((*exchange).cancelResponse)},
		{http.MethodGet, "/v1/responses/*/input_items", one((*exchange).inputItems)},

		{http.MethodPost, "/v1/images/generations", plain((*exchange).imageGenerations)},
		{http.MethodPost, "/v1/images/edits", plain((*exchange).imageEdits)},
		{http.MethodPost, "/v1/images/variations", plain((*exchange).imageVariations)},

		{http.MethodPost, "/v1/audio/speech", plain((*exchange).speech)},
		{http.MethodPost, "/v1/audio/transcriptions", plain((*exchange).transcriptions)},
		{http.MethodPost, "/v1/audio/translations", plain((*exchange).translations)},

		{http.MethodPost, "/v1/files", plain((*exchange).uploadFile)},
		{http.MethodGet, "/v1/files", plain((*exchange).listFiles)},
		{http.MethodGet, "/v1/files/*", one((*exchange).getFile)},
		{http.MethodGet, "/v1/files/*/content", one((*exchange).fileContent)},
		{http.MethodDelete, "/v1/files/*", one((*exchange).deleteFile)},

		{http.MethodPost, "/v1/batches", plain((*exchange).createBatch)},
		{http.MethodGet, "/v1/batches", plain((*exchange).listBatches)},
		{http.MethodGet, "/v1/batches/*", one((*exchange).getBatch)},
		{http.MethodPost, "/v1/batches/*/cancel", one((*exchange).cancelBatch)},

		{http.MethodPost, "/v1/realtime/client_secrets", plain((*exchange).realtimeClientSecret)},
		{http.MethodPost, "/v1/realtime/sessions", plain((*exchange).realtimeSession)},
		{http.MethodPost, "/v1/fine_tuning/jobs", plain((*exchange).createFineTune)},
		{http.MethodGet, "/v1/fine_tuning/jobs", plain((*exchange).listFineTunes)},
		{http.MethodGet, "/v1/fine_tuning/jobs/*", one((*exchange).getFineTune)},
		{http.MethodPost, "/v1/containers", plain((*exchange).createContainer)},
		{http.MethodPost, "/v1/videos", plain((*exchange).createVideo)},
		{http.MethodGet, "/v1/videos/*", one((*exchange).getVideo)},
		{http.MethodPost, "/v1/vector_stores", plain((*exchange).createVectorStore)},
		{http.MethodPost, "/v1/conversations", plain((*exchange).createConversation)},

		{http.MethodGet, "/v1/models", plain((*exchange).models)},
		{http.MethodGet, "/v1/models/*", one((*exchange).model)},
	}
}

func (ex *exchange) route() error {
	p, m := ex.r.URL.Path, ex.r.Method
	for _, rt := range ex.s.routes {
		if rt.method != m {
			continue
		}
		if ids, ok := matchPath(rt.pattern, p); ok {
			return rt.handle(ex, ids)
		}
	}
	ex.error(http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", m, p), "invalid_request_error", "")
	return nil
}

// matchPath matches path against pattern segment by segment; "*" matches any
// one non-empty segment and is returned in ids.
func matchPath(pattern, path string) (ids []string, ok bool) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return nil, false
	}
	for i, seg := range ps {
		switch {
		case seg == "*" && xs[i] != "":
			ids = append(ids, xs[i])
		case seg != xs[i]:
			return nil, false
		}
	}
	return ids, true
}

// authorized checks the upstream key when the fake was given one, answering
// OpenAI's 401 bodies: one for a missing key, one for a wrong key.
func (ex *exchange) authorized() bool {
	if ex.s.key == "" {
		return true
	}
	auth := ex.r.Header.Get("Authorization")
	key, found := strings.CutPrefix(auth, "Bearer ")
	if !found || key == "" {
		ex.error(http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.", "invalid_request_error", "")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(ex.s.key)) == 1 {
		return true
	}
	ex.error(http.StatusUnauthorized, "Incorrect API key provided: "+maskKey(key)+". You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key")
	return false
}

// maskKey shows a key the way OpenAI's 401 does: its start, stars, its end.
func maskKey(k string) string {
	if len(k) <= 8 {
		return strings.Repeat("*", len(k))
	}
	return k[:3] + strings.Repeat("*", len(k)-7) + k[len(k)-4:]
}
