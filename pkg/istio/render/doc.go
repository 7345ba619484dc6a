// Package render builds each cluster's IstioOperator overlay from a federation, merges the user's
// overlays into it, checks every overlay strictly against Istio's own types, and renders the full
// install manifests in process with Istio's install pipeline and the charts embedded in Istio's
// module. The pipeline is internal/operator: Istio's own code, without the parts that need a
// cluster client, whose imports would double the plugin's packages; a test holds it equal to
// Istio's.
//
// It reads overlay files and writes temporary files for Istio's renderer; it calls no API and
// applies nothing. It and internal/operator are the only packages that link Istio's library.
package render
