package federation_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Every cluster's way in is in the model with the address that will be tried: the Connect
// Gateway by default, through the cluster's fleet membership and the fleet project's number; a
// kubeconfig context when the cluster names one; an endpoint when the file says so. Only the
// gateway needs its API and the caller's gateway role.
func TestClusterAccess(t *testing.T) {
	const fleet = fedtest.DefaultFleetProject
	c1 := func() *fedtest.ClusterBuilder {
		return fedtest.Cluster("c1").Ranges("10.10.0.0/24", "10.100.0.0/16", "172.16.0.0/24", "192.168.0.0/28")
	}
	c2 := func() *fedtest.ClusterBuilder {
		return fedtest.Cluster("c2").Ranges("10.10.1.0/24", "10.101.0.0/16", "172.16.1.0/24", "192.168.1.0/28")
	}
	type want struct {
		Via, Address, Why string
	}
	gateway := func(num, name string) want {
		return want{"connectGateway", "https://connectgateway.googleapis.com/v1/projects/" + num + "/locations/global/gkeMemberships/" + name, "spec.access.via is connectGateway"}
	}
	tests := []struct {
		name        string
		fed         *fedtest.Builder
		facts       federation.Facts
		want        map[string]want
		wantGateway bool
		unresolved  bool
	}{
		{
			name:  "nothing said: the Connect Gateway, by the fleet project's number",
			fed:   fedtest.New("mesh").Cluster(c1()).Cluster(c2()),
			facts: federation.Facts{ProjectNumbers: map[string]int64{fleet: 123456789012}},
			want: map[string]want{
				"c1": gateway("123456789012", "c1"),
				"c2": gateway("123456789012", "c2"),
			},
			wantGateway: true,
		},
		{
			name: "the fleet project's number not read yet: a placeholder in the address",
			fed:  fedtest.New("mesh").Cluster(c1()).Cluster(c2()),
			want: map[string]want{
				"c1": gateway("<number of "+fleet+", read at plan time>", "c1"),
				"c2": gateway("<number of "+fleet+", read at plan time>", "c2"),
			},
			wantGateway: true,
			unresolved:  true,
		},
		{
			name:  "a kubeconfig context, and the gateway for the other",
			fed:   fedtest.New("mesh").Cluster(c1().KubeconfigContext("ctx-1")).Cluster(c2()),
			facts: federation.Facts{ProjectNumbers: map[string]int64{fleet: 123456789012}},
			want: map[string]want{
				"c1": {"kubeconfig", "kubeconfig context ctx-1", "kubeconfigContext names kubeconfig context ctx-1"},
				"c2": gateway("123456789012", "c2"),
			},
			wantGateway: true,
		},
		{
			name:  "inside the VPC: private endpoints, and a public one for a cluster that has it",
			fed:   fedtest.New("mesh").Access(v1alpha1.AccessPrivateEndpoint).Cluster(c1()).Cluster(c2().PrivateEndpoint(false).Access(v1alpha1.AccessPublicEndpoint)),
			facts: federation.Facts{ProjectNumbers: map[string]int64{fleet: 123456789012}},
			want: map[string]want{
				"c1": {"privateEndpoint", "the private endpoint GKE reports for c1 (privateClusterConfig.privateEndpoint)", "spec.access.via is privateEndpoint"},
				"c2": {"publicEndpoint", "the public endpoint GKE reports for c2 (endpoint)", "access.via of the cluster is publicEndpoint"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := federation.Compile(tt.fed.Build(), tt.facts)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]want{}
			for _, c := range d.Clusters {
				why, _, _ := strings.Cut(c.Access.Reason, ":")
				got[c.Name] = want{c.Access.Via, c.Access.Address, why}
				if c.Access.Via == v1alpha1.AccessConnectGateway {
					if m := plan.MembershipAddress(fleet, "global", c.Name); c.Access.Membership != m {
						t.Errorf("%s goes through membership %s, want %s", c.Name, c.Access.Membership, m)
					}
					if c.Access.Unresolved != tt.unresolved {
						t.Errorf("%s: unresolved %t, want %t", c.Name, c.Access.Unresolved, tt.unresolved)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("access (-want +got):\n%s", diff)
			}
			hasAPI := slices.ContainsFunc(d.APIs, func(a federation.APIService) bool {
				return a.Project == fleet && a.Service == "connectgateway.googleapis.com"
			})
			var roles []string
			for _, r := range d.CallerRoles {
				roles = append(roles, r.Project+" "+r.Role)
			}
			wantRoles := []string(nil)
			if tt.wantGateway {
				wantRoles = []string{fleet + " roles/gkehub.gatewayEditor"}
			}
			if hasAPI != tt.wantGateway || !slices.Equal(roles, wantRoles) {
				t.Errorf("connectgateway.googleapis.com enabled: %t, caller roles %v; want %t, %v", hasAPI, roles, tt.wantGateway, wantRoles)
			}
		})
	}
}
