package v1alpha1

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

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
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/api/v1alpha1 -run TestInvalidCorpus -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
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
	if len(samples) < 3 {
		t.Fatalf("found %d samples, want at least 3", len(samples))
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
