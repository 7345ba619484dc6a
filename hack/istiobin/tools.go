//go:build tools

// Package istiobin pins istio.io/istio, at the version the plugin's go.mod
// requires, for building pilot-discovery (istiod) with build.sh. It is its
// own module so that pilot-discovery's dependencies never enter the plugin's
// go.mod, and so that the binary is built with the versions istio itself pins.
package istiobin

import (
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
)
