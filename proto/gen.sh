#!/usr/bin/env bash
# Regenerates the Go code of proto/proxide/v1 from admin.proto.
# Needs protoc (Debian: apt-get install -y protobuf-compiler); the Go plugins are
# pinned as tools in go.mod and run through `go tool`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$bin/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc
PATH="$bin:$PATH" protoc \
  --proto_path=proto \
  --go_out=proto --go_opt=paths=source_relative \
  --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
  proxide/v1/admin.proto
