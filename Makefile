# Proxide — `make help` lists the targets.
GO      ?= go
BIN     := bin/proxide
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PKGS    := ./...
FUZZTIME ?= 10s
SOAK ?= 3m
SOAK_STREAMS ?= 2000
IMAGE   ?= ghcr.io/proxide/proxide

# The ports of `make run` and `make demo`: make demo FRONT_PORT=11000 ADMIN_PORT=9090
GRPC_PORT  ?= 50051
ADMIN_PORT ?= 8080
FRONT_PORT ?= 10000

# The official-SDK compatibility suites (envoy/sdktest): a Go module of their
# own and a Node folder whose packages npm ci installs from the lockfile.
SDKTEST_NODE := envoy/sdktest/node
NODE_DEPS    := $(SDKTEST_NODE)/node_modules/.package-lock.json

# The LiteLLM price snapshot the embedded price table is generated from. It is
# kept outside the repository, beside it: `make generate LITELLM=file.json`.
LITELLM ?= ../shared/data/litellm-model-prices-2026-07-24.json

# golangci-lint is built from the Go module proxy at this version into bin/
# (once; a new version gets a new file name). It is not a go.mod tool: its
# dependencies would swell the sidecar's module graph.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT         := $(CURDIR)/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/proxide (static)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/proxide

.PHONY: run
run: ## run Proxide with the demo config (in-memory ledger, ext_proc :50051, admin :8080; GRPC_PORT=, ADMIN_PORT= change them)
	$(GO) run ./cmd/proxide serve --config cmd/proxide/demo.yaml --grpc-addr :$(GRPC_PORT) --admin-addr :$(ADMIN_PORT)

.PHONY: demo
demo: ## proxide dev --demo: Proxide behind a local Envoy stand-in (:10000, FRONT_PORT=) and a fake OpenAI: a client metered, a 402, a loop's 429; keeps serving
	$(GO) build -o bin/proxide ./cmd/proxide
	bin/proxide dev --demo --listen 127.0.0.1:$(FRONT_PORT) --grpc-addr 127.0.0.1:$(GRPC_PORT) --admin-addr 127.0.0.1:$(ADMIN_PORT)

.PHONY: redis
redis: ## make sure redis-server is installed (the ledger contract tests need a real one)
	@command -v redis-server >/dev/null 2>&1 && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing redis-server (apt-get)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) || exit 1; \
	else \
		echo "redis-server is missing: install it first, e.g. 'sudo apt-get install -y redis-server' or 'brew install redis'"; exit 1; \
	fi

.PHONY: chromium
chromium: ## make sure Debian's chromium is installed (the dashboard's browser tests drive it)
	@command -v chromium >/dev/null 2>&1 && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (apt-get)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || exit 1; \
	else \
		echo "chromium is missing: install it first, e.g. 'sudo apt-get install -y chromium'"; exit 1; \
	fi

.PHONY: node
node: ## make sure Node.js 20+ and npm are installed (the Node SDK compatibility suite)
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing nodejs and npm (apt-get)"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null) || exit 1; \
		else \
			echo "node and npm are missing: install Node.js 20 or later with npm, e.g. 'sudo apt-get install -y nodejs npm' (Debian 13, Ubuntu 24.04) or 'brew install node'"; exit 1; \
		fi; \
	fi; \
	node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { \
		echo "node $$(node --version) is too old: the SDK suite needs Node.js 20 or later (e.g. https://nodejs.org or NodeSource's nodejs 20 package)"; exit 1; }

# npm ci only when the lockfile changed since the last install (npm writes
# node_modules/.package-lock.json).
$(NODE_DEPS): $(SDKTEST_NODE)/package-lock.json | node
	cd $(SDKTEST_NODE) && npm ci --no-audit --no-fund --ignore-scripts

.PHONY: test-sdk
test-sdk: $(NODE_DEPS) ## the official-SDK compatibility suites (Go openai-go v3, Node openai 6.x and 7.x) through a real proxide dev
	$(GO) build -o bin/proxide-sdktest ./cmd/proxide
	cd envoy/sdktest/go && PROXIDE_BIN=$(CURDIR)/bin/proxide-sdktest $(GO) test -count=1 ./...
	cd $(SDKTEST_NODE) && PROXIDE_BIN=$(CURDIR)/bin/proxide-sdktest node --test

.PHONY: dashboard-vendor
dashboard-vendor: ## re-vendor the dashboard's chart library (uPlot, pinned in internal/dashboard/package-lock.json) with npm ci
	cd internal/dashboard && npm ci --no-audit --no-fund --ignore-scripts
	cp internal/dashboard/node_modules/uplot/dist/uPlot.iife.min.js internal/dashboard/node_modules/uplot/dist/uPlot.min.css internal/dashboard/web/vendor/
	cp internal/dashboard/node_modules/uplot/LICENSE internal/dashboard/web/vendor/uPlot.LICENSE

.PHONY: test
test: redis chromium $(NODE_DEPS) ## run every test: -race on the sidecar's module (unit, ledger contract on a real redis-server, end to end through the Envoy stand-in), the k8s/ module (chart, manifests, mesh), the official-SDK suites
	PROXIDE_REQUIRE_REDIS=1 PROXIDE_REQUIRE_CHROMIUM=1 $(GO) test -race -count=1 $(PKGS)
	cd k8s && $(GO) test -count=1 ./...
	@$(MAKE) --no-print-directory test-sdk
	@$(MAKE) --no-print-directory fuzz-ci

.PHONY: test-fast
test-fast: redis chromium $(NODE_DEPS) ## run every test without the race detector (about 3x faster)
	PROXIDE_REQUIRE_REDIS=1 PROXIDE_REQUIRE_CHROMIUM=1 $(GO) test -count=1 $(PKGS)
	cd k8s && $(GO) test -count=1 ./...
	@$(MAKE) --no-print-directory test-sdk

.PHONY: test-envoy
test-envoy: ## run the Envoy configs through a real envoy binary (fails if envoy is not on PATH)
	PROXIDE_REQUIRE_ENVOY=1 $(GO) test -count=1 -v -run 'TestEnvoyBinary|TestConfigs|TestLocalize' ./envoy

.PHONY: test-k8s
test-k8s: ## validate the sidecar manifests, Helm chart, Istio and Envoy Gateway examples, Dockerfile
	cd k8s && $(GO) test -count=1 ./...

.PHONY: helm-lint
helm-lint: ## render + lint the Helm chart with helm's Go packages (and the helm CLI when installed)
	cd k8s && $(GO) test -count=1 -run 'TestChart' ./...
	@if command -v helm >/dev/null 2>&1; then helm lint --strict k8s/helm/proxide; else echo "helm CLI not installed: linted with helm's Go packages only"; fi

.PHONY: image
image: ## build the container image (needs docker or podman with a running engine)
	@tool=$$(command -v docker || command -v podman) || { echo "image: no docker or podman"; exit 1; }; \
	$$tool build -t $(IMAGE):$(VERSION) --build-arg VERSION=$(VERSION) .

.PHONY: test-integration
test-integration: redis ## only the end-to-end and real-Redis tests
	PROXIDE_REQUIRE_REDIS=1 $(GO) test -count=1 -run 'E2E|Redis|Contract|Overshoot' ./...

.PHONY: bench
bench: redis ## testing.B benchmarks (-benchmem) and the load harness against a no-op floor (~15 min); writes bench/results.md
	PROXIDE_REQUIRE_REDIS=1 $(GO) test -run '^$$' -bench . -benchmem -count=1 ./pricing ./internal/usage ./internal/usage/bpe ./internal/loop ./budget/... ./extproc | tee bin/testing-b.txt
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/proxide ./cmd/proxide
	$(GO) build -o bin/loadbench ./bench/cmd/loadbench
	bin/loadbench -proxide bin/proxide -testing-b bin/testing-b.txt -out bench/results.md

.PHONY: bench-quick
bench-quick: ## the load harness for one short round of each measurement (a smoke test; results in bin/results-quick.md)
	$(GO) build -o bin/proxide ./cmd/proxide
	$(GO) build -o bin/loadbench ./bench/cmd/loadbench
	bin/loadbench -quick -proxide bin/proxide -out bin/results-quick.md

.PHONY: fuzz
fuzz: ## fuzz the SSE meter, the request parser and the loop signature for 30s each
	$(GO) test -run '^$$' -fuzz FuzzMeter -fuzztime 30s ./internal/usage
	$(GO) test -run '^$$' -fuzz FuzzParseRequest -fuzztime 30s ./internal/usage
	$(GO) test -run '^$$' -fuzz FuzzSignature -fuzztime 30s ./internal/loop

.PHONY: soak
soak: redis ## thousands of concurrent streams through a real sidecar with Redis restarted twice, for minutes (SOAK=3m, SOAK_STREAMS=2000): memory and goroutines flat, spend exact
	PROXIDE_REQUIRE_REDIS=1 PROXIDE_SOAK=$(SOAK) PROXIDE_SOAK_STREAMS=$(SOAK_STREAMS) $(GO) test -count=1 -v -timeout 30m -run '^TestSoakRedisRestarts$$' ./cmd/proxide

.PHONY: fuzz-ci
fuzz-ci: ## the same fuzz targets for FUZZTIME (10s) each, from their committed corpora (testdata/fuzz); run by make test
	$(GO) test -run '^$$' -fuzz '^FuzzMeter$$' -fuzztime $(FUZZTIME) ./internal/usage
	$(GO) test -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME) ./internal/usage
	$(GO) test -run '^$$' -fuzz '^FuzzSignature$$' -fuzztime $(FUZZTIME) ./internal/loop

.PHONY: generate
generate: ## regenerate the embedded price table from a LiteLLM snapshot (LITELLM=file.json, default ../shared/data/…)
	@test -f "$(LITELLM)" || { echo "generate: LiteLLM snapshot $(LITELLM) not found: pass LITELLM=path/to/file.json"; exit 1; }
	LITELLM="$(abspath $(LITELLM))" $(GO) generate ./pricing

.PHONY: protoc
protoc: # make sure protoc is installed (Debian's protobuf-compiler when root)
	@command -v protoc >/dev/null 2>&1 && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing protoc (apt-get install protobuf-compiler)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null) || exit 1; \
	else \
		echo "protoc is missing: install it first, e.g. 'sudo apt-get install -y protobuf-compiler' or 'brew install protobuf'"; exit 1; \
	fi

.PHONY: proto
proto: protoc ## regenerate proto/proxide/v1 (installs protoc from Debian when missing)
	proto/gen.sh

.PHONY: check-generated
check-generated: ## regenerate proto/ and the price table into the tree and fail if they differ from git (CI)
	@$(MAKE) --no-print-directory proto
	@if [ -f "$(LITELLM)" ]; then \
		$(MAKE) --no-print-directory generate; \
	else \
		echo "check-generated: LiteLLM snapshot $(LITELLM) not found: the price table is NOT checked (pass LITELLM=path/to/file.json)"; \
	fi
	@git diff --exit-code -- proto/proxide pricing/data/openai.json pricing/data/SOURCE || { echo "check-generated: the generated files above differ from what their sources produce: run make proto / make generate and commit the result"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- proto/proxide); \
	if [ -n "$$untracked" ]; then echo "check-generated: untracked generated files:"; echo "$$untracked"; exit 1; fi

$(GOLANGCI_LINT):
	@mkdir -p $(@D)
	GOBIN=$(@D) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	@mv $(@D)/golangci-lint $@

.PHONY: lint
lint: $(GOLANGCI_LINT) ## go mod tidy -diff, gofmt and go vet (both modules), golangci-lint (.golangci.yml)
	$(GO) mod tidy -diff
	cd k8s && $(GO) mod tidy -diff
	cd envoy/sdktest/go && $(GO) mod tidy -diff
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	cd k8s && $(GO) vet ./...
	cd envoy/sdktest/go && $(GO) vet ./...
	$(GOLANGCI_LINT) run $(PKGS)
	cd k8s && $(GOLANGCI_LINT) run --config ../.golangci.yml ./...
	cd envoy/sdktest/go && $(GOLANGCI_LINT) run --config ../../../.golangci.yml ./...

.PHONY: clean
clean: ## remove build output
	rm -rf bin
