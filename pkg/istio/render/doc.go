// Package render builds each cluster's IstioOperator overlay from a federation, merges the user's
// overlays into it, checks every overlay strictly against Istio's own types, and renders the full
// install manifests in process with Istio's operator library (istio.io/istio/operator) and the
// charts embedded in it.
//
// It reads overlay files and writes temporary files for Istio's renderer; it calls no API and
// applies nothing. It is the only package that links Istio's operator library.
package render
