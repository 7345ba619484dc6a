// Package kube is the Kubernetes client side of the tool: rest configurations for a cluster
// reached through its GKE endpoint with an OAuth token or through a kubeconfig context, with the
// tool's rate limits, the multi-cluster client set, and port-forward to a pod through the API
// server (PortForward). It knows nothing about Google Cloud's APIs, plans or the federation; the
// engine's cluster layer uses it.
package kube
