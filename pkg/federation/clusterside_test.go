package federation_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// sampleFederation reads, validates and defaults a sample of the repository.
func sampleFederation(t *testing.T, name string) *v1alpha1.Federation {
	t.Helper()
	c, err := v1alpha1.CheckFile(filepath.Join("..", "..", "samples", name, "federation.yaml"), v1alpha1.ValidateOptions{SkipFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	return c.Federation
}

// TestAddObjectsIsCompile holds the split a plan makes, the Google Cloud side first and the
// clusters' objects added where the cluster side needs them, to the whole compile with the same
// facts.
func TestAddObjectsIsCompile(t *testing.T) {
	numbers := map[string]int64{fedtest.DefaultFleetProject: 11, "service-a": 12, "service-b": 13}
	tests := []struct {
		name  string
		f     func(t *testing.T) *v1alpha1.Federation
		facts federation.Facts
	}{
		{name: "generated, without numbers", f: func(*testing.T) *v1alpha1.Federation {
			return fedtest.Generated("gen", 4, []string{"us-west2", "us-east1"}, []string{"service-a", "service-b"}).Build()
		}},
		{name: "generated, with numbers and a registered membership", f: func(*testing.T) *v1alpha1.Federation {
			return fedtest.Generated("gen", 4, []string{"us-west2", "us-east1"}, []string{"service-a", "service-b"}).Build()
		}, facts: federation.Facts{ProjectNumbers: numbers}},
		{name: "reference", f: func(*testing.T) *v1alpha1.Federation { return fedtest.Reference().Build() }},
		{name: "managed control plane", f: func(t *testing.T) *v1alpha1.Federation { return sampleFederation(t, "managed-control-plane") }},
		{name: "add-ons, instance read", f: func(t *testing.T) *v1alpha1.Federation { return sampleFederation(t, "addons") },
			facts: federation.Facts{CloudSQL: map[string]federation.CloudSQLFacts{
				"asm-multicluster-demo:us-west2:orders-db": {Found: true, PrivateIP: "10.9.0.3", State: "RUNNABLE"}}}},
		{name: "add-ons, instance missing", f: func(t *testing.T) *v1alpha1.Federation { return sampleFederation(t, "addons") },
			facts: federation.Facts{CloudSQL: map[string]federation.CloudSQLFacts{"asm-multicluster-demo:us-west2:orders-db": {}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f(t)
			v1alpha1.SetDefaults(f)
			if tc.facts.ProjectNumbers != nil {
				c := f.Spec.Clusters[1]
				tc.facts.Memberships = map[string]federation.MembershipFacts{
					"projects/" + c.Project + "/locations/" + c.Location + "/clusters/" + c.Name: {Location: v1alpha1.RegionOf(c.Location), Name: c.Name + "-registered"}}
			}
			whole, err := federation.Compile(f, tc.facts)
			if err != nil {
				t.Fatal(err)
			}
			split, err := federation.CompileGoogleCloud(f, tc.facts)
			if err != nil {
				t.Fatal(err)
			}
			if err := federation.AddObjects(f, split); err != nil {
				t.Fatal(err)
			}
			objects := 0
			for _, c := range split.Clusters {
				objects += len(c.Objects)
			}
			if objects == 0 {
				t.Fatal("no Kubernetes objects added")
			}
			if diff := cmp.Diff(whole, split); diff != "" {
				t.Errorf("CompileGoogleCloud and AddObjects differ from Compile (-whole +split):\n%s", diff)
			}
		})
	}
}

// TestAddObjectsRefuses refuses a model that is not CompileGoogleCloud's of the same file, and
// objects added twice, which would drop an attached control plane.
func TestAddObjectsRefuses(t *testing.T) {
	f := fedtest.Generated("gen", 3, []string{"us-west2"}, []string{"service-a"}).Build()
	v1alpha1.SetDefaults(f)
	other := fedtest.Generated("gen", 2, []string{"us-west2"}, []string{"service-a"}).Build()
	v1alpha1.SetDefaults(other)
	renamed := fedtest.Generated("other", 3, []string{"us-west2"}, []string{"service-a"}).Build()
	v1alpha1.SetDefaults(renamed)
	cloud := func(f *v1alpha1.Federation) *federation.Desired {
		d, err := federation.CompileGoogleCloud(f, federation.Facts{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	whole, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    *v1alpha1.Federation
		d    *federation.Desired
		want string
	}{
		{"objects already", f, whole, "cluster c01 has 14 objects already"},
		{"fewer clusters in the file", other, cloud(f), "the model has 3 clusters, the file 2"},
		{"another federation", renamed, cloud(f), `the model is of federation "gen", the file of "other"`},
		{"no model", f, nil, "nil federation or model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := federation.AddObjects(tc.f, tc.d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("AddObjects: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
