// Package kube is the Kubernetes client side of the tool: rest configurations for a cluster
// reached through its GKE endpoint with an OAuth token or through a kubeconfig context, with the
// tool's rate limits, the multi-cluster client set (one rate limit per cluster for all its
// clients; List reads built-in kinds as protobuf), and port-forward sessions with a pod
// (PortForward). It knows nothing about Google Cloud's APIs, plans or the federation; the
// engine's cluster layer and verify use it.
package kube
