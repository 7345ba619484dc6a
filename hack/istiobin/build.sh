#!/usr/bin/env bash
# build.sh builds pilot-discovery (istiod) from the istio.io/istio module at
# the version the plugin's go.mod requires, into the cache that
# internal/testenv and internal/istiodtest read:
#
#   ${ASMFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asmfed}/bin/pilot-discovery-<istio module version>
#
# It skips the build when the binary exists, checks that the binary runs and
# reports the pinned version, and prints the binary's path on stdout.
# Progress goes to stderr, with a heartbeat every minute while the Go
# toolchain works. Exits non-zero when the build or the check fails.
#
# A cold build takes about 10 minutes on 2 cores (1,763 packages, about
# 2.8 GB of memory for the compiler and linker, 2.2 GB of GOCACHE); run it
# under `nice -n 10` on a shared machine. A warm cache costs well under a
# second.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${ASMFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asmfed}
bindir=$cache/bin

log() { printf 'istiobin: %s\n' "$*" >&2; }

export GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOWORK=off

# hack/istiobin is its own module; it must pin the same istio.io/istio as the
# plugin, so that the istiod under test is the one the plugin renders for.
version=$(cd "$here" && go list -m -f '{{.Version}}' istio.io/istio)
want=$(cd "$root" && go list -m -f '{{.Version}}' istio.io/istio)
if [ "$version" != "$want" ]; then
	log "hack/istiobin/go.mod pins istio.io/istio $version but go.mod requires $want;"
	log "run: (cd hack/istiobin && GOWORK=off go get istio.io/istio/pilot/cmd/pilot-discovery@$want)"
	exit 1
fi

out=$bindir/pilot-discovery-$version
check() {
	local got
	if ! got=$("$out" version --short 2>&1); then
		log "$out version failed: $got"
		exit 1
	fi
	if [[ $got != *"$version"* ]]; then
		log "$out reports \"$got\", want $version; delete it and run $here/build.sh"
		exit 1
	fi
}

if [ -x "$out" ]; then
	check
	log "pilot-discovery $version: cached at $out"
	echo "$out"
	exit 0
fi

mkdir -p "$bindir"
pid= tmp=
# On interruption, stop the running build and drop its partial output.
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
	if [ -n "$tmp" ]; then rm -f "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# buildVersion makes `pilot-discovery version` (and istiod's /version and
# its logs) report the module version instead of "unknown".
ldflags="-s -w -X istio.io/istio/pkg/version.buildVersion=$version"
ldflags+=" -X istio.io/istio/pkg/version.buildGitRevision=${version##*-}"
ldflags+=" -X istio.io/istio/pkg/version.buildStatus=Clean -X istio.io/istio/pkg/version.buildTag=$version"

log "pilot-discovery $version: building (cold, 2 cores: about 10 min, 2.8 GB of memory)"
tmp=$(mktemp "$bindir/.pilot-discovery-$version.XXXXXX")
start=$(date +%s)
(cd "$here" && exec go build -trimpath -ldflags "$ldflags" -o "$tmp" istio.io/istio/pilot/cmd/pilot-discovery) &
pid=$!
# Heartbeat so that CI logs show the build is alive.
while kill -0 "$pid" 2>/dev/null; do
	for _ in $(seq 60); do
		sleep 1
		kill -0 "$pid" 2>/dev/null || break
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pilot-discovery $version: still building ($(( ($(date +%s) - start) / 60 )) min)"
	fi
done
if wait "$pid"; then
	pid=
	chmod 0755 "$tmp"
	mv -f "$tmp" "$out"
	tmp=
	log "pilot-discovery $version: built in $(( $(date +%s) - start )) s -> $out"
else
	pid=
	rm -f "$tmp"
	tmp=
	log "pilot-discovery $version: BUILD FAILED after $(( $(date +%s) - start )) s"
	exit 1
fi
check
echo "$out"
