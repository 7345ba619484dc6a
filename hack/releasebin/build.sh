#!/usr/bin/env bash
# build.sh builds the release tools that hack/release's test runs, from the Go
# module proxy at the versions pinned in this directory's two modules, into the
# cache that hack/testbin uses:
#
#   ${ASMFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asmfed}/bin/
#     goreleaser-<version>               (goreleaser/go.mod)
#     krew-<version>                     (krew/go.mod: kubectl krew)
#     validate-krew-manifest-<version>   (krew/go.mod: the central index's manifest check)
#
# Binaries that exist are only checked. Prints the cache's bin directory on
# stdout; progress goes to stderr. A cold build takes about 10 minutes on
# 2 cores (goreleaser: about 1,550 packages); a warm cache well under a second.
#
# goreleaser and krew are separate modules because their requirements would
# otherwise be merged: krew v0.4.3 requires k8s.io/client-go v11.0.0+incompatible,
# which would outrank any k8s.io/client-go goreleaser's graph needs.
# krew is built without its version ldflags on purpose: a krew that knows its
# release checks GitHub for a newer one, and these runs must stay offline.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${ASMFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/asmfed}
bindir=$cache/bin

log() { printf 'releasebin: %s\n' "$*" >&2; }

export GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOWORK=off

goreleaser_version=$(cd "$here/goreleaser" && go list -m -f '{{.Version}}' github.com/goreleaser/goreleaser/v2)
krew_version=$(cd "$here/krew" && go list -m -f '{{.Version}}' sigs.k8s.io/krew)

# shellcheck source=../lib/gobuild.sh
. "$root/hack/lib/gobuild.sh"

build() {
	local name=$1 version=$2 dir=$3 pkg=$4 ldflags=$5 minutes=$6
	local out=$bindir/$name-$version
	if [ -x "$out" ]; then
		log "$name $version: cached at $out"
		return 0
	fi
	log "$name $version: building (cold, 2 cores: about $minutes min)"
	gobuild "$name $version" "$dir" "$ldflags" "$pkg" "$out"
}

build goreleaser "$goreleaser_version" "$here/goreleaser" github.com/goreleaser/goreleaser/v2 "-s -w" 10
build krew "$krew_version" "$here/krew" sigs.k8s.io/krew/cmd/krew "-s -w" 2
build validate-krew-manifest "$krew_version" "$here/krew" sigs.k8s.io/krew/cmd/validate-krew-manifest "-s -w" 1

# goreleaser reports the module version it was built from.
got=$("$bindir/goreleaser-$goreleaser_version" --version 2>&1 | sed -n 's/^GitVersion: *//p')
if [ "v${got#v}" != "$goreleaser_version" ]; then
	log "$bindir/goreleaser-$goreleaser_version reports version \"$got\", want $goreleaser_version; delete it and run $here/build.sh"
	exit 1
fi
echo "$bindir"
