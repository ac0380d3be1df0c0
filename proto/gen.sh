#!/usr/bin/env bash
# Regenerates the Go code of proto/proxide/v1 from admin.proto.
# Needs protoc (Debian: apt-get install -y protobuf-compiler; `make proto`
# installs it). The Go plugins are the `tool` directives of go.mod, so their
# versions are pinned there: `go tool -n` builds each one (or finds it in the
# build cache) and prints its path for protoc's --plugin.
set -euo pipefail
cd "$(dirname "$0")/.."
gen_go="$(go tool -n protoc-gen-go)"
gen_go_grpc="$(go tool -n protoc-gen-go-grpc)"
protoc \
  --plugin=protoc-gen-go="$gen_go" \
  --plugin=protoc-gen-go-grpc="$gen_go_grpc" \
  --proto_path=proto \
  --go_out=proto --go_opt=paths=source_relative \
  --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
  proxide/v1/admin.proto
