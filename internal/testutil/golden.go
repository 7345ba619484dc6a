package testutil

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update is registered once here, so every test binary that compares golden files accepts
// -update and no package defines its own.
var update = flag.Bool("update", false, "rewrite golden files with the output the tests produce")

// Updating reports whether the test binary runs with -update, for tests that must prepare
// before writing a set of golden files (for example, remove the stale ones).
func Updating() bool { return *update }

// Golden compares got with the file at path and reports a difference as a cmp.Diff
// (-want +got). With -update it writes got to path instead, creating the directory.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; rerun with -update to accept):\n%s", path, diff)
	}
}
