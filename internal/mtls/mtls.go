// Package mtls serves mutual TLS from certificate files that may change while
// the server runs.
//
// The ext_proc port hands the upstream OpenAI key to whoever speaks ext_proc
// with a valid Proxide key, so in a shared network it should accept only its
// own Envoys: a client certificate signed by the configured CA. Certificates
// are short-lived in a mesh or under cert-manager, and the files are replaced
// in place (a Kubernetes Secret volume swaps a symlink), so the files are read
// again at every handshake and a change applies to the next connection
// without a restart. A handshake costs far more than reading three small
// files; a change that does not parse is logged and the last good set stays.
package mtls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// Files names the PEM files of a server: its certificate chain and key, and
// the CA bundle client certificates must chain to.
type Files struct {
	CertFile, KeyFile, ClientCAFile string
}

// Server is a reloading mutual-TLS server configuration, safe for concurrent use.
type Server struct {
	files Files
	log   *slog.Logger

	mu      sync.Mutex
	cur     loaded
	lastBad []byte // the contents that last failed to load, logged once
}

// loaded is one consistent set of files and the config made from them.
type loaded struct {
	cert, key, ca []byte
	cfg           *tls.Config
}

// New loads the files; a missing or invalid file is an error naming it.
func New(files Files, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{files: files, log: log}
	raw, err := files.read()
	if err != nil {
		return nil, err
	}
	l, err := build(raw)
	if err != nil {
		return nil, err
	}
	s.cur = l
	return s, nil
}

// Config returns the tls.Config to serve with: each handshake gets the
// configuration of the files as they are then.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.current(), nil },
	}
}

// current reloads the files if they changed and returns the config in force.
func (s *Server) current() *tls.Config {
	raw, err := s.files.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.logBad([]byte(err.Error()), err)
		return s.cur.cfg
	}
	if bytes.Equal(raw.cert, s.cur.cert) && bytes.Equal(raw.key, s.cur.key) && bytes.Equal(raw.ca, s.cur.ca) {
		return s.cur.cfg
	}
	l, err := build(raw)
	if err != nil {
		s.logBad(bytes.Join([][]byte{raw.cert, raw.key, raw.ca}, nil), err)
		return s.cur.cfg
	}
	s.cur, s.lastBad = l, nil
	s.log.Info("mTLS certificates reloaded", "cert_file", s.files.CertFile, "client_ca_file", s.files.ClientCAFile,
		"not_after", l.cfg.Certificates[0].Leaf.NotAfter)
	return l.cfg
}

// logBad logs a failed reload once per distinct failure.
func (s *Server) logBad(contents []byte, err error) {
	if bytes.Equal(contents, s.lastBad) {
		return
	}
	s.lastBad = contents
	s.log.Error("mTLS certificates not reloaded; serving the previous ones", "err", err)
}

func (f Files) read() (loaded, error) {
	var l loaded
	var errs []error
	for _, x := range []struct {
		name, path string
		dst        *[]byte
	}{{"cert_file", f.CertFile, &l.cert}, {"key_file", f.KeyFile, &l.key}, {"client_ca_file", f.ClientCAFile, &l.ca}} {
		b, err := os.ReadFile(x.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", x.name, err))
		}
		*x.dst = b
	}
	return l, errors.Join(errs...)
}

func build(l loaded) (loaded, error) {
	var errs []error
	cert, err := tls.X509KeyPair(l.cert, l.key)
	if err != nil {
		errs = append(errs, fmt.Errorf("cert_file, key_file: %w", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(l.ca) {
		errs = append(errs, errors.New("client_ca_file: no PEM certificate in it"))
	}
	if err := errors.Join(errs...); err != nil {
		return loaded{}, err
	}
	l.cfg = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		// gRPC needs ALPN h2; GetConfigForClient's config is used as it is.
		NextProtos: []string{"h2"},
	}
	return l, nil
}
