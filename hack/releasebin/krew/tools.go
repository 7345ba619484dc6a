//go:build tools

// Package krew pins sigs.k8s.io/krew for build.sh, which compiles krew itself
// and krew's manifest validator (validate-krew-manifest, the check the central
// krew index runs on every manifest). It is its own module so that krew's
// dependencies never enter the plugin's go.mod, and so that both commands are
// built with the versions krew pins.
package krew

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
