# syntax=docker/dockerfile:1
# Proxide image: a static Go binary on distroless/static (CA certificates and
# time-zone data included, no shell), running as the nonroot user 65532.
#   docker build -t ghcr.io/proxide/proxide:dev --build-arg VERSION=dev .   (or: make image)
#   docker run --rm -v $PWD/proxide.yaml:/etc/proxide/proxide.yaml:ro \
#     ghcr.io/proxide/proxide:dev --config /etc/proxide/proxide.yaml

# The Go of go.mod (k8s/image_test.go checks they agree).
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so source edits do not re-download them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
# Static (no cgo) and with the IANA time-zone database built in
# (budgets.timezone), so the runtime image needs nothing else.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/proxide ./cmd/proxide

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/proxide /proxide
USER 65532:65532
# 50051: ext_proc gRPC (listen.grpc). 8080: admin HTTP, /healthz /readyz /metrics (listen.admin).
EXPOSE 50051 8080
ENTRYPOINT ["/proxide", "serve"]
