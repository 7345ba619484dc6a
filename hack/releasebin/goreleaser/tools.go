//go:build tools

// Package goreleaser pins GoReleaser v2 for build.sh. It is its own module so
// that GoReleaser's dependencies never enter the plugin's go.mod, and so that
// the binary is built with the versions GoReleaser itself pins. v2.17.0 is the
// newest release whose go.mod accepts Go 1.26 (v2.18 needs Go 1.27).
package goreleaser

import (
	_ "github.com/goreleaser/goreleaser/v2"
)
