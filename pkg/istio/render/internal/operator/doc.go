// Package operator is Istio's install pipeline for one IstioOperator without a cluster: merge the
// inputs over a profile, validate, render every component's Helm chart from the charts embedded in
// istio.io/istio/manifests, and post-process (Kubernetes settings as patches, overlays).
//
// The code is Istio's (Apache License 2.0, "Copyright Istio Authors"), from istio.io/istio at the
// version go.mod pins: operator/pkg/render/manifest.go and postprocess.go, operator/pkg/helm/helm.go
// and operator/pkg/apis/validation/validation.go, with what needs a cluster client taken out
// (settings detected from the cluster, CNI incompatibility checks, the Kubernetes version asked of
// the server) and with istioctl's compiled-in hub and tag left out, and two changes for speed:
// the components' charts are rendered at the same time rather than one after the other, and the
// base chart's CRDs are taken as its files hold them and given the labels its CRD template would
// give them, instead of going through that template, which parses each of them twice and prints
// it again (rawCRDs says when: whenever the values leave the template to its defaults). Those packages import Istio's
// Kubernetes client library, and with it Envoy's API, every client-go clientset and its fakes,
// OpenTelemetry's SDK and Prometheus: half the plugin's packages, a fifth of its binary and most
// of its start-up. Everything else (the charts, the component list, values, manifests, patches,
// mesh config validation) is still Istio's, linked from the module.
//
// TestSameAsIstio renders every input with both this package and Istio's own pipeline and requires
// the same merged configuration, objects, content, warnings and errors; it fails when an upgrade
// of the istio.io/istio module changes the pipeline, which is when this copy must be refreshed.
package operator
