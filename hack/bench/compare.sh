#!/usr/bin/env bash
# Times the reference setup's own way (reference-gcloud.sh: one gcloud command per resource, in
# order) beside `kubectl asmfed apply` of the two-cluster sample, against one sandbox with the
# same latency model, in separate projects. Prints both durations and the ratio.
#
# usage: hack/bench/compare.sh [SCALE]   (default 0.02: a cluster takes 7.2 s)
set -euo pipefail
cd "$(dirname "$0")/../.."
scale="${1:-0.02}"
work="$(mktemp -d)"
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/kubectl-asmfed" ./cmd/kubectl-asmfed
go build -o "$work/asmfed-sandbox" ./cmd/asmfed-sandbox
"$work/asmfed-sandbox" serve --listen 127.0.0.1:0 --pid-file "$work/pid" --latency realistic --scale "$scale" >"$work/env" 2>"$work/sandbox.log" &
pid=$!
for _ in $(seq 100); do [ -s "$work/pid" ] && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$work/env"
export CLOUDSDK_CONFIG="$work/gcloud" KUBECONFIG="$work/kubeconfig"

ref=asm-ref-gcloud
num="$(gcloud projects describe "$ref" --format='value(projectNumber)')"
t0=$(date +%s.%N)
hack/bench/reference-gcloud.sh "$ref" "$num"
t1=$(date +%s.%N)

sed 's/fleetProject: asm-multicluster-demo/fleetProject: asm-ref-asmfed/' samples/two-cluster-private/federation.yaml >"$work/federation.yaml"
"$work/kubectl-asmfed" ca init --out "$work/ca" >/dev/null 2>&1
t2=$(date +%s.%N)
"$work/kubectl-asmfed" apply -f "$work/federation.yaml" --auto-approve >/dev/null 2>"$work/apply.log"
t3=$(date +%s.%N)
"$work/kubectl-asmfed" plan -f "$work/federation.yaml" --detailed-exitcode >/dev/null 2>&1

awk -v s="$scale" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN {
	printf "latency scale %s\n", s
	printf "reference, gcloud one resource at a time: %6.1f s\n", t1 - t0
	printf "kubectl asmfed apply:                    %6.1f s\n", t3 - t2
	printf "ratio:                                   %6.1fx\n", (t1 - t0) / (t3 - t2)
}'
