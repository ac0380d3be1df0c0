package mtls

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/mtls/mtlstest"
)

// serveTLS accepts connections with cfg and completes each handshake; the
// client learns the outcome from its own handshake.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).HandshakeContext(context.Background())
				_, _ = c.Write([]byte("ok"))
				_ = c.Close()
			}()
		}
	}()
	return lis.Addr().String()
}

// handshake dials addr with cfg and reads the server's first bytes: a
// refused client certificate surfaces there in TLS 1.3.
func handshake(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	c, err := (&tls.Dialer{Config: cfg}).DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	buf := make([]byte, 2)
	_, err = c.Read(buf)
	return err
}

func TestOnlyClientsOfTheCAAreAccepted(t *testing.T) {
	ca, other := mtlstest.NewCA(t, "envoys"), mtlstest.NewCA(t, "strangers")
	f := mtlstest.WriteServerFiles(t, t.TempDir(), ca.Server(t), ca)
	s, err := New(Files{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.ClientCA}, nil)
	require.NoError(t, err)
	addr := serveTLS(t, s.Config())

	require.NoError(t, handshake(t, addr, mtlstest.ClientConfig(t, ca.Client(t, "envoy"), ca)))
	require.Error(t, handshake(t, addr, mtlstest.ClientConfig(t, other.Client(t, "envoy"), ca)), "a certificate of another CA")
	noCert := mtlstest.ClientConfig(t, ca.Client(t, "envoy"), ca)
	noCert.Certificates = nil
	require.Error(t, handshake(t, addr, noCert), "no client certificate")
}

// Rotation without a restart: the files are replaced in place; the next
// handshake uses them. A new CA's client is accepted, the old CA's refused;
// a broken rewrite keeps the last good set and is logged once.
func TestFilesAreReloadedWhenTheyChange(t *testing.T) {
	dir := t.TempDir()
	oldCA, newCA := mtlstest.NewCA(t, "old"), mtlstest.NewCA(t, "new")
	f := mtlstest.WriteServerFiles(t, dir, oldCA.Server(t), oldCA)
	var logs bytes.Buffer
	s, err := New(Files{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.ClientCA}, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	addr := serveTLS(t, s.Config())
	oldClient := mtlstest.ClientConfig(t, oldCA.Client(t, "envoy"), oldCA)
	require.NoError(t, handshake(t, addr, oldClient))

	mtlstest.WriteServerFiles(t, dir, newCA.Server(t), newCA)
	require.NoError(t, handshake(t, addr, mtlstest.ClientConfig(t, newCA.Client(t, "envoy"), newCA)), "the new CA's client")
	require.Error(t, handshake(t, addr, oldClient), "the old CA is no longer trusted")
	require.Contains(t, logs.String(), "mTLS certificates reloaded")

	// A half-written or broken file: the last good set keeps serving.
	require.NoError(t, os.WriteFile(f.ClientCA, []byte("not a certificate"), 0o600))
	newClient := mtlstest.ClientConfig(t, newCA.Client(t, "envoy-2"), newCA)
	require.NoError(t, handshake(t, addr, newClient))
	require.NoError(t, handshake(t, addr, newClient))
	require.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("not reloaded")), "logged once: %s", logs.String())
	require.NoError(t, os.Remove(f.Key))
	require.NoError(t, handshake(t, addr, newClient), "a missing file keeps the last good set too")
}

func TestNewNamesEveryBadFile(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t, "ca")
	f := mtlstest.WriteServerFiles(t, dir, ca.Server(t), ca)
	_, err := New(Files{CertFile: f.Cert, KeyFile: filepath.Join(dir, "missing.key"), ClientCAFile: filepath.Join(dir, "missing.crt")}, nil)
	require.ErrorContains(t, err, "key_file")
	require.ErrorContains(t, err, "client_ca_file")

	require.NoError(t, os.WriteFile(f.ClientCA, []byte("junk"), 0o600))
	other := mtlstest.NewCA(t, "other").Server(t)
	require.NoError(t, os.WriteFile(f.Key, other.KeyPEM, 0o600))
	_, err = New(Files{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.ClientCA}, nil)
	require.ErrorContains(t, err, "cert_file, key_file")
	require.ErrorContains(t, err, "client_ca_file: no PEM certificate")
}
