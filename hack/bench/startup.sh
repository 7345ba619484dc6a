#!/usr/bin/env bash
# The shipped binary's size and start-up: builds kubectl-asmfed for linux/amd64 as the release
# does (.goreleaser.yaml: CGO_ENABLED=0, -trimpath, -ldflags "-s -w"), prints its size, then times
# `kubectl-asmfed version` against `kubectl version --client` on this machine, interleaved (one of
# each per round, so both see the same load), and prints each one's median and the ratio.
#
# usage: hack/bench/startup.sh [RUNS]   (default 20; needs kubectl on PATH)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-20}"
command -v kubectl >/dev/null || { echo "startup.sh needs kubectl on PATH" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="$work/kubectl-asmfed"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "-s -w" -o "$bin" ./cmd/kubectl-asmfed
size=$(stat -c %s "$bin")

# time CMD...: one run's wall time in milliseconds.
time_ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
# Warm both (page cache, dynamic loader) before measuring.
for _ in 1 2 3; do "$bin" version >/dev/null; kubectl version --client >/dev/null 2>&1; done
: >"$work/asmfed" >"$work/kubectl"
for _ in $(seq "$runs"); do
	time_ms "$bin" version >>"$work/asmfed"
	time_ms kubectl version --client >>"$work/kubectl"
done
median() { sort -n "$1" | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
a=$(median "$work/asmfed")
k=$(median "$work/kubectl")
inits=$(GODEBUG=inittrace=1 "$bin" version 2>&1 >/dev/null | awk '/^init / {n++; t += $5} END {printf "%d package inits, %.1f ms", n, t}')
awk -v s="$size" -v a="$a" -v k="$k" -v r="$runs" -v i="$inits" -v kv="$(kubectl version --client 2>/dev/null | head -1)" 'BEGIN {
	printf "kubectl-asmfed linux/amd64 (-trimpath -s -w): %.1f MB (%d bytes)\n", s / 1e6, s
	printf "median of %d runs, interleaved:\n", r
	printf "  kubectl-asmfed version:      %6.1f ms (%s)\n", a / 1000, i
	printf "  kubectl version --client:    %6.1f ms (%s)\n", k / 1000, kv
	printf "  ratio:                       %6.2f\n", a / k
}'
