// Command stub stands in for kubectl-asmfed in the snapshot release that hack/release's test
// makes: the archives, checksums and krew manifest GoReleaser makes depend on the configuration,
// not on what the binary does, and cross-compiling the real plugin for six platforms would cost
// the test about half an hour on two cores.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "kubectl-asmfed: a stand-in built by hack/release's test, not the plugin")
	os.Exit(1)
}
