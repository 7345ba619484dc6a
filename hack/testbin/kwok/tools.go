//go:build tools

// Package kwok pins sigs.k8s.io/kwok for building the kwok command with
// ../build.sh. It is its own module because kwok pins Kubernetes libraries of
// another minor version than the testbin module's k8s.io/kubernetes.
package kwok

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
