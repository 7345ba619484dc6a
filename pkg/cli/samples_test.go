package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// The samples hold no root of trust: a root's key never enters the repository. The tests use
// copies of them, each with the root `kubectl asmfed ca init` wrote beside it, as a user's samples
// are after running it.
var (
	// samplesDir holds a copy of every directory of samples/.
	samplesDir   string
	twoCluster   string
	multiProject string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "asmfed-cli-samples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := copySamples("../../samples", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	samplesDir = dir
	twoCluster = filepath.Join(dir, "two-cluster-private", "federation.yaml")
	multiProject = filepath.Join(dir, "multi-project-shared-vpc", "federation.yaml")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// copySamples copies the files of every sample directory of from into to, and runs
// `kubectl asmfed ca init --out <copy>/ca` in each.
func copySamples(from, to string) error {
	dirs, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		src, dst := filepath.Join(from, d.Name()), filepath.Join(to, d.Name())
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return err
		}
		files, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, f := range files {
			if !f.Type().IsRegular() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(src, f.Name()))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dst, f.Name()), data, 0o600); err != nil {
				return err
			}
		}
		var out, errOut bytes.Buffer
		root := newRootCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, func(string) string { return "" })
		root.SetArgs([]string{"ca", "init", "--out", filepath.Join(dst, v1alpha1.DefaultCADir)})
		if err := root.ExecuteContext(context.Background()); err != nil {
			return fmt.Errorf("ca init for %s: %v: %s", d.Name(), err, errOut.String())
		}
	}
	return nil
}

// caInit runs `kubectl asmfed ca init` for a federation file written into dir.
func caInit(t *testing.T, dir string) {
	t.Helper()
	if r := run(t, "ca", "init", "--out", filepath.Join(dir, v1alpha1.DefaultCADir)); r.code != 0 {
		t.Fatalf("ca init: %s", r.stderr)
	}
}

// TestCAInitThenValidate: validate says exactly which command creates the missing root, and once
// it has run the file is valid without naming the root's files.
func TestCAInitThenValidate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my mesh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../samples/two-cluster-private/federation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "federation.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "validate", "-f", file)
	_, cmd, ok := strings.Cut(r.stdout, "(create them: kubectl asmfed ")
	if r.code != exitFailure || !ok || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("validate before ca init: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cmd = strings.TrimSuffix(strings.TrimSpace(cmd), ")")
	want := "ca init --out '" + filepath.Join(dir, "ca") + "'"
	if cmd != want {
		t.Fatalf("validate says to run %q, want %q", cmd, want)
	}
	// Run what it says, as a shell would split it.
	out := strings.Trim(strings.TrimPrefix(cmd, "ca init --out "), "'")
	if r := run(t, "ca", "init", "--out", out); r.code != 0 {
		t.Fatalf("ca init: %s", r.stderr)
	} else if !strings.Contains(r.stderr, "next: a federation file in "+dir+" with an in-cluster control plane uses this root by default") {
		t.Errorf("ca init does not say the file beside it uses the root:\n%s", r.stderr)
	}
	if r := run(t, "validate", "-f", file); r.code != 0 {
		t.Fatalf("validate after ca init: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "validate", "-f", file, "--show-defaults"); !strings.Contains(r.stdout, "rootCertFile: "+v1alpha1.DefaultRootCertFile) {
		t.Errorf("--show-defaults does not name the root file:\n%s", r.stdout)
	}
}
