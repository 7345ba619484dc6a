package federation_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// TestCompileBastion: the bastion is a VM of the network project on its subnet, with the IAP SSH
// rule on its own tag; each cluster's control plane admits it (through an admin network that
// already holds its address, or an entry of its own); its subnet is NATed when asked.
func TestCompileBastion(t *testing.T) {
	// Two clusters in us-west2 and one in us-east1; the bastion's subnet is ops, in us-west2.
	base := func() *fedtest.Builder {
		return fedtest.New("bf").Network("net-proj", "vpc").
			Subnet("ops", "us-west2", "10.9.0.0/24").
			Cluster(fedtest.Cluster("west").Project("svc-proj").Location("us-west2").
				Ranges("10.1.0.0/24", "10.101.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).
			Cluster(fedtest.Cluster("east").Project("svc-proj").Location("us-east1").
				Ranges("10.2.0.0/24", "10.102.0.0/16", "172.16.2.0/24", "192.168.2.0/28")).
			Bastion("jump", "us-west2-b", "ops")
	}
	with := func(b *fedtest.Builder, change func(f *v1alpha1.Federation)) *v1alpha1.Federation {
		f := b.Build()
		change(f)
		return f
	}
	static := func(f *v1alpha1.Federation) { f.Spec.Admin.Bastion.InternalIP = "10.9.0.7" }
	bastionEntry := func(t *testing.T, d *federation.Desired, want *federation.AuthorizedNetwork) {
		t.Helper()
		for _, c := range d.Clusters {
			var got *federation.AuthorizedNetwork
			for i, n := range c.MasterAuthorizedNetworks {
				if n.DisplayName == "jump" {
					got = &c.MasterAuthorizedNetworks[i]
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cluster %s: the bastion's authorized network (-want +got):\n%s", c.Name, diff)
			}
		}
	}
	natSubnets := func(d *federation.Desired) map[string][]string {
		out := map[string][]string{}
		for _, n := range d.NATs {
			for _, s := range n.Subnets {
				out[n.Region] = append(out[n.Region], s.Name)
			}
		}
		return out
	}

	tests := []struct {
		name  string
		f     *v1alpha1.Federation
		check func(t *testing.T, d *federation.Desired)
	}{
		{
			name: "the VM, its SSH command and the IAP rule on its tag",
			f:    with(base(), static),
			check: func(t *testing.T, d *federation.Desired) {
				b := d.Bastion
				if b == nil {
					t.Fatal("no bastion")
				}
				want := federation.Bastion{
					Address: plan.InstanceAddress("net-proj", "us-west2-b", "jump"), Project: "net-proj", Zone: "us-west2-b", Region: "us-west2", Name: "jump",
					Network: "projects/net-proj/global/networks/vpc", Subnetwork: "projects/net-proj/regions/us-west2/subnetworks/ops",
					SubnetAddress: plan.SubnetworkAddress("net-proj", "us-west2", "ops"), MachineType: "e2-small", InternalIP: "10.9.0.7",
					AuthorizedRange: "10.9.0.7/32", Tag: "asmfed-bf--bastion", Image: federation.BastionImage,
					Labels:     map[string]string{"managed-by": "asmfed", "asmfed-federation": "bf"},
					SSHRule:    plan.FirewallAddress("net-proj", "asmfed-bf--iap-ssh"),
					SSHCommand: "gcloud compute ssh jump --zone us-west2-b --project net-proj --tunnel-through-iap",
				}
				got := *b
				got.Reason = ""
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("bastion (-want +got):\n%s", diff)
				}
				if !strings.Contains(b.Reason, "`"+want.SSHCommand+"`") {
					t.Errorf("the bastion's reason does not give the ssh command: %q", b.Reason)
				}
				var rule *federation.FirewallRule
				for i, r := range d.FirewallRules {
					if r.Address == b.SSHRule {
						rule = &d.FirewallRules[i]
					}
				}
				if rule == nil {
					t.Fatalf("no firewall rule %s", b.SSHRule)
				}
				if diff := cmp.Diff([]string{"35.235.240.0/20"}, rule.SourceRanges); diff != "" {
					t.Errorf("IAP rule sources (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]string{b.Tag}, rule.TargetTags); diff != "" {
					t.Errorf("IAP rule targets (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]federation.Allowed{{IPProtocol: "tcp", Ports: []string{"22"}}}, rule.Allowed); diff != "" {
					t.Errorf("IAP rule ports (-want +got):\n%s", diff)
				}
				if !strings.HasPrefix(rule.Description, federation.DescriptionMarker("bf")+": ") || !strings.Contains(rule.Reason, want.SSHCommand) {
					t.Errorf("IAP rule: description %q, reason %q", rule.Description, rule.Reason)
				}
				// The rule opens SSH to the bastion only: no node carries its tag.
				for _, c := range d.Clusters {
					for _, tag := range c.NodeTags {
						if tag == b.Tag {
							t.Errorf("nodes of %s carry the bastion's tag", c.Name)
						}
					}
				}
				var apis []string
				for _, a := range d.APIs {
					if a.Project == "net-proj" {
						apis = append(apis, a.Service)
					}
				}
				if !strings.Contains(strings.Join(apis, " "), "iap.googleapis.com") {
					t.Errorf("network project APIs %v lack iap.googleapis.com", apis)
				}
			},
		},
		{
			name: "a static address outside the admin networks is authorized on its own",
			f:    with(base(), static),
			check: func(t *testing.T, d *federation.Desired) {
				bastionEntry(t, d, &federation.AuthorizedNetwork{DisplayName: "jump", CIDR: "10.9.0.7/32",
					Reason: "the bastion jump: administrators run kubectl against the private endpoint from it (its static address)"})
			},
		},
		{
			name: "without a static address its subnet is authorized",
			f:    base().Build(),
			check: func(t *testing.T, d *federation.Desired) {
				bastionEntry(t, d, &federation.AuthorizedNetwork{DisplayName: "jump", CIDR: "10.9.0.0/24",
					Reason: "the bastion jump: administrators run kubectl against the private endpoint from it (its subnet's primary range, as its address is not fixed)"})
			},
		},
		{
			name: "an admin network that holds its address admits it, and no entry is added",
			f:    with(base().Admin("ops-admins", "10.9.0.0/24"), static),
			check: func(t *testing.T, d *federation.Desired) {
				bastionEntry(t, d, nil)
				for _, c := range d.Clusters {
					var admin []federation.AuthorizedNetwork
					for _, n := range c.MasterAuthorizedNetworks {
						if n.DisplayName == "ops-admins" {
							admin = append(admin, n)
						}
					}
					want := []federation.AuthorizedNetwork{{DisplayName: "ops-admins", CIDR: "10.9.0.0/24",
						Reason: "admin network: administrators and automation run kubectl from it; it admits the bastion jump (10.9.0.7), from which administrators run kubectl"}}
					if diff := cmp.Diff(want, admin); diff != "" {
						t.Errorf("cluster %s: admin network (-want +got):\n%s", c.Name, diff)
					}
				}
			},
		},
		{
			name: "nat adds its subnet to the NAT of its region",
			f:    with(base(), func(f *v1alpha1.Federation) { f.Spec.Admin.Bastion.NAT = true }),
			check: func(t *testing.T, d *federation.Desired) {
				want := map[string][]string{"us-east1": {"east"}, "us-west2": {"ops", "west"}}
				if diff := cmp.Diff(want, natSubnets(d)); diff != "" {
					t.Errorf("NATed subnets (-want +got):\n%s", diff)
				}
				for _, n := range d.NATs {
					if n.Region == "us-west2" && (!strings.Contains(n.Reason, "private nodes in us-west2") || !strings.Contains(n.Reason, "bastion jump")) {
						t.Errorf("NAT reason %q names neither the nodes nor the bastion", n.Reason)
					}
				}
			},
		},
		{
			name: "nat with Cloud NAT disabled creates a NAT for the bastion's subnet only",
			f:    with(base().NAT(false, nil, nil), func(f *v1alpha1.Federation) { f.Spec.Admin.Bastion.NAT = true }),
			check: func(t *testing.T, d *federation.Desired) {
				if diff := cmp.Diff(map[string][]string{"us-west2": {"ops"}}, natSubnets(d)); diff != "" {
					t.Errorf("NATed subnets (-want +got):\n%s", diff)
				}
				if len(d.NATs) == 1 && (strings.Contains(d.NATs[0].Reason, "nodes") || !strings.Contains(d.NATs[0].Reason, "bastion jump")) {
					t.Errorf("NAT reason %q", d.NATs[0].Reason)
				}
			},
		},
		{
			name: "nat in a region the file's NAT leaves out NATs the bastion's subnet only",
			f: with(base().NAT(true, []string{"us-east1"}, []string{"east"}), func(f *v1alpha1.Federation) {
				f.Spec.Admin.Bastion.NAT = true
			}),
			check: func(t *testing.T, d *federation.Desired) {
				want := map[string][]string{"us-east1": {"east"}, "us-west2": {"ops"}}
				if diff := cmp.Diff(want, natSubnets(d)); diff != "" {
					t.Errorf("NATed subnets (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "without nat the bastion's subnet is not NATed",
			f:    base().Build(),
			check: func(t *testing.T, d *federation.Desired) {
				want := map[string][]string{"us-east1": {"east"}, "us-west2": {"west"}}
				if diff := cmp.Diff(want, natSubnets(d)); diff != "" {
					t.Errorf("NATed subnets (-want +got):\n%s", diff)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := federation.Compile(tt.f, federation.Facts{})
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			tt.check(t, d)
			checkReasons(t, d)
		})
	}

	// Without a bastion there is no VM, no IAP rule and no IAP API.
	d, err := federation.Compile(fedtest.New("bf").Cluster(fedtest.Cluster("west").Ranges("10.1.0.0/24", "10.101.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).Build(), federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Bastion != nil {
		t.Errorf("bastion without one in the file: %+v", d.Bastion)
	}
	for _, r := range d.FirewallRules {
		if strings.HasSuffix(r.Name, "iap-ssh") {
			t.Errorf("IAP rule without a bastion: %s", r.Name)
		}
	}
	for _, a := range d.APIs {
		if a.Service == "iap.googleapis.com" {
			t.Errorf("IAP API without a bastion: %s", a.Address)
		}
	}
}
