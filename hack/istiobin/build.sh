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

# shellcheck source=../lib/gobuild.sh
. "$root/hack/lib/gobuild.sh"

# buildVersion makes `pilot-discovery version` (and istiod's /version and
# its logs) report the module version instead of "unknown".
ldflags="-s -w -X istio.io/istio/pkg/version.buildVersion=$version"
ldflags+=" -X istio.io/istio/pkg/version.buildGitRevision=${version##*-}"
ldflags+=" -X istio.io/istio/pkg/version.buildStatus=Clean -X istio.io/istio/pkg/version.buildTag=$version"

log "pilot-discovery $version: building (cold, 2 cores: about 10 min, 2.8 GB of memory)"
gobuild "pilot-discovery $version" "$here" "$ldflags" istio.io/istio/pilot/cmd/pilot-discovery "$out" || exit 1
check
echo "$out"
