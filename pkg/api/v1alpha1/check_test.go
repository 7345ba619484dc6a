package v1alpha1

import (
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
