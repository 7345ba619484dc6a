package federation_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestCompileGolden pins the JSON of a Desired, which other packages (plan, render --derived)
// read: a change of shape shows up here as a diff to review.
func TestCompileGolden(t *testing.T) {
	tests := []struct {
		name  string
		build *fedtest.Builder
		facts federation.Facts
	}{
		{name: "reference-resolved", build: fedtest.Reference(),
			facts: federation.Facts{ProjectNumbers: map[string]int64{fedtest.ReferenceProject: fedtest.ReferenceProjectNumber}}},
		{name: "reference-offline", build: fedtest.Reference()},
		{name: "three-clusters-shared-vpc", build: fedtest.Generated("multi", 3, []string{"us-west2", "europe-west1"}, []string{"host-proj", "svc-a"}).
			FleetProject("host-proj", 0).Network("host-proj", "mesh-vpc"),
			facts: federation.Facts{ProjectNumbers: map[string]int64{"host-proj": 100, "svc-a": 200}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := federation.Compile(tt.build.Build(), tt.facts)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got := mustJSON(t, d) + "\n"
			path := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test ./pkg/federation -run TestCompileGolden -update): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}
