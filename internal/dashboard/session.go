package dashboard

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/proxide/proxide/internal/auth"
)

// cookieName holds the session token; the key itself never leaves the login form.
const cookieName = "proxide_session"

// CSRFHeader must be on every write the dashboard makes with its session: a
// page of another site cannot set it without a CORS preflight, which the
// admin port never grants.
const CSRFHeader = "X-Proxide-Dashboard"

// maxKeyBytes bounds the key a login form may post.
const maxKeyBytes = 1024

// Errors of Check.
var (
	ErrNoSession = errors.New("dashboard: no valid session")
	ErrNoCSRF    = errors.New("dashboard: a write with a session needs the " + CSRFHeader + " header")
)

type session struct {
	key     string // the name of the admin key that signed in (for the log)
	created time.Time
	expires time.Time
}

// sessions are held in memory: a replica's sessions are its own (behind a
// load balancer, use sticky sessions or sign in again), and a restart ends them.
type sessions struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(ttl time.Duration, limit int, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, max: limit, now: now, byID: map[string]*session{}}
}

// start opens a session for a key name and returns its token.
func (s *sessions) start(keyName string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.max {
		s.evictLocked(now)
	}
	s.byID[id] = &session{key: keyName, created: now, expires: now.Add(s.ttl)}
	return id, nil
}

// evictLocked drops the expired sessions, and the oldest one if none was.
func (s *sessions) evictLocked(now time.Time) {
	var oldestID string
	var oldest time.Time
	for id, ss := range s.byID {
		if !now.Before(ss.expires) {
			delete(s.byID, id)
			continue
		}
		if oldestID == "" || ss.created.Before(oldest) {
			oldestID, oldest = id, ss.created
		}
	}
	if len(s.byID) >= s.max {
		delete(s.byID, oldestID)
	}
}

// get returns r's live session, or nil.
func (s *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[c.Value]
	if ss == nil {
		return nil
	}
	if !s.now().Before(ss.expires) {
		delete(s.byID, c.Value)
		return nil
	}
	return ss
}

func (s *sessions) end(r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		delete(s.byID, c.Value)
		s.mu.Unlock()
	}
}

// Check tells the admin API whether r comes from a signed-in dashboard: a
// live session, and on a write the CSRF header too.
func (h *Handler) Check(r *http.Request) error {
	if h.sessions.get(r) == nil {
		return ErrNoSession
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get(CSRFHeader) != "1" {
		return ErrNoCSRF
	}
	return nil
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Proxide</title><link rel="stylesheet" href="assets/app.css"></head>
<body class="login"><main class="login-box">
<h1>Proxide</h1>
<form method="post" action="login">
<label for="key">Admin key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus{{if .Error}} aria-invalid="true" aria-describedby="login-error"{{end}}>
{{if .Error}}<p id="login-error" class="error" role="alert">{{.Error}}</p>{{end}}
<button type="submit">Sign in</button>
</form>
<p class="hint">A Proxide key with the <code>admin</code> scope. It is checked once; the browser keeps only a session cookie.</p>
</main></body></html>
`))

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if h.signedIn(r) {
		http.Redirect(w, r, "./", http.StatusSeeOther)
		return
	}
	h.renderLogin(w, http.StatusOK, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginTmpl.Execute(w, struct{ Error string }{msg})
}

// login checks the posted key like the API checks a Bearer key and opens a session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !h.keysEnabled() {
		http.Redirect(w, r, "./", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxKeyBytes+64)
	key := strings.TrimSpace(r.PostFormValue("key"))
	if key == "" || len(key) > maxKeyBytes {
		h.renderLogin(w, http.StatusBadRequest, "Enter an admin key.")
		return
	}
	k, err := h.opts.Keys.Authenticate("Bearer "+key, auth.ScopeAdmin)
	switch {
	case errors.Is(err, auth.ErrMissingScope):
		h.renderLogin(w, http.StatusForbidden, "This key lacks the admin scope.")
		return
	case err != nil:
		h.renderLogin(w, http.StatusUnauthorized, "Unknown key.")
		return
	}
	id, err := h.sessions.start(k.Name)
	if err != nil {
		h.opts.Logger.Error("dashboard: starting a session", "err", err)
		h.renderLogin(w, http.StatusInternalServerError, "Could not start a session.")
		return
	}
	h.opts.Logger.Info("dashboard: signed in", "key", k.Name)
	//nolint:gosec // G124: HttpOnly and SameSite=Strict always; Secure whenever the dashboard is reached over TLS (secure(r)): a plain-HTTP admin port in development could not send it back
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure(r), MaxAge: int(h.opts.SessionTTL / time.Second)})
	http.Redirect(w, r, "./", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	h.sessions.end(r)
	//nolint:gosec // G124: clears the cookie; same attributes as when it was set
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure(r), MaxAge: -1})
	http.Redirect(w, r, "login", http.StatusSeeOther)
}

// secure marks the cookie Secure when the browser reached us over TLS (also
// through a TLS-terminating proxy that says so).
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
