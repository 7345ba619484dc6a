package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Versions of the binaries that hack/testbin/go.mod (and, for kwok,
// hack/testbin/kwok/go.mod) pins. A test keeps these in step with those
// files, because the cache is keyed by them.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.7.3"
	KwokVersion       = "v0.8.0"
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
	// Scheduler and Kwok run only beside clusters with workloads
	// (Options.Workloads).
	Scheduler string
	Kwok      string
}

// FindBinaries locates the binaries every cluster runs (etcd, kube-apiserver,
// kube-controller-manager) in binDir, or in CacheDir()/bin when binDir is
// empty, and names where the workload binaries would be. Names carry the
// version, as build.sh writes them. The error is a *MissingBinariesError that
// says how to build what is missing.
func FindBinaries(binDir string) (Binaries, error) {
	b := binaries(binDir)
	return b, missing(b.Etcd, b.APIServer, b.ControllerManager)
}

// FindWorkloadBinaries is FindBinaries for clusters with workloads: it wants
// kube-scheduler and kwok too.
func FindWorkloadBinaries(binDir string) (Binaries, error) {
	b := binaries(binDir)
	return b, missing(b.Etcd, b.APIServer, b.ControllerManager, b.Scheduler, b.Kwok)
}

func binaries(binDir string) Binaries {
	if binDir == "" {
		binDir = filepath.Join(CacheDir(), "bin")
	}
	return Binaries{
		Etcd:              filepath.Join(binDir, "etcd-"+EtcdVersion),
		APIServer:         filepath.Join(binDir, "kube-apiserver-"+KubernetesVersion),
		ControllerManager: filepath.Join(binDir, "kube-controller-manager-"+KubernetesVersion),
		Scheduler:         filepath.Join(binDir, "kube-scheduler-"+KubernetesVersion),
		Kwok:              filepath.Join(binDir, "kwok-"+KwokVersion),
	}
}

// missing returns a *MissingBinariesError for the paths that are not
// executable files, or nil.
func missing(paths ...string) error {
	var missing []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return &MissingBinariesError{Missing: missing}
	}
	return nil
}

// MissingBinariesError reports binaries that are not in the cache.
type MissingBinariesError struct {
	Missing []string
}

func (e *MissingBinariesError) Error() string {
	// build.sh takes the names without their version suffix.
	names := make([]string, len(e.Missing))
	for i, p := range e.Missing {
		names[i] = filepath.Base(p)[:strings.LastIndex(filepath.Base(p), "-")]
	}
	return fmt.Sprintf("local Kubernetes binaries not found: %s; build them from the repository root with "+
		"`%s %s` (15 to 25 min cold on 2 cores, instant when cached; %s moves the cache)",
		strings.Join(e.Missing, ", "), BuildCommand, strings.Join(names, " "), EnvCache)
}
