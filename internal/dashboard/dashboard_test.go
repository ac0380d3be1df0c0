package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/auth"
)

func newTestHandler(t *testing.T, keys []auth.KeySpec, now func() time.Time) *Handler {
	t.Helper()
	var a Authenticator
	if keys != nil {
		k, err := auth.NewKeys(keys)
		require.NoError(t, err)
		a = k
	}
	h, err := New(Options{Keys: a, Now: now, SessionTTL: time.Hour, MaxSessions: 2})
	require.NoError(t, err)
	return h
}

var testKeys = []auth.KeySpec{{Name: "ops", Key: "prox-ops", Scopes: []string{auth.ScopeAdmin}},
	{Name: "app", Key: "prox-app", Scopes: []string{auth.ScopeGateway}}}

func do(h http.Handler, method, target, body string, cookie *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequestWithContext(context.Background(), method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.Header.Set("Accept-Encoding", "gzip")
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func login(t *testing.T, h http.Handler, key string) (*httptest.ResponseRecorder, *http.Cookie) {
	t.Helper()
	w := do(h, http.MethodPost, "/login", url.Values{"key": {key}}.Encode(), nil)
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			return w, c
		}
	}
	return w, nil
}

func TestOnlyTheLoginPageWithoutASession(t *testing.T) {
	h := newTestHandler(t, testKeys, nil)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/", http.StatusSeeOther},
		{"/login", http.StatusOK},
		{"/assets/app.css", http.StatusOK},
		{"/assets/js/main.js", http.StatusUnauthorized},
		{"/assets/vendor/uPlot.iife.min.js", http.StatusUnauthorized},
		{"/assets/index.html", http.StatusNotFound},
		{"/assets/nope.js", http.StatusNotFound},
	} {
		w := do(h, http.MethodGet, tc.path, "", nil)
		require.Equal(t, tc.want, w.Code, tc.path)
		require.Contains(t, w.Header().Get("Content-Security-Policy"), "script-src 'self'", tc.path)
		require.Equal(t, "DENY", w.Header().Get("X-Frame-Options"), tc.path)
		require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"), tc.path)
		require.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"), tc.path)
	}
	require.Equal(t, "/login", do(h, http.MethodGet, "/", "", nil).Header().Get("Location"))
}

func TestLogin(t *testing.T) {
	h := newTestHandler(t, testKeys, nil)
	for _, tc := range []struct {
		key, msg string
		status   int
	}{
		{"", "Enter an admin key.", http.StatusBadRequest},
		{"prox-wrong", "Unknown key.", http.StatusUnauthorized},
		{"prox-app", "This key lacks the admin scope.", http.StatusForbidden},
		{strings.Repeat("k", 2000), "", http.StatusBadRequest},
	} {
		w, c := login(t, h, tc.key)
		require.Equal(t, tc.status, w.Code, tc.key)
		require.Nil(t, c, "no session for %q", tc.key)
		require.Contains(t, w.Body.String(), tc.msg)
	}
	w, c := login(t, h, "prox-ops")
	require.Equal(t, http.StatusSeeOther, w.Code)
	require.NotNil(t, c)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.NotContains(t, c.Value, "prox-ops", "the cookie is a token, not the key")

	page := do(h, http.MethodGet, "/", "", c)
	require.Equal(t, http.StatusOK, page.Code)
	require.Equal(t, "no-store", page.Header().Get("Cache-Control"))
	require.Equal(t, "gzip", page.Header().Get("Content-Encoding"))
	js := do(h, http.MethodGet, "/assets/js/main.js", "", c)
	require.Equal(t, http.StatusOK, js.Code)
	require.Equal(t, "text/javascript; charset=utf-8", js.Header().Get("Content-Type"))

	out := do(h, http.MethodPost, "/logout", "", c)
	require.Equal(t, http.StatusSeeOther, out.Code)
	require.Equal(t, http.StatusSeeOther, do(h, http.MethodGet, "/", "", c).Code, "the session ended")
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	h := newTestHandler(t, testKeys, func() time.Time { return now })
	_, c := login(t, h, "prox-ops")
	req := func(method string, csrf bool, cookie *http.Cookie) *http.Request {
		r := httptest.NewRequestWithContext(context.Background(), method, "/v1/budgets", http.NoBody)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		if csrf {
			r.Header.Set(CSRFHeader, "1")
		}
		return r
	}
	require.NoError(t, h.Check(req(http.MethodGet, false, c)))
	require.ErrorIs(t, h.Check(req(http.MethodPost, false, c)), ErrNoCSRF, "a write needs the header")
	require.NoError(t, h.Check(req(http.MethodDelete, true, c)))
	require.ErrorIs(t, h.Check(req(http.MethodGet, false, nil)), ErrNoSession)
	require.ErrorIs(t, h.Check(req(http.MethodGet, false, &http.Cookie{Name: cookieName, Value: "forged", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})), ErrNoSession)
	now = now.Add(time.Hour)
	require.ErrorIs(t, h.Check(req(http.MethodGet, false, c)), ErrNoSession, "expired")
}

func TestSessionsAreBounded(t *testing.T) {
	h := newTestHandler(t, testKeys, nil)
	_, first := login(t, h, "prox-ops")
	_, second := login(t, h, "prox-ops")
	_, third := login(t, h, "prox-ops") // MaxSessions 2: the oldest goes
	require.Error(t, h.Check(httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", http.NoBody).WithContext(t.Context())))
	for c, want := range map[*http.Cookie]bool{first: false, second: true, third: true} {
		r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", http.NoBody)
		r.AddCookie(c)
		require.Equal(t, want, h.Check(r) == nil)
	}
}

func TestNoKeysConfiguredIsOpen(t *testing.T) {
	h := newTestHandler(t, nil, nil)
	require.Equal(t, http.StatusOK, do(h, http.MethodGet, "/", "", nil).Code)
	require.Equal(t, http.StatusOK, do(h, http.MethodGet, "/assets/js/main.js", "", nil).Code)
	require.Equal(t, http.StatusSeeOther, do(h, http.MethodGet, "/login", "", nil).Code)
}

func TestAssetsRevalidateByETag(t *testing.T) {
	h := newTestHandler(t, nil, nil)
	w := do(h, http.MethodGet, "/assets/vendor/uPlot.iife.min.js", "", nil)
	require.Equal(t, http.StatusOK, w.Code)
	etag := w.Header().Get("ETag")
	require.NotEmpty(t, etag)
	r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/assets/vendor/uPlot.iife.min.js", http.NoBody)
	r.Header.Set("If-None-Match", etag)
	w2 := httptest.NewRecorder()
	h.ServeHTTP(w2, r)
	require.Equal(t, http.StatusNotModified, w2.Code)
	require.Equal(t, http.StatusOK, do(h, http.MethodGet, "/assets/vendor/uPlot.LICENSE", "", nil).Code, "the licence ships with it")
}
