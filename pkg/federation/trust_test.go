package federation_test

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// TestIstiodWaitsForCACerts: istiod picks its CA when it starts, and without cacerts signs with a
// root of its own until restarted. With the plug-in CA its Deployment therefore depends on
// cacerts, so apply installs the intermediate first; gateways do not wait for it.
func TestIstiodWaitsForCACerts(t *testing.T) {
	deployment := func(name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apps/v1")
		u.SetKind("Deployment")
		u.SetNamespace(federation.IstioNamespace)
		u.SetName(name)
		return u
	}
	cacerts := plan.ObjectAddress("c1", federation.IstioNamespace, "Secret", "cacerts")
	for _, tt := range []struct {
		name string
		ca   string
		want bool
	}{
		{name: "plug-in CA", ca: v1alpha1.CAPlugin, want: true},
		{name: "no cacerts in the model", ca: v1alpha1.CAManaged, want: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := fedtest.New("mesh").FleetProject("fleet-project", 1).
				Cluster(fedtest.Cluster("c1").Ranges("10.10.0.0/24", "10.100.0.0/16", "172.16.0.0/24", "192.168.0.0/28")).
				Mesh(func(m *v1alpha1.Mesh) { m.CA.Mode = tt.ca }).Build()
			d, err := federation.Compile(f, federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			err = d.AttachControlPlane(map[string][]*unstructured.Unstructured{"c1": {deployment("istiod-1-31-0"), deployment("istio-ingressgateway")}})
			if err != nil {
				t.Fatal(err)
			}
			deps := map[string][]plan.Address{}
			for _, o := range d.Clusters[0].Objects {
				if o.Kind == "Deployment" {
					deps[o.Name] = o.DependsOn
				}
			}
			if got := slices.Contains(deps["istiod-1-31-0"], cacerts); got != tt.want {
				t.Errorf("istiod depends on cacerts: %t, want %t (%v)", got, tt.want, deps["istiod-1-31-0"])
			}
			if slices.Contains(deps["istio-ingressgateway"], cacerts) {
				t.Errorf("the ingress gateway waits for cacerts: %v", deps["istio-ingressgateway"])
			}
		})
	}
}
