package v1alpha1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// report formats a check result the way `kubectl asmfed validate` prints it.
func report(c *Checked) string {
	var b strings.Builder
	for _, e := range c.Errors {
		b.WriteString(e.Error() + "\n")
	}
	for _, w := range c.Warnings {
		b.WriteString("warning: " + w.Error() + "\n")
	}
	return b.String()
}

func TestInvalidCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("the invalid corpus has %d files, want at least 40", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			c, err := CheckFile(file, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Errors) == 0 {
				t.Fatalf("%s: no errors reported", file)
			}
			for _, e := range c.Errors {
				inFiles := strings.HasPrefix(e.File, "testdata/files/")
				if (e.File != file && !inFiles) || e.Pos.Line < 1 || e.Pos.Column < 1 {
					t.Errorf("error without a position in %s: %#v", file, e)
				}
			}
			got := report(c)
			testutil.Golden(t, strings.TrimSuffix(file, ".yaml")+".golden", got)
		})
	}
}

func TestValidFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	samples, err := filepath.Glob("../../../samples/*/federation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 2 {
		t.Fatalf("found %d samples, want at least 2", len(samples))
	}
	for _, file := range append(files, samples...) {
		t.Run(file, func(t *testing.T) {
			if strings.HasPrefix(file, "../") {
				// A sample is valid once `kubectl asmfed ca init` has written its root beside it.
				file = sampleWithRoot(t, file)
			}
			c, err := CheckFile(file, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Errors) > 0 {
				t.Errorf("%s should be valid:\n%s", file, report(c))
			}
		})
	}
}

// TestSampleWithoutRootSaysWhatToRun: before `ca init`, validating a sample fails with the command
// that creates the plug-in root where the file looks for it.
func TestSampleWithoutRootSaysWhatToRun(t *testing.T) {
	const file = "../../../samples/two-cluster-private/federation.yaml"
	c, err := CheckFile(file, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := `spec.mesh.ca.rootCertFile: the plug-in CA's root "ca/root-cert.pem" and key "ca/root-key.pem" (relative to the federation file) do not exist` +
		" (create them: kubectl asmfed ca init --out ../../../samples/two-cluster-private/ca)\n"
	if got := report(c); !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 1 {
		t.Errorf("validate without the root:\n%s\nwant one error ending in\n%s", got, want)
	}
}

// sampleWithRoot copies a sample's directory into a temporary one, with the test root where
// `kubectl asmfed ca init --out ca` would write one, and returns the copy's federation file.
func sampleWithRoot(t *testing.T, file string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile := func(from, to string) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			copyFile(filepath.Join(filepath.Dir(file), e.Name()), filepath.Join(dir, e.Name()))
		}
	}
	copyFile("testdata/files/root-cert.pem", filepath.Join(dir, DefaultRootCertFile))
	copyFile("testdata/files/root-key.pem", filepath.Join(dir, DefaultRootKeyFile))
	return filepath.Join(dir, filepath.Base(file))
}
