package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Versions of the binaries that hack/testbin/go.mod pins. A test keeps these
// in step with that file, because the cache is keyed by them.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.7.3"
)

// Environment variables read by this package.
const (
	// EnvCache overrides the cache root; binaries live in its bin/ directory.
	EnvCache = "ASMFED_CACHE"
	// EnvRequire, set to 1, makes missing binaries a test failure instead of
	// a skip. CI sets it so that a broken build cannot pass silently.
	EnvRequire = "ASMFED_REQUIRE_TESTENV"
	// EnvKeep, set to 1, keeps the state directory (certificates, kubeconfigs,
	// logs) after the processes are stopped, for debugging.
	EnvKeep = "ASMFED_TESTENV_KEEP"
)

// BuildCommand builds the binaries into the cache, from the repository root.
const BuildCommand = "hack/testbin/build.sh"

// CacheDir is the cache root shared with hack/testbin/build.sh:
// $ASMFED_CACHE, else $XDG_CACHE_HOME/asmfed, else $HOME/.cache/asmfed.
func CacheDir() string {
	if d := os.Getenv(EnvCache); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "asmfed")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "asmfed")
	}
	return filepath.Join(os.TempDir(), "asmfed")
}

// Binaries holds the paths of the server binaries an Environment runs.
type Binaries struct {
	Etcd              string
	APIServer         string
	ControllerManager string
}

// FindBinaries locates the binaries in binDir, or in CacheDir()/bin when
// binDir is empty. Names carry the version, as build.sh writes them. The
// error is a *MissingBinariesError that says how to build what is missing.
func FindBinaries(binDir string) (Binaries, error) {
	if binDir == "" {
		binDir = filepath.Join(CacheDir(), "bin")
	}
	b := Binaries{
		Etcd:              filepath.Join(binDir, "etcd-"+EtcdVersion),
		APIServer:         filepath.Join(binDir, "kube-apiserver-"+KubernetesVersion),
		ControllerManager: filepath.Join(binDir, "kube-controller-manager-"+KubernetesVersion),
	}
	var missing []string
	for _, p := range []string{b.Etcd, b.APIServer, b.ControllerManager} {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return b, &MissingBinariesError{Missing: missing}
	}
	return b, nil
}

// MissingBinariesError reports binaries that are not in the cache.
type MissingBinariesError struct {
	Missing []string
}

func (e *MissingBinariesError) Error() string {
	return fmt.Sprintf("local Kubernetes binaries not found: %s; build them from the repository root with "+
		"`%s` (15 to 25 min cold on 2 cores, instant when cached; %s moves the cache)",
		strings.Join(e.Missing, ", "), BuildCommand, EnvCache)
}
