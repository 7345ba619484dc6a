// Package verify is the check framework of `kubectl asmfed verify`: each check is a value with
// an ID, requirements, a section of docs/verify.md and a Run that returns findings with hints;
// Run runs them in parallel with a bound, and the renderers (text, JSON, JUnit XML) print the
// report. Checks never print. The checks of a group live in one file (prereq.go, access.go,
// network.go, gke.go, trust.go, mesh.go, egress.go; the managed control plane's is in verify.go).
// The mesh and egress checks ask istiod what a sidecar receives: istiod.go reaches it
// (port-forwards on GKE), xds.go speaks xDS with Envoy's protos as a synthetic sidecar, probe.go
// writes and deletes the probe Service. No Istio package is linked here.
package verify
