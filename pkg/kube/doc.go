// Package kube is the multi-cluster Kubernetes client set: server-side apply with the asmfed
// field manager, ownership labels, inventories and pruning, readiness waits. It knows nothing
// about Google Cloud.
package kube
