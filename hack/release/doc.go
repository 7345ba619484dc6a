// Package release holds the checks of the release configuration (.goreleaser.yaml): GoReleaser's
// own `check`, and a snapshot release whose krew manifest is validated by krew's own validator
// (validate-krew-manifest, which installs every platform with krew from the archives) and whose
// archives are checked for the layout krew installs from. The tools are built from the Go module
// proxy by hack/releasebin/build.sh; the test needs no network.
package release
