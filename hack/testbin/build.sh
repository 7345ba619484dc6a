#!/usr/bin/env bash
# build.sh builds the Kubernetes binaries that internal/testenv runs
# (kube-apiserver, kube-controller-manager, etcd, and for clusters with nodes
# kube-scheduler and kwok) from the Go module proxy, using the versions pinned
# in this directory's go.mod (kwok: kwok/go.mod, its own module), into
#
#   ${ASMFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asmfed}/bin/<name>-<version>
#
# Binaries that already exist are skipped, so a warm run costs nothing.
#
# Usage: hack/testbin/build.sh [name...]
#   names: kube-apiserver kube-controller-manager etcd (the default set),
#   kube-scheduler, kwok, kubectl.
#
# Progress goes to stderr, one line per step plus a heartbeat every minute
# while the Go toolchain works. Exits non-zero when any build fails.
# A cold build needs 15 to 25 minutes on 2 cores and 2.7 GB of memory for the
# linker; run it under `nice -n 10` on a shared machine.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${ASMFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asmfed}
bindir=$cache/bin

log() { printf 'testbin: %s\n' "$*" >&2; }

cd "$here"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOWORK=off

k8s_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
kwok_version=$(cd kwok && go list -m -f '{{.Version}}' sigs.k8s.io/kwok)

# The version ldflags make /version (and kubectl's skew check) report the real
# release instead of v0.0.0-master.
minor=${k8s_version#v1.}
minor=${minor%%.*}
k8s_ldflags="-s -w"
for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
	k8s_ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
	k8s_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	names=(etcd kube-apiserver kube-controller-manager)
fi

# shellcheck source=../lib/gobuild.sh
. "$here/../lib/gobuild.sh"
failed=0
for name in "${names[@]}"; do
	case $name in
	etcd) dir=$here pkg=./cmd/etcd version=$etcd_version ldflags="-s -w" ;;
	kwok) dir=$here/kwok pkg=sigs.k8s.io/kwok/cmd/kwok version=$kwok_version ldflags="-s -w" ;;
	kube-apiserver | kube-controller-manager | kube-scheduler | kubectl)
		dir=$here pkg=k8s.io/kubernetes/cmd/$name version=$k8s_version ldflags=$k8s_ldflags ;;
	*)
		log "unknown binary $name (want etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok or kubectl)"
		exit 2
		;;
	esac
	out=$bindir/$name-$version
	if [ -x "$out" ]; then
		log "$name $version: cached at $out"
		continue
	fi
	log "$name $version: building (cold, 2 cores: etcd ~3 min, kube-apiserver ~12-17 min, kube-controller-manager ~2-5 min, kube-scheduler ~0.5-4 min, kwok ~2-3 min)"
	gobuild "$name $version" "$dir" "$ldflags" "$pkg" "$out" || failed=1
done
exit $failed
