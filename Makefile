# kubectl-asmfed. `make demo` runs the main job on the local sandbox; `make test` is what CI runs.
SHELL := /bin/bash
GO ?= go
BIN := bin/kubectl-asmfed
FUZZTIME ?= 20s
# Minimising each new interesting input may take the whole run when inputs are slow; keep it short
# so that the short runs below fuzz rather than minimise.
FUZZMINIMIZETIME ?= 2s

.PHONY: all build demo test vet fmt-check unit fuzz generate clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/kubectl-asmfed
	$(GO) build -trimpath -o bin/asmfed-sandbox ./cmd/asmfed-sandbox

demo: build
	hack/demo.sh

test: fmt-check vet unit fuzz

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The cluster tests run against real kube-apiserver, kube-controller-manager and etcd processes,
# built once from the Go module proxy into a cache keyed by version (15-25 minutes and about
# 2.7 GB of memory when not cached, about a second when cached); they fail rather than skip here.
# ensure.sh also builds kube-scheduler and kwok (clusters with nodes, a few minutes cold),
# pilot-discovery for internal/istiodtest and the sandbox (hack/istiobin, about 8 minutes cold),
# and GoReleaser and krew for hack/release (hack/releasebin, about 7 minutes cold), whose test runs
# `goreleaser check` and validates a snapshot release's krew manifest with krew's own validator.
unit:
	@echo "== local Kubernetes binaries (hack/testbin)"
	@cache="$$(hack/testbin/ensure.sh)" && \
	export ASMFED_CACHE="$$cache" ASMFED_REQUIRE_TESTENV=1 && \
	echo "== go test ./... (binaries in $$cache)" && \
	$(GO) test -count=1 ./...

# A short run of every fuzz target (about 45 s in all): no panics, every problem positioned. The
# decoder is fuzzed without the guard that turns a panic into an error.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/api/v1alpha1
	$(GO) test -run '^$$' -fuzz '^FuzzOverlay$$' -fuzztime 15s -fuzzminimizetime $(FUZZMINIMIZETIME) ./pkg/istio/render
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s -fuzzminimizetime $(FUZZMINIMIZETIME) ./internal/pemcert

generate:
	$(GO) run ./hack/gen

clean:
	rm -rf bin dist
