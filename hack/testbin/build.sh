#!/usr/bin/env bash
# build.sh builds the Kubernetes server binaries that internal/testenv runs
# (kube-apiserver, kube-controller-manager, etcd) from the Go module proxy,
# using the versions pinned in this directory's go.mod, into
#
#   ${ASMFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asmfed}/bin/<name>-<version>
#
# Binaries that already exist are skipped, so a warm run costs nothing.
#
# Usage: hack/testbin/build.sh [name...]
#   names: kube-apiserver kube-controller-manager etcd (the default set) and,
#   optionally, kubectl or kube-scheduler.
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

mkdir -p "$bindir"
failed=0
pid= tmp=
# On interruption, stop the running build and drop its partial output.
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
	if [ -n "$tmp" ]; then rm -f "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for name in "${names[@]}"; do
	case $name in
	etcd) pkg=./cmd/etcd version=$etcd_version ldflags="-s -w" ;;
	kube-apiserver | kube-controller-manager | kube-scheduler | kubectl)
		pkg=k8s.io/kubernetes/cmd/$name version=$k8s_version ldflags=$k8s_ldflags ;;
	*)
		log "unknown binary $name (want etcd, kube-apiserver, kube-controller-manager, kube-scheduler or kubectl)"
		exit 2
		;;
	esac
	out=$bindir/$name-$version
	if [ -x "$out" ]; then
		log "$name $version: cached at $out"
		continue
	fi
	log "$name $version: building (cold, 2 cores: etcd ~3 min, kube-apiserver ~12-17 min, kube-controller-manager ~2-5 min)"
	tmp=$(mktemp "$bindir/.$name-$version.XXXXXX")
	start=$(date +%s)
	go build -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg" &
	pid=$!
	# Heartbeat so that CI logs show the build is alive.
	while kill -0 "$pid" 2>/dev/null; do
		for _ in $(seq 60); do
			sleep 1
			kill -0 "$pid" 2>/dev/null || break
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name $version: still building ($(( ($(date +%s) - start) / 60 )) min)"
		fi
	done
	if wait "$pid"; then
		pid=
		chmod 0755 "$tmp"
		mv -f "$tmp" "$out"
		tmp=
		log "$name $version: built in $(( $(date +%s) - start )) s -> $out"
	else
		pid=
		rm -f "$tmp"
		tmp=
		log "$name $version: BUILD FAILED after $(( $(date +%s) - start )) s"
		failed=1
	fi
done
exit $failed
