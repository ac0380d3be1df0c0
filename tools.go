//go:build tools

// Package tools pins modules that are used only by tests or go:generate, so that
// `go mod tidy` keeps them in go.mod.
package tools

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	_ "github.com/pkoukk/tiktoken-go"
	_ "github.com/pkoukk/tiktoken-go-loader"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/spf13/viper"
	_ "github.com/stretchr/testify/require"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/testing/protocmp"
)
