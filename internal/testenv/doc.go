// Package testenv runs real local Kubernetes clusters for tests and the
// sandbox: per cluster a kube-apiserver and a kube-controller-manager on
// 127.0.0.1, all clusters of an Environment sharing one etcd under separate
// key prefixes. The binaries are built from the Go module proxy by
// hack/testbin/build.sh into a cache keyed by version; see README.md for the
// flags, the environment variables and how to run the tests.
//
// Tests ask for clusters with Clusters (fresh ones, stopped when the test
// ends) or through a package-level Shared started once per test binary.
// Without the binaries both skip with the build command in the message, or
// fail when ASMFED_REQUIRE_TESTENV=1.
//
// testenv owns process lifetimes: every server runs in its own process
// group, is stopped by PID, and on Linux dies with the test binary even when
// that binary panics or is killed. It must not be used to reach real clusters.
package testenv
