package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/proxide/proxide/envoy"
	"github.com/proxide/proxide/internal/mtls/mtlstest"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

// mtlsYAML serves the ext_proc port with mutual TLS from f.
func mtlsYAML(f mtlstest.Files) string {
	return e2eYAML("", fmt.Sprintf("listen:\n  tls: {cert_file: %q, key_file: %q, client_ca_file: %q}\nloop_detection: {enabled: false}\n",
		f.Cert, f.Key, f.ClientCA))
}

// anotherEnvoy is a second Envoy stand-in in front of s's sidecar, with its
// own ext_proc connection made with tlsCfg (nil: plaintext); it returns its URL.
func anotherEnvoy(t *testing.T, s *stack, tlsCfg *tls.Config) string {
	t.Helper()
	si, err := envoy.New(envoy.Options{ExtProcAddr: s.grpcAddr, Upstream: s.upURL, ExtProcTLS: tlsCfg,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	front := httptest.NewServer(si)
	t.Cleanup(func() { front.Close(); require.NoError(t, si.Close()) })
	return front.URL
}

// With listen.tls, only an Envoy presenting a client certificate of the
// configured CA gets answers (and so the upstream key); a plaintext caller,
// a stranger's certificate or none fail closed: Envoy's status_on_error (500),
// nothing upstream, nothing charged.
func TestE2EMutualTLSOnTheExtProcPort(t *testing.T) {
	ca, stranger := mtlstest.NewCA(t, "envoys"), mtlstest.NewCA(t, "strangers")
	f := mtlstest.WriteServerFiles(t, t.TempDir(), ca.Server(t), ca)
	s := startStack(t, mtlsYAML(f), func(o *envoy.Options) { o.ExtProcTLS = mtlstest.ClientConfig(t, ca.Client(t, "envoy"), ca) })
	r := s.do(t, call{path: "/openai/v1/chat/completions", client: "tls-ok", body: chatHello})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Len(t, s.upstream.Requests(), 1)

	noCert := mtlstest.ClientConfig(t, ca.Client(t, "envoy"), ca)
	noCert.Certificates = nil
	for name, cfg := range map[string]*tls.Config{
		"plaintext":            nil,
		"a stranger's cert":    mtlstest.ClientConfig(t, stranger.Client(t, "envoy"), ca),
		"no client cert":       noCert,
		"stranger's cert & CA": mtlstest.ClientConfig(t, stranger.Client(t, "envoy"), stranger),
	} {
		url := anotherEnvoy(t, s, cfg)
		r := send(t, url+"/openai/v1/chat/completions", call{client: "tls-refused", body: chatHello}, "prox-e2e-app")
		require.Equal(t, http.StatusInternalServerError, r.status, "%s: %s", name, r.body)
	}
	require.Len(t, s.upstream.Requests(), 1, "no refused caller reached the upstream")
	require.Zero(t, s.spend(t, "tls-refused").Day.SpentNano)

	// The admin gRPC API shares the port: an admin key is not enough without
	// a client certificate.
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(noCert)))
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer prox-e2e-ops")
	_, err = proxidev1.NewAdminServiceClient(conn).ListBudgets(ctx, &proxidev1.ListBudgetsRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	withCert, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(mtlstest.ClientConfig(t, ca.Client(t, "ops"), ca))))
	require.NoError(t, err)
	defer func() { require.NoError(t, withCert.Close()) }()
	_, err = proxidev1.NewAdminServiceClient(withCert).ListBudgets(ctx, &proxidev1.ListBudgetsRequest{})
	require.NoError(t, err, "the same call with a client certificate")
}

// Rotation without a restart: the sidecar's certificate and client CA are
// replaced in place (as a Secret volume update does); the next connection
// uses them. An Envoy with the new CA's certificate is accepted, one still
// holding the old CA's certificate is refused.
func TestE2EMutualTLSFilesReloadWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	oldCA, newCA := mtlstest.NewCA(t, "2026-q3"), mtlstest.NewCA(t, "2026-q4")
	f := mtlstest.WriteServerFiles(t, dir, oldCA.Server(t), oldCA)
	oldClient := mtlstest.ClientConfig(t, oldCA.Client(t, "envoy"), oldCA)
	s := startStack(t, mtlsYAML(f), func(o *envoy.Options) { o.ExtProcTLS = oldClient })
	r := s.do(t, call{path: "/openai/v1/chat/completions", client: "rotating", body: chatHello})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	mtlstest.WriteServerFiles(t, dir, newCA.Server(t), newCA)
	r = send(t, anotherEnvoy(t, s, mtlstest.ClientConfig(t, newCA.Client(t, "envoy"), newCA))+"/openai/v1/chat/completions",
		call{client: "rotating", body: chatHello}, "prox-e2e-app")
	require.Equal(t, http.StatusOK, r.status, "the new CA's Envoy: %s", r.body)
	r = send(t, anotherEnvoy(t, s, oldClient)+"/openai/v1/chat/completions", call{client: "rotating", body: chatHello}, "prox-e2e-app")
	require.Equal(t, http.StatusInternalServerError, r.status, "the old CA's Envoy is refused: %s", r.body)
	require.Len(t, s.upstream.Requests(), 2)
	require.Contains(t, s.logs.String(), "mTLS certificates reloaded")
}

func TestListenTLSNeedsAllThreeFiles(t *testing.T) {
	_, err := load(t, nil, "--config", writeConfig(t, "listen: {tls: {cert_file: /x/tls.crt}}\n"))
	require.ErrorContains(t, err, "listen.tls.key_file: required")
	require.ErrorContains(t, err, "listen.tls.client_ca_file: required")

	cfg, err := load(t, nil, "--config", writeConfig(t, "listen: {tls: {cert_file: /nope/tls.crt, key_file: /nope/tls.key, client_ca_file: /nope/ca.crt}}\n"))
	require.NoError(t, err)
	_, err = newApp(cfg, io.Discard, nil)
	require.ErrorContains(t, err, "listen.tls: cert_file: open /nope/tls.crt")
	require.ErrorContains(t, err, "client_ca_file: open /nope/ca.crt")
}
