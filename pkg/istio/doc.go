// Package istio builds per-cluster IstioOperator overlays, renders manifests in process with
// Istio's own operator library, and produces CA material (cacerts). It applies nothing.
package istio
