package fedtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
)

// WithRoot copies the directory of the federation file at path (its regular files: the file and
// what it names beside itself) into a temporary directory, writes a new plug-in root where
// `kubectl asmfed ca init` run there would (ca/root-cert.pem and ca/root-key.pem, the defaults of
// an in-cluster control plane), and returns the copy of the file. The repository holds no root's
// key: samples become valid this way, as they do for a user after ca init. A test that wants
// errors to name the original file checks it with ValidateOptions.BaseDir set to the copy's
// directory.
func WithRoot(t testing.TB, path string) string {
	t.Helper()
	src := filepath.Dir(path)
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	Root(t, dir)
	return filepath.Join(dir, filepath.Base(path))
}

// Root creates a plug-in root in dir/ca, as `kubectl asmfed ca init --out dir/ca` does, and
// returns it.
func Root(t testing.TB, dir string) *istio.Root {
	t.Helper()
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := root.WriteFiles(filepath.Join(dir, v1alpha1.DefaultCADir), false); err != nil {
		t.Fatal(err)
	}
	return root
}
