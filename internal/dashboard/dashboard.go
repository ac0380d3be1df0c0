// Package dashboard is Proxide's web UI, served on the admin port at /: the
// Overview, Agents (every client's spend, limits and state), a page per
// client, and Budget Rules. The pages are plain ES modules and a vendored
// charting library (uPlot, web/vendor), embedded in the binary, and they read
// and write only through the admin REST API (/v1/*) from the browser: the
// dashboard has no data path of its own.
//
// Signing in: the login form posts an admin key once; the handler checks it
// with the same Authenticator as the API and answers with an HttpOnly,
// SameSite=Strict session cookie, so the key is neither kept by the browser
// nor put in a URL. Without a session only the login page and its stylesheet
// are served. With no keys configured everything is open, like the API.
package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/proxide/proxide/internal/auth"
)

//go:embed web
var webFS embed.FS

// Authenticator checks an Authorization header for a scope (auth.Keys).
type Authenticator interface {
	Enabled() bool
	Authenticate(authorization, scope string) (auth.Key, error)
}

// Options wires the dashboard.
type Options struct {
	// Keys signs people in; nil or disabled: no sign-in (development only).
	Keys Authenticator
	// SessionTTL is how long a session lasts (default 8h).
	SessionTTL time.Duration
	// MaxSessions bounds the sessions held (default 10,000); past it the
	// oldest is ended.
	MaxSessions int
	Now         func() time.Time
	Logger      *slog.Logger
}

// Handler serves the dashboard. It also checks sessions for the admin API
// (Check), so that the signed-in pages can call it.
type Handler struct {
	opts     Options
	files    map[string]asset // by path under web/, e.g. "js/main.js"
	sessions *sessions
	mux      *http.ServeMux
}

// asset is one embedded file, with its gzip form when that is smaller.
type asset struct {
	body, gz    []byte
	contentType string
	etag        string
}

// public are the only files served without a session.
var public = map[string]bool{"login.html": true, "app.css": true}

// securityHeaders go on every response of the dashboard. The CSP allows
// scripts and styles from this origin only (no inline script: uPlot styles
// its elements through the CSSOM, which style-src does not govern).
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Frame-Options":              "DENY",
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Permissions-Policy":           "camera=(), microphone=(), geolocation=()",
}

// New loads the embedded files and returns the handler.
func New(opts Options) (*Handler, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 10_000
	}
	h := &Handler{opts: opts, files: map[string]asset{}, sessions: newSessions(opts.SessionTTL, opts.MaxSessions, opts.Now)}
	err := fs.WalkDir(webFS, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := webFS.ReadFile(p)
		if err != nil {
			return err
		}
		h.files[strings.TrimPrefix(p, "web/")] = newAsset(p, body)
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /{$}", h.page("index.html"))
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.logout)
	h.mux.HandleFunc("GET /assets/{file...}", h.asset)
	return h, nil
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	a := asset{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`,
		contentType: mime.TypeByExtension(path.Ext(name))}
	switch path.Ext(name) { // not left to the system's mime table
	case ".js":
		a.contentType = "text/javascript; charset=utf-8"
	case ".css":
		a.contentType = "text/css; charset=utf-8"
	case ".html":
		a.contentType = "text/html; charset=utf-8"
	case "", ".LICENSE":
		a.contentType = "text/plain; charset=utf-8"
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(body)
	if zw.Close() == nil && buf.Len() < len(body) {
		a.gz = buf.Bytes()
	}
	return a
}

// ServeHTTP serves the dashboard with its security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	h.mux.ServeHTTP(w, r)
}

// signedIn tells whether r may see the dashboard.
func (h *Handler) signedIn(r *http.Request) bool {
	return !h.keysEnabled() || h.sessions.get(r) != nil
}

func (h *Handler) keysEnabled() bool { return h.opts.Keys != nil && h.opts.Keys.Enabled() }

// page serves an HTML page to a signed-in browser, else sends it to the login page.
func (h *Handler) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.signedIn(r) {
			http.Redirect(w, r, "login", http.StatusSeeOther)
			return
		}
		h.serveFile(w, r, name)
	}
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if _, ok := h.files[name]; !ok || name == "index.html" || name == "login.html" {
		http.NotFound(w, r)
		return
	}
	if !public[name] && !h.signedIn(r) {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	h.serveFile(w, r, name)
}

// serveFile writes an embedded file, gzipped when the browser takes it. The
// pages are never cached (they are the sign-in gate); assets are revalidated
// by their ETag.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	a := h.files[name]
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Vary", "Accept-Encoding")
	if strings.HasSuffix(name, ".html") {
		hdr.Set("Cache-Control", "no-store")
	} else {
		hdr.Set("Cache-Control", "private, no-cache")
		hdr.Set("ETag", a.etag)
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	body := a.body
	if a.gz != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		hdr.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	_, _ = w.Write(body)
}
