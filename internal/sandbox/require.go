package sandbox

import (
	"github.com/asmfed/kubectl-asmfed/internal/istiodtest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// RequireWorkloads skips t when a binary StartKube runs WithWorkloads is missing from the cache
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, pilot-discovery), or in
// -short mode; with ASMFED_REQUIRE_TESTENV=1 it fails t instead. The message says how to build
// what is missing. Without workloads, testenv.Require is enough.
func RequireWorkloads(t testenv.TB) {
	t.Helper()
	testenv.RequireWorkloads(t)
	istiodtest.Require(t)
}
