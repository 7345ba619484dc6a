package istiodtest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// IstioVersion is the istio.io/istio module version that go.mod and
// hack/istiobin/go.mod pin; the cached binary is named after it. A test keeps
// it in step with the module linked into this package.
const IstioVersion = "v0.0.0-20260827124520-eed52ebb66ad"

// BuildCommand builds pilot-discovery into the cache, from the repository root.
const BuildCommand = "hack/istiobin/build.sh"

// BinaryPath is where build.sh puts pilot-discovery: binDir, or
// testenv.CacheDir()/bin when binDir is empty.
func BinaryPath(binDir string) string {
	if binDir == "" {
		binDir = filepath.Join(testenv.CacheDir(), "bin")
	}
	return filepath.Join(binDir, "pilot-discovery-"+IstioVersion)
}

// FindBinary returns BinaryPath(binDir), or an error saying how to build it.
func FindBinary(binDir string) (string, error) {
	p := BinaryPath(binDir)
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return p, fmt.Errorf("pilot-discovery not found at %s; build it from the repository root with `%s` "+
			"(about 10 min cold on 2 cores, instant when cached; %s moves the cache)", p, BuildCommand, testenv.EnvCache)
	}
	return p, nil
}

// Require skips t when the local Kubernetes binaries or pilot-discovery are
// missing (or in -short mode), or fails it when ASMFED_REQUIRE_TESTENV=1;
// the message says how to build what is missing.
func Require(t testenv.TB) {
	t.Helper()
	testenv.Require(t)
	if _, err := FindBinary(""); err != nil {
		if os.Getenv(testenv.EnvRequire) == "1" {
			t.Fatalf("%v (%s=1 makes this a failure)", err, testenv.EnvRequire)
		}
		t.Skip(err)
	}
}
