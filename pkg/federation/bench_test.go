package federation_test

import (
	"fmt"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// BenchmarkCompile measures compiling a federation of n clusters over five regions: both layers'
// resources (Compile), and the Google Cloud side alone (CompileGoogleCloud), which a plan compiles
// first, without project numbers, to know what to read.
func BenchmarkCompile(b *testing.B) {
	for _, tc := range []struct {
		name    string
		compile func(*v1alpha1.Federation, federation.Facts) (*federation.Desired, error)
	}{{"whole", federation.Compile}, {"google-cloud", federation.CompileGoogleCloud}} {
		for _, n := range []int{1, 20, 100} {
			benchCompile(b, tc.name, n, tc.compile)
		}
	}
}

func benchCompile(b *testing.B, name string, n int, compile func(*v1alpha1.Federation, federation.Facts) (*federation.Desired, error)) {
	b.Run(fmt.Sprintf("%s/clusters=%d", name, n), func(b *testing.B) {
		f := fedtest.Generated("bench", n, []string{"us-west2", "us-east1", "us-central1", "europe-west1", "asia-east1"}, []string{"service-a", "service-b"}).Build()
		v1alpha1.SetDefaults(f)
		b.ReportAllocs()
		var objects int
		for i := 0; i < b.N; i++ {
			d, err := compile(f, federation.Facts{})
			if err != nil {
				b.Fatal(err)
			}
			objects = 0
			for _, c := range d.Clusters {
				objects += len(c.Objects)
			}
		}
		b.ReportMetric(float64(objects), "objects")
	})
}
