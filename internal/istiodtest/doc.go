// Package istiodtest runs a real istiod (pilot-discovery, built from the
// istio.io/istio module the plugin pins) per local cluster, outside any pod,
// against the cluster's kube-apiserver, and reads what it knows through its
// own debug endpoints (/debug/clusterz, /debug/registryz,
// /debug/endpointShardz). Tests use it to prove that the objects the
// cluster-side engine applies, above all the remote secrets, are what istiod
// needs to federate the clusters.
//
// The binary is built by hack/istiobin/build.sh into the cache that
// internal/testenv uses, keyed by the istio module version; see README.md for
// the flags and environment istiod runs with and why.
//
// istiodtest owns the lifetime of the istiod processes it starts (own process
// group, stopped by PID, killed with the test binary on Linux, through
// testenv.StartServer). It installs only what istiod reads (the Istio CRDs);
// everything else in the clusters is the caller's, and it must never be
// pointed at real clusters.
package istiodtest
