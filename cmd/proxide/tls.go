package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/proxide/proxide/internal/mtls"
)

// TLSConfig is listen.tls: mutual TLS on the ext_proc gRPC port. Its replies
// carry the upstream OpenAI key, so where the port is reachable by more than
// its own Envoys only a client certificate signed by client_ca_file is let
// in. The files are read again at every new connection: a rotated
// certificate or CA applies without a restart.
type TLSConfig struct {
	CertFile     string `mapstructure:"cert_file"`
	KeyFile      string `mapstructure:"key_file"`
	ClientCAFile string `mapstructure:"client_ca_file"`
}

func (t TLSConfig) enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.ClientCAFile != "" }

// validate: all three files or none. A server certificate without a client
// CA would encrypt the port but still answer any caller.
func (t TLSConfig) validate() error {
	if !t.enabled() {
		return nil
	}
	var errs []error
	for name, v := range map[string]string{"cert_file": t.CertFile, "key_file": t.KeyFile, "client_ca_file": t.ClientCAFile} {
		if v == "" {
			errs = append(errs, fmt.Errorf("listen.tls.%s: required with the other listen.tls files (mutual TLS needs the certificate, its key and the CA of the clients)", name))
		}
	}
	return errors.Join(errs...)
}

// grpcServerOptions loads listen.tls into the gRPC server's credentials, or
// warns that the port answers anyone who can reach it.
func grpcServerOptions(l ListenConfig, log *slog.Logger) ([]grpc.ServerOption, error) {
	if !l.TLS.enabled() {
		if host, _, err := net.SplitHostPort(l.GRPC); err == nil && !isLoopback(host) {
			log.Warn("the ext_proc port has no mutual TLS: its replies carry the upstream key, so only Envoy may reach it (NetworkPolicy, loopback) or set listen.tls",
				"grpc", l.GRPC)
		}
		return nil, nil
	}
	s, err := mtls.New(mtls.Files{CertFile: l.TLS.CertFile, KeyFile: l.TLS.KeyFile, ClientCAFile: l.TLS.ClientCAFile}, log)
	if err != nil {
		return nil, fmt.Errorf("listen.tls: %w", err)
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(s.Config()))}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
