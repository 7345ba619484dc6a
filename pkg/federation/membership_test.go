package federation_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// Every cluster is a fleet member with its own OIDC issuer as the membership's authority, so
// fleet Workload Identity is on for it, whatever project and location (zone or region) it is in;
// the reason says so, and names the servicemesh feature only where the control plane is managed.
func TestCompileFleetMemberships(t *testing.T) {
	build := func(cp string) *v1alpha1.Federation {
		return fedtest.New("fleet").
			FleetProject("fleet-proj", 10).
			Network("host-proj", "vpc").
			Cluster(fedtest.Cluster("a1").Project("svc-a").Location("us-west2").
				Ranges("10.1.0.0/24", "10.101.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).
			Cluster(fedtest.Cluster("h1").Project("host-proj").Location("us-west2-a").
				Ranges("10.3.0.0/24", "10.103.0.0/16", "172.16.3.0/24", "192.168.3.0/28")).
			Mesh(func(m *v1alpha1.Mesh) { m.ControlPlane = cp }).
			Build()
	}
	facts := federation.Facts{ProjectNumbers: map[string]int64{"fleet-proj": 10, "svc-a": 20, "host-proj": 30}}

	d, err := federation.Compile(build(v1alpha1.ControlPlaneInCluster), facts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	type member struct{ Address, Cluster, Issuer, Pool string }
	var got []member
	for _, m := range d.FleetMemberships {
		got = append(got, member{string(m.Address), m.Cluster, m.Issuer, m.WorkloadIdentityPool})
		if !strings.Contains(m.Reason, "authority is "+m.Name+"'s OIDC issuer") || !strings.Contains(m.Reason, "fleet-proj.svc.id.goog") ||
			strings.Contains(m.Reason, "servicemesh") {
			t.Errorf("%s: reason %q", m.Address, m.Reason)
		}
	}
	want := []member{
		{"gcp:projects/fleet-proj/locations/global/memberships/a1", "//container.googleapis.com/projects/svc-a/locations/us-west2/clusters/a1",
			"https://container.googleapis.com/v1/projects/svc-a/locations/us-west2/clusters/a1", "fleet-proj.svc.id.goog"},
		{"gcp:projects/fleet-proj/locations/global/memberships/h1", "//container.googleapis.com/projects/host-proj/locations/us-west2-a/clusters/h1",
			"https://container.googleapis.com/v1/projects/host-proj/locations/us-west2-a/clusters/h1", "fleet-proj.svc.id.goog"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("memberships (-want +got):\n%s", diff)
	}

	d, err = federation.Compile(build(v1alpha1.ControlPlaneManaged), facts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	for _, m := range d.FleetMemberships {
		if !strings.Contains(m.Reason, "servicemesh feature runs its managed control plane") {
			t.Errorf("%s, managed: reason %q", m.Address, m.Reason)
		}
	}
}
