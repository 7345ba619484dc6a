package federation_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// TestCompileSamples compiles every sample the repository ships: a sample that validates must
// also compile, offline, with placeholders only for project numbers.
func TestCompileSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "samples", "*", "federation.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no samples")
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, _, errs := v1alpha1.Parse(file, data)
			if len(errs) > 0 {
				t.Fatalf("parse: %v", errs)
			}
			v1alpha1.SetDefaults(f)
			d, err := federation.Compile(f, federation.Facts{})
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			checkReasons(t, d)
			want := len(f.Spec.Clusters) * (len(f.Spec.Clusters) - 1)
			if f.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
				// The managed control plane discovers the peers through asm-options.
				want = 0
			}
			if len(d.RemoteSecrets) != want {
				t.Errorf("%d remote secrets, want %d", len(d.RemoteSecrets), want)
			}
			for _, w := range d.Warnings {
				t.Errorf("warning: %s", w)
			}
		})
	}
}
