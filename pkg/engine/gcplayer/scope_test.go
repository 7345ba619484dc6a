package gcplayer

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// TestScopeOfFileIsScopeOfModel holds what a plan reads before the model has compiled, taken from
// the file, to what the model says: a difference would read one project too few or too many.
func TestScopeOfFileIsScopeOfModel(t *testing.T) {
	tests := map[string]*v1alpha1.Federation{
		"generated, Shared VPC": fedtest.Generated("gen", 5, []string{"us-west2", "us-east1"}, []string{"service-a", "service-b"}).Build(),
		"fleet and network in other projects": fedtest.Generated("gen", 3, []string{"us-west2"}, []string{"svc-a"}).
			FleetProject("fleet-proj", 0).Network("host-proj", "mesh-vpc").Build(),
		"reference": fedtest.Reference().Build(),
	}
	samples, err := filepath.Glob(filepath.Join("..", "..", "..", "samples", "*", "federation.yaml"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("samples: %v %v", samples, err)
	}
	for _, file := range samples {
		c, err := v1alpha1.CheckFile(file, v1alpha1.ValidateOptions{SkipFiles: true})
		if err != nil {
			t.Fatal(err)
		}
		tests[filepath.Base(filepath.Dir(file))] = c.Federation
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			v1alpha1.SetDefaults(f)
			d, err := federation.CompileGoogleCloud(f, federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			fromModel, fromFile := scopeOf(d), scopeOfFile(f)
			if len(fromModel.projects) == 0 || len(fromModel.clusterProjects) == 0 || fromModel.fleet == "" || fromModel.network == "" || fromModel.federation == "" {
				t.Fatalf("scope of the model names too little to compare: %+v", fromModel)
			}
			if diff := cmp.Diff(fromModel, fromFile, cmp.AllowUnexported(scope{})); diff != "" {
				t.Errorf("the file's scope differs from the model's (-model +file):\n%s", diff)
			}
		})
	}
}
