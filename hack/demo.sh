#!/usr/bin/env bash
# The main job on the two-cluster sample, on the local sandbox: start a simulated Google Cloud
# whose GKE clusters are real local API servers, create the sample's root of trust (a copy of the
# sample in a temporary directory, so no key is ever written into the repository), validate the
# file, plan, apply the saved plan (network, clusters, then on the clusters namespaces, remote
# secrets and their reader accounts, cacerts), plan again to show that nothing is left to do,
# verify, and destroy what was created. Everything started here is stopped on exit, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/kubectl-asmfed
work="$(mktemp -d)"
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }

# Real local API servers, kwok nodes and istiod stand behind the simulated GKE clusters; build them once (25-40 minutes
# cold, then cached).
step "hack/testbin/ensure.sh"
ASMFED_CACHE="$(hack/testbin/ensure.sh)"
export ASMFED_CACHE

step "asmfed-sandbox serve --listen 127.0.0.1:0 --state $work/state --latency realistic --scale 0.01 --kube"
bin/asmfed-sandbox serve --listen 127.0.0.1:0 --state "$work/state" --pid-file "$work/pid" --latency realistic --scale 0.01 --kube >"$work/env" 2>"$work/sandbox.log" &
pid=$!
for _ in $(seq 300); do [ -s "$work/pid" ] && break; sleep 0.1; done
[ -s "$work/pid" ] || { cat "$work/sandbox.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/env"
echo "sandbox at $ASMFED_GCP_ENDPOINT (pid $pid)" >&2

# The sample's in-cluster control planes share the plug-in CA's root, which the file looks for in
# ca/ beside itself; the root's key stays in the temporary directory.
mkdir "$work/two-cluster-private"
cp samples/two-cluster-private/* "$work/two-cluster-private/"
sample="$work/two-cluster-private/federation.yaml"
step "kubectl asmfed ca init --out $work/two-cluster-private/ca"
"$bin" ca init --out "$work/two-cluster-private/ca"

step "kubectl asmfed validate -f $sample"
"$bin" validate -f "$sample"

step "kubectl asmfed plan -f $sample --out plan.json"
"$bin" plan -f "$sample" --out "$work/plan.json"

# The sandbox's clusters have nodes (kwok) and a real istiod behind each istiod pod, so apply waits
# for the control plane as on GKE: istiod's pod is Ready once that istiod answers /ready.
step "kubectl asmfed apply plan.json --auto-approve"
# The saved plan covers Google Cloud; the cluster side is planned once the clusters exist, shown,
# and applied because --auto-approve confirms it (without it apply would ask on a terminal).
"$bin" apply "$work/plan.json" --auto-approve

step "kubectl asmfed plan -f $sample --detailed-exitcode"
"$bin" plan -f "$sample" --detailed-exitcode
echo "The federation matches the live state." >&2

# The traffic probes (ASMFED-TRAFFIC-*) exec into client pods whose containers run: on GKE. The
# sandbox's pods are kwok's, with no process inside, so they are turned off here; everything else,
# the istiod checks included, runs against the real istiods behind the sandbox's istiod pods.
step "kubectl asmfed verify -f $sample --skip-traffic"
"$bin" verify -f "$sample" --skip-traffic

step "kubectl get secrets -n istio-system -l istio/multiCluster=true   # on cluster3"
server="$(grep -ho 'https://127.0.0.1:[0-9]*' "$work/state/kube/cluster3-"*/kubeconfig | head -1)"
kubectl --server "$server" --token "$(cat "$ASMFED_GCP_ACCESS_TOKEN_FILE")" --insecure-skip-tls-verify \
	get secrets -n istio-system -l istio/multiCluster=true

step "kubectl asmfed destroy -f $sample --auto-approve"
"$bin" destroy -f "$sample" --auto-approve >/dev/null
