# tickflow — see README.md. Every target works from a fresh clone.
GO        ?= go
BIN       ?= bin/tickflow
# Packages that start goroutines/servers run under the race detector.
RACE_PKGS ?= ./broker/... ./harness/... ./scenarios/...
TEST_FLAGS ?= -timeout 15m

.PHONY: all build release test vet fmt-check demo bench interop long screenshot clean

all: build

# The commit goes into `tickflow --version` (GOFLAGS may disable VCS stamping).
build:
	$(GO) build -ldflags "-X main.commit=$$(git rev-parse HEAD 2>/dev/null)" -o $(BIN) ./cmd/tickflow

# Two stripped binaries: bin/tickflow (cgo: every command, DuckDB for
# `query`) and bin/tickflow-static (CGO_ENABLED=0: a static binary for
# containers and VMs; everything but `query`, which says it needs the cgo build).
release:
	$(GO) build -trimpath -ldflags "-s -w -X main.commit=$$(git rev-parse HEAD 2>/dev/null)" -o $(BIN) ./cmd/tickflow
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.commit=$$(git rev-parse HEAD 2>/dev/null)" -o $(BIN)-static ./cmd/tickflow
	@for b in $(BIN) $(BIN)-static; do \
		size=$$(stat -c %s $$b); \
		kind=$$(command -v file >/dev/null && file -b $$b | cut -d, -f1-2,4 || echo "install 'file' to see the linkage"); \
		awk -v b=$$b -v s=$$size -v k="$$kind" 'BEGIN { printf "%-22s %6.1f MB  %s\n", b, s / 1048576, k }'; \
	done

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The README's test command: formatting, vet, the race detector on the
# concurrent packages, and every other package (examples included).
# The tests that run `tickflow sink` processes (scenarios, bench) share the
# one binary built here ($TICKFLOW_BIN) instead of each building their own.
test: fmt-check vet build
	TICKFLOW_BIN=$(CURDIR)/$(BIN) $(GO) test $(TEST_FLAGS) -race $(RACE_PKGS)
	TICKFLOW_BIN=$(CURDIR)/$(BIN) $(GO) test $(TEST_FLAGS) $$($(GO) list ./... | grep -v -e /broker -e /harness -e /scenarios)

# The main job on its embedded default: the whole pipeline on the HSI sample.
demo:
	$(GO) run ./cmd/tickflow demo

bench: build
	$(BIN) bench

# Real clients (kcat, aws CLI, kafka-python, boto3) against `tickflow serve`.
interop: build
	TICKFLOW_INTEROP=1 TICKFLOW_BIN=$(CURDIR)/$(BIN) $(GO) test -timeout 45m -count=1 -run Interop -v ./cmd/tickflow/ ./examples/...

# Full iteration counts for the fault scenarios.
long:
	TICKFLOW_LONG=1 $(GO) test -timeout 90m ./scenarios/...

# docs/dashboard.png: the dashboard's browser test (needs Chromium) takes it.
screenshot:
	$(GO) test -count=1 -run '^TestBrowser$$' ./harness/dashboard/ -args -screenshot=$(CURDIR)/docs/dashboard.png

clean:
	rm -rf bin
