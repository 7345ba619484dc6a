#!/usr/bin/env bash
# Times the reference setup's own way beside `kubectl asmfed apply` of the two-cluster sample,
# against one sandbox with the same latency model whose GKE clusters are real local API servers
# (--kube), in separate projects. The reference's way is its Terraform and scripts replayed one
# command at a time, in their order: reference-gcloud.sh (one gcloud command per resource), then
# reference-cluster.sh (per cluster: istio-system, cacerts, the control plane, the fleet
# membership; then the remote secrets). asmfed applies the same sample, both layers. Both sides
# share one root of trust made by `kubectl asmfed ca init`. Prints both durations and the ratio.
#
# Needs gcloud, kubectl and openssl; the local Kubernetes binaries are built by
# hack/testbin/ensure.sh if missing (15-25 minutes once, then cached).
#
# usage: hack/bench/compare.sh [SCALE]   (default 0.02: a cluster takes 7.2 s)
set -euo pipefail
cd "$(dirname "$0")/../.."
scale="${1:-0.02}"
for tool in gcloud kubectl openssl; do
	command -v "$tool" >/dev/null || { echo "compare.sh needs $tool on PATH" >&2; exit 1; }
done
work="$(mktemp -d)"
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
ASMFED_CACHE="$(hack/testbin/ensure.sh)"
export ASMFED_CACHE
go build -o "$work/kubectl-asmfed" ./cmd/kubectl-asmfed
go build -o "$work/asmfed-sandbox" ./cmd/asmfed-sandbox
"$work/asmfed-sandbox" serve --listen 127.0.0.1:0 --state "$work/state" --pid-file "$work/pid" \
	--latency realistic --scale "$scale" --kube >"$work/env" 2>"$work/sandbox.log" &
pid=$!
for _ in $(seq 300); do [ -s "$work/pid" ] && break; sleep 0.1; done
[ -s "$work/pid" ] || { cat "$work/sandbox.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/env"
export CLOUDSDK_CONFIG="$work/gcloud" KUBECONFIG="$work/kubeconfig"

# One root of trust, beside each side's copy of the sample (the file looks for it in ca/).
"$work/kubectl-asmfed" ca init --out "$work/ca" >/dev/null 2>&1
mkdir -p "$work/ref" "$work/asmfed"
ln -s ../ca "$work/ref/ca"
ln -s ../ca "$work/asmfed/ca"
sed 's/fleetProject: asm-multicluster-demo/fleetProject: asm-ref-gcloud/' samples/two-cluster-private/federation.yaml >"$work/ref/federation.yaml"
sed 's/fleetProject: asm-multicluster-demo/fleetProject: asm-ref-asmfed/' samples/two-cluster-private/federation.yaml >"$work/asmfed/federation.yaml"

ref=asm-ref-gcloud
num="$(gcloud projects describe "$ref" --format='value(projectNumber)')"
t0=$(date +%s.%N)
hack/bench/reference-gcloud.sh "$ref" "$num"
t1=$(date +%s.%N)
hack/bench/reference-cluster.sh "$ref" "$num" "$work/ref/federation.yaml" "$work/ca" "$work/kubectl-asmfed"
t2=$(date +%s.%N)

# The sandbox's clusters have no nodes, so istiod never gets a pod: do not wait for it (the
# replay does not wait either).
t3=$(date +%s.%N)
if ! "$work/kubectl-asmfed" apply -f "$work/asmfed/federation.yaml" --auto-approve --wait=false >/dev/null 2>"$work/apply.log"; then
	cat "$work/apply.log" >&2
	exit 1
fi
t4=$(date +%s.%N)
if ! "$work/kubectl-asmfed" plan -f "$work/asmfed/federation.yaml" --detailed-exitcode >/dev/null 2>"$work/plan.log"; then
	echo "asmfed: the plan after apply is not empty:" >&2
	cat "$work/plan.log" >&2
	exit 1
fi

awk -v s="$scale" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v t4="$t4" 'BEGIN {
	printf "latency scale %s\n", s
	printf "reference, one command at a time:        %6.1f s (Google Cloud %.1f s, clusters %.1f s)\n", t2 - t0, t1 - t0, t2 - t1
	printf "kubectl asmfed apply, both layers:       %6.1f s\n", t4 - t3
	printf "ratio:                                   %6.1fx\n", (t2 - t0) / (t4 - t3)
}'
