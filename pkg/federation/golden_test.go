package federation_test

import (
	"path/filepath"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// TestCompileGolden pins the JSON of a Desired, which other packages (plan, render --derived)
// read: a change of shape shows up here as a diff to review.
func TestCompileGolden(t *testing.T) {
	tests := []struct {
		name  string
		build *fedtest.Builder
		// file is a sample to compile instead of build.
		file  string
		facts federation.Facts
	}{
		{name: "reference-resolved", build: fedtest.Reference(),
			facts: federation.Facts{ProjectNumbers: map[string]int64{fedtest.ReferenceProject: fedtest.ReferenceProjectNumber}}},
		{name: "reference-offline", build: fedtest.Reference()},
		{name: "three-clusters-shared-vpc", build: fedtest.Generated("multi", 3, []string{"us-west2", "europe-west1"}, []string{"host-proj", "svc-a"}).
			FleetProject("host-proj", 0).Network("host-proj", "mesh-vpc"),
			facts: federation.Facts{ProjectNumbers: map[string]int64{"host-proj": 100, "svc-a": 200}}},
		{name: "managed-control-plane", file: "../../samples/managed-control-plane/federation.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f *v1alpha1.Federation
			if tt.file != "" {
				c, err := v1alpha1.CheckFile(tt.file, v1alpha1.ValidateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Err(); err != nil {
					t.Fatal(err)
				}
				f = c.Federation
			} else {
				f = tt.build.Build()
			}
			d, err := federation.Compile(f, tt.facts)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got := mustJSON(t, d) + "\n"
			testutil.Golden(t, filepath.Join("testdata", tt.name+".golden.json"), got)
		})
	}
}
