#!/usr/bin/env bash
# ensure.sh makes sure the binaries that internal/testenv runs are in the
# cache (kube-scheduler and kwok too, which give the sandbox's clusters nodes
# and running pods), building whatever is missing with build.sh (progress on
# stderr), pilot-discovery (istiod), which internal/istiodtest and the sandbox
# run, with hack/istiobin/build.sh, and GoReleaser and krew, which
# hack/release's test runs, with hack/releasebin/build.sh; checks that each one
# runs and reports the pinned
# version, and prints the cache root on stdout, the value to export as
# ASMFED_CACHE:
#
#   export ASMFED_CACHE=$(hack/testbin/ensure.sh)
#
# A warm cache costs about a second; a cold one 15 to 25 minutes on
# 2 cores, plus about 10 for pilot-discovery and 10 for the release tools. Exits non-zero if a build or a check fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ASMFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asmfed}
export ASMFED_CACHE=$cache

start=$(date +%s)
"$here/build.sh" etcd kube-apiserver kube-controller-manager kube-scheduler kwok

cd "$here"
k8s_version=$(GOWORK=off GOTOOLCHAIN=${GOTOOLCHAIN:-local} go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(GOWORK=off GOTOOLCHAIN=${GOTOOLCHAIN:-local} go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
kwok_version=$(cd kwok && GOWORK=off GOTOOLCHAIN=${GOTOOLCHAIN:-local} go list -m -f '{{.Version}}' sigs.k8s.io/kwok)
check() {
	local bin=$1 want=$2
	local got
	if ! got=$("$bin" --version 2>&1); then
		echo "testbin: $bin --version failed: $got" >&2
		exit 1
	fi
	if [[ $got != *"$want"* ]]; then
		echo "testbin: $bin reports \"$got\", want $want; delete it and run $here/build.sh" >&2
		exit 1
	fi
}
check "$cache/bin/kube-apiserver-$k8s_version" "Kubernetes $k8s_version"
check "$cache/bin/kube-controller-manager-$k8s_version" "Kubernetes $k8s_version"
check "$cache/bin/kube-scheduler-$k8s_version" "Kubernetes $k8s_version"
check "$cache/bin/etcd-$etcd_version" "etcd Version: ${etcd_version#v}"
check "$cache/bin/kwok-$kwok_version" "kwok version $kwok_version"
# Builds when missing, checks the version, prints the path (not wanted here).
"$here/../istiobin/build.sh" >/dev/null
# GoReleaser and krew, for hack/release's test of the release configuration.
"$here/../releasebin/build.sh" >/dev/null
echo "testbin: binaries ready in $cache/bin ($(( $(date +%s) - start )) s)" >&2
echo "$cache"
