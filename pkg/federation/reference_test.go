package federation_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// TestCompileReference checks the derivations against the reference Terraform sample
// (shared/reference/seed-repo.md): the same holes in the firewall and the same master authorized
// networks, written once here as literals because they are the specification.
func TestCompileReference(t *testing.T) {
	d, err := federation.Compile(fedtest.Reference().Build(), federation.Facts{
		ProjectNumbers: map[string]int64{fedtest.ReferenceProject: fedtest.ReferenceProjectNumber},
	})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}

	t.Run("firewall rules", func(t *testing.T) {
		type rule struct {
			Name         string
			Project      string
			Network      string
			SourceRanges []string
			TargetTags   []string
			Allowed      []federation.Allowed
		}
		want := []rule{
			{ // asm-gce-to-vpc3-clusters-all
				Name: "asmfed-asm--admin", Project: "asm-seed", Network: "asm-vpc-3",
				SourceRanges: []string{"10.0.0.0/24"}, TargetTags: []string{"cluster3", "cluster4"},
				Allowed: []federation.Allowed{{IPProtocol: "tcp"}},
			},
			{ // the port-22 rule the reference's README asks to create by hand, for Identity-Aware Proxy only
				Name: "asmfed-asm--iap-ssh", Project: "asm-seed", Network: "asm-vpc-3",
				SourceRanges: []string{"35.235.240.0/20"}, TargetTags: []string{"asmfed-asm--bastion"},
				Allowed: []federation.Allowed{{IPProtocol: "tcp", Ports: []string{"22"}}},
			},
			{ // asm-from-cluster3-to-cluster4, with the mesh's default of every port
				Name: "asmfed-asm--mesh-from-cluster3", Project: "asm-seed", Network: "asm-vpc-3",
				SourceRanges: []string{"10.185.128.0/18"}, TargetTags: []string{"cluster4"},
				Allowed: []federation.Allowed{{IPProtocol: "all"}},
			},
			{ // asm-from-cluster4-to-cluster3
				Name: "asmfed-asm--mesh-from-cluster4", Project: "asm-seed", Network: "asm-vpc-3",
				SourceRanges: []string{"10.185.192.0/18"}, TargetTags: []string{"cluster3"},
				Allowed: []federation.Allowed{{IPProtocol: "all"}},
			},
			{ // asm-ports-15017-9443-vpc3 and asm-ports-8443-vpc3 in one rule
				Name: "asmfed-asm--webhooks", Project: "asm-seed", Network: "asm-vpc-3",
				SourceRanges: []string{"192.168.2.0/28", "192.168.3.0/28"}, TargetTags: []string{"cluster3", "cluster4"},
				Allowed: []federation.Allowed{{IPProtocol: "tcp", Ports: []string{"8443", "9443", "15017"}}},
			},
		}
		var got []rule
		for _, r := range d.FirewallRules {
			got = append(got, rule{r.Name, r.Project, r.Network, r.SourceRanges, r.TargetTags, r.Allowed})
			if r.Direction != "INGRESS" || r.Priority != federation.FirewallPriority {
				t.Errorf("rule %s: direction %s priority %d, want INGRESS %d", r.Name, r.Direction, r.Priority, federation.FirewallPriority)
			}
			if want := "managed-by=asmfed federation=asm: " + r.Reason; r.Description != want {
				t.Errorf("rule %s: description %q, want %q", r.Name, r.Description, want)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("firewall rules (-want +got):\n%s", diff)
		}
	})

	t.Run("master authorized networks", func(t *testing.T) {
		want := map[string][]string{
			"cluster3": {"bastion-admin 10.0.0.0/24", "cluster4-pods 10.185.192.0/18"},
			"cluster4": {"bastion-admin 10.0.0.0/24", "cluster3-pods 10.185.128.0/18"},
		}
		got := map[string][]string{}
		for _, c := range d.Clusters {
			for _, n := range c.MasterAuthorizedNetworks {
				got[c.Name] = append(got[c.Name], n.DisplayName+" "+n.CIDR)
			}
			if c.MasterGlobalAccess {
				t.Errorf("cluster %s: master global access on, but both clusters are in us-west2", c.Name)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("master authorized networks (-want +got):\n%s", diff)
		}
	})

	t.Run("mesh and clusters", func(t *testing.T) {
		want := federation.MeshIdentity{
			MeshID:       "proj-123456789012",
			TrustDomain:  "asm-seed.svc.id.goog",
			Network:      "asm-vpc-3",
			ControlPlane: "inCluster",
			CA:           "plugin",
			Revision:     "1-31-0",
			Hub:          "docker.io/istio",
			Tag:          "1.31.0",
		}
		got := d.Mesh
		got.Reason = ""
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("mesh (-want +got):\n%s", diff)
		}
		for _, c := range d.Clusters {
			wantLabels := map[string]string{"mesh_id": "proj-123456789012", "managed-by": "asmfed", "asmfed-federation": "asm"}
			if diff := cmp.Diff(wantLabels, c.Labels); diff != "" {
				t.Errorf("cluster %s labels (-want +got):\n%s", c.Name, diff)
			}
			if c.IstioClusterName != c.Name || c.Region != "us-west2" || !c.PrivateEndpoint {
				t.Errorf("cluster %s: identity %+v", c.Name, c)
			}
		}
		if !d.Resolved() || d.SharedVPC != nil {
			t.Errorf("unresolved %v, shared VPC %+v; want resolved and no Shared VPC", d.Unresolved, d.SharedVPC)
		}
	})

	t.Run("NAT", func(t *testing.T) {
		// asm-router3/asm-nat3: the cluster subnets only, primary ranges; the bastion subnet is not NATed.
		want := []federation.NAT{{
			Address: "gcp:projects/asm-seed/regions/us-west2/routers/asmfed-asm--router-us-west2",
			Project: "asm-seed", Region: "us-west2", Network: "asm-vpc-3",
			Router: "asmfed-asm--router-us-west2", Name: "asmfed-asm--nat-us-west2",
			Subnets: []federation.NATSubnet{
				{Name: "cluster3", Ranges: []string{"PRIMARY_IP_RANGE"}},
				{Name: "cluster4", Ranges: []string{"PRIMARY_IP_RANGE"}},
			},
		}}
		got := append([]federation.NAT(nil), d.NATs...)
		for i := range got {
			got[i].Reason = ""
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("NATs (-want +got):\n%s", diff)
		}
	})

	t.Run("remote secrets", func(t *testing.T) {
		type secret struct{ Address, DataKey, Server string }
		want := []secret{
			{"k8s:cluster3/istio-system/Secret/istio-remote-secret-cluster4", "cluster4", "<private endpoint of cluster4>"},
			{"k8s:cluster4/istio-system/Secret/istio-remote-secret-cluster3", "cluster3", "<private endpoint of cluster3>"},
		}
		var got []secret
		for _, s := range d.RemoteSecrets {
			got = append(got, secret{string(s.Address), s.DataKey, s.Server})
			if s.Labels["istio/multiCluster"] != "true" {
				t.Errorf("secret %s: no istio/multiCluster=true label, istiod would ignore it", s.Address)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("remote secrets (-want +got):\n%s", diff)
		}
	})
}
