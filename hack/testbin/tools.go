//go:build tools

// Package tools pins the Kubernetes commands that build.sh compiles
// (kube-apiserver and kube-controller-manager by default, kubectl and
// kube-scheduler on request), so that go.mod and go.sum record every module
// they need.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
