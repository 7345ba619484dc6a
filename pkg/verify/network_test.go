package verify

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/vpcfw"
)

// rulesOf is the firewall the federation derives, as the network would hold it.
func rulesOf(d *federation.Desired) []vpcfw.Rule {
	var out []vpcfw.Rule
	for _, r := range d.FirewallRules {
		v := vpcfw.Rule{Name: r.Name, Direction: vpcfw.Direction(r.Direction), Priority: r.Priority, SourceRanges: r.SourceRanges, TargetTags: r.TargetTags}
		for _, a := range r.Allowed {
			v.Allowed = append(v.Allowed, vpcfw.ProtocolPorts{Protocol: a.IPProtocol, Ports: a.Ports})
		}
		out = append(out, v)
	}
	return out
}

func TestFirewallFlows(t *testing.T) {
	c, err := v1alpha1.CheckFile("../../samples/two-cluster-private/federation.yaml", v1alpha1.ValidateOptions{SkipFiles: true})
	if err != nil || c.Err() != nil {
		t.Fatalf("sample: %v %v", err, c.Err())
	}
	d, err := federation.Compile(c.Federation, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	healthy := rulesOf(d)
	var webhooks, meshFrom3 string
	for _, r := range d.FirewallRules {
		switch {
		case strings.HasSuffix(r.Name, "-webhooks"):
			webhooks = r.Name
		case strings.HasSuffix(r.Name, "-mesh-from-cluster3"):
			meshFrom3 = r.Name
		}
	}
	without := func(name string) []vpcfw.Rule {
		var out []vpcfw.Rule
		for _, r := range healthy {
			if r.Name != name {
				out = append(out, r)
			}
		}
		return out
	}
	denyWebhook := append(append([]vpcfw.Rule{}, healthy...), vpcfw.Rule{Name: "corp-deny-15017", Direction: vpcfw.Ingress, Priority: 500,
		Denied: []vpcfw.ProtocolPorts{{Protocol: "tcp", Ports: []string{"15017"}}}, SourceRanges: []string{"0.0.0.0/0"}})
	tests := []struct {
		name     string
		rules    []vpcfw.Rule
		failed   int      // failed findings
		failures []string // each appears in some failed finding
	}{
		{name: "the derived rules carry every flow", rules: healthy},
		{name: "webhook rule deleted", rules: without(webhooks), failed: 6, failures: []string{"control plane 192.168.2.0/28 → nodes of cluster3 on tcp:15017", "control plane 192.168.3.0/28 → nodes of cluster4 on tcp:15017"}},
		{name: "a higher-priority deny from someone else", rules: denyWebhook, failed: 2, failures: []string{"cluster3 on tcp:15017: blocked, denied by corp-deny-15017", "cluster4 on tcp:15017: blocked, denied by corp-deny-15017"}},
		{name: "mesh rule of cluster3 deleted", rules: without(meshFrom3), failed: 1, failures: []string{"pods of cluster3 → pods of cluster4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &Env{Federation: c.Federation, Derived: d, Firewall: tt.rules}
			var failed []Finding
			oks := 0
			for _, f := range firewallFlows(context.Background(), env) {
				switch f.Status {
				case Fail:
					failed = append(failed, f)
					if f.Hint == "" {
						t.Errorf("failure without a hint: %s", f.Message)
					}
				case OK:
					oks++
					if !strings.Contains(f.Message, "allowed by asmfed-") {
						t.Errorf("an OK finding names no rule: %s", f.Message)
					}
				}
			}
			if len(failed) != tt.failed {
				t.Fatalf("%d failures, want %d: %v", len(failed), tt.failed, failed)
			}
			for _, want := range tt.failures {
				found := false
				for _, f := range failed {
					found = found || strings.Contains(f.Message, want)
				}
				if !found {
					t.Errorf("no failure says %q: %v", want, failed)
				}
			}
			if oks == 0 {
				t.Error("no flow was checked")
			}
		})
	}
	// A managed control plane's model opens 8443 and 9443 and not 15017, whose webhook Google
	// serves: the rules it derives carry every flow it checks, and the 15017 flows are not among
	// them; without the rule, only the two remaining ports fail.
	t.Run("managed control plane", func(t *testing.T) {
		f := *c.Federation
		f.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneManaged
		md, err := federation.Compile(&f, federation.Facts{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name   string
			rules  []vpcfw.Rule
			failed int
		}{
			{name: "its own rules", rules: rulesOf(md)},
			{name: "its webhooks rule deleted", rules: slices.DeleteFunc(rulesOf(md), func(r vpcfw.Rule) bool { return r.Name == webhooks }), failed: 4},
		} {
			var failed []string
			for _, fd := range firewallFlows(context.Background(), &Env{Federation: &f, Derived: md, Firewall: tt.rules}) {
				if strings.Contains(fd.Message, "tcp:15017") {
					t.Errorf("%s: a managed control plane's flows include 15017: %s", tt.name, fd.Message)
				}
				if fd.Status == Fail {
					failed = append(failed, fd.Message)
				}
			}
			if len(failed) != tt.failed {
				t.Errorf("%s: %d failures, want %d: %v", tt.name, len(failed), tt.failed, failed)
			}
		}
	})
	t.Run("rules not read", func(t *testing.T) {
		got := Run(context.Background(), &Env{Federation: c.Federation, Derived: d}, []Check{byID(t, "ASMFED-NET-001")}).Results
		if len(got) != 1 || got[0].Status != Skipped || got[0].Message != "the network's firewall rules were not read" {
			t.Fatalf("got %v, want one skipped finding", got)
		}
	})
}

// removeAuthorized drops the entry for cidr from a cluster's master authorized networks.
func removeAuthorized(cl *containerpb.Cluster, cidr string) {
	var keep []*containerpb.MasterAuthorizedNetworksConfig_CidrBlock
	for _, b := range cl.MasterAuthorizedNetworksConfig.CidrBlocks {
		if b.CidrBlock != cidr {
			keep = append(keep, b)
		}
	}
	cl.MasterAuthorizedNetworksConfig.CidrBlocks = keep
}

func TestAuthorizedNetworks(t *testing.T) {
	const pods4, pods3, admin = "10.185.192.0/18", "10.185.128.0/18", "10.0.0.0/24"
	runLive(t, "two-cluster-private", []liveCase{
		{name: "healthy", check: "ASMFED-NET-002"},
		{name: "a peer's pod range removed", check: "ASMFED-NET-002", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			removeAuthorized(gke["cluster3"], pods4)
		}, fails: []string{"cluster4 → cluster3: cluster3's master authorized networks do not contain the pods of cluster4 (10.185.192.0/18): istiod of cluster4 cannot reach the API server of cluster3"}},
		{name: "a wider entry holds the range", check: "ASMFED-NET-002", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			removeAuthorized(gke["cluster3"], pods4)
			m := gke["cluster3"].MasterAuthorizedNetworksConfig
			m.CidrBlocks = append(m.CidrBlocks, &containerpb.MasterAuthorizedNetworksConfig_CidrBlock{DisplayName: "corp", CidrBlock: "10.184.0.0/14"})
		}},
		{name: "a narrower entry does not", check: "ASMFED-NET-002", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			removeAuthorized(gke["cluster4"], pods3)
			m := gke["cluster4"].MasterAuthorizedNetworksConfig
			m.CidrBlocks = append(m.CidrBlocks, &containerpb.MasterAuthorizedNetworksConfig_CidrBlock{CidrBlock: "10.185.128.0/19"})
		}, fails: []string{"cluster3 → cluster4: cluster4's master authorized networks do not contain the pods of cluster3"}},
		{name: "authorized networks off", check: "ASMFED-NET-002", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			gke["cluster3"].MasterAuthorizedNetworksConfig.Enabled = false
		}, warns: []string{"cluster4 → cluster3: cluster3's master authorized networks are off"}},
		{name: "the newer API field", check: "ASMFED-NET-002", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			cl := gke["cluster3"]
			cl.ControlPlaneEndpointsConfig = &containerpb.ControlPlaneEndpointsConfig{IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{
				AuthorizedNetworksConfig: cl.MasterAuthorizedNetworksConfig}}
			cl.MasterAuthorizedNetworksConfig = nil
			removeAuthorized(&containerpb.Cluster{MasterAuthorizedNetworksConfig: cl.ControlPlaneEndpointsConfig.IpEndpointsConfig.AuthorizedNetworksConfig}, pods4)
		}, fails: []string{"cluster4 → cluster3: cluster3's master authorized networks do not contain the pods of cluster4"}},

		{name: "healthy", check: "ASMFED-NET-005"},
		{name: "the admin network removed", check: "ASMFED-NET-005", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			removeAuthorized(gke["cluster4"], admin)
		}, fails: []string{"bastion-admin → cluster4: cluster4's master authorized networks do not contain the admin network bastion-admin (10.0.0.0/24)"}},

		{name: "one region", check: "ASMFED-NET-004", skipped: "every cluster is in one region"},
	})
	// storefront-east's peers storefront-central and payments-central have pod ranges 10.64.0.0/16 and
	// 10.65.0.0/16, which its master authorized networks merge into one entry, 10.64.0.0/15.
	runLive(t, "multi-project-shared-vpc", []liveCase{
		{name: "healthy with the peers' ranges merged", check: "ASMFED-NET-002"},
		{name: "the merged entry removed", check: "ASMFED-NET-002", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			removeAuthorized(gke["storefront-east"], "10.64.0.0/15")
		}, fails: []string{
			"payments-central → storefront-east: storefront-east's master authorized networks do not contain the pods of payments-central (10.65.0.0/16)",
			"storefront-central → storefront-east: storefront-east's master authorized networks do not contain the pods of storefront-central (10.64.0.0/16)"}},
		{name: "healthy across regions", check: "ASMFED-NET-004"},
		{name: "global access off", check: "ASMFED-NET-004", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			gke["storefront-east"].PrivateClusterConfig.MasterGlobalAccessConfig.Enabled = false
		}, fails: []string{
			"payments-central → storefront-east: storefront-east (us-east4) has global access off: istiod of payments-central in us-central1",
			"storefront-central → storefront-east: storefront-east (us-east4) has global access off"}},
	})
}

// The hint of a missing range is a gcloud command that keeps the entries there are.
func TestAuthorizedNetworksHint(t *testing.T) {
	f, d := sample(t, "two-cluster-private")
	gke := gkeOf(d)
	removeAuthorized(gke["cluster3"], "10.185.192.0/18")
	r := Run(context.Background(), &Env{Federation: f, Derived: d, GKE: gke}, []Check{byID(t, "ASMFED-NET-002")})
	want := "gcloud container clusters update cluster3 --project asm-multicluster-demo --location us-west2 --enable-master-authorized-networks --master-authorized-networks 10.0.0.0/24,10.185.192.0/18"
	for _, res := range r.Results {
		if res.Status == Fail && strings.HasSuffix(res.Hint, want) {
			return
		}
	}
	t.Errorf("no failure hints %q: %+v", want, r.Results)
}

// The bastion's path: IAP through the live firewall to its SSH port, and from its live address to
// every cluster's private endpoint; each way of breaking it fails naming what broke.
func TestBastionReach(t *testing.T) {
	const vm = "mesh-bastion"
	healthy := func(t *testing.T) (*Env, *federation.Desired) {
		f, d := sample(t, "multi-project-shared-vpc")
		in := &computepb.Instance{Name: proto.String(vm), Zone: proto.String("https://www.googleapis.com/compute/v1/projects/retail-net-host/zones/us-central1-a"),
			Status: proto.String("RUNNING"), NetworkInterfaces: []*computepb.NetworkInterface{{NetworkIP: proto.String("10.10.0.3")}},
			Tags: &computepb.Tags{Items: []string{d.Bastion.Tag}}}
		return &Env{Federation: f, Derived: d, Firewall: rulesOf(d), GKE: gkeOf(d), Bastion: &BastionVM{Instance: in}}, d
	}
	tests := []struct {
		name    string
		breakIt func(env *Env, d *federation.Desired)
		fails   []string
		skipped string
	}{
		{name: "healthy"},
		{name: "the IAP rule deleted", breakIt: func(env *Env, d *federation.Desired) {
			env.Firewall = slices.DeleteFunc(env.Firewall, func(r vpcfw.Rule) bool { return strings.HasSuffix(r.Name, "-iap-ssh") })
		}, fails: []string{"mesh-bastion: Identity-Aware Proxy (35.235.240.0/20) → bastion mesh-bastion (10.10.0.3) on tcp:22: blocked"}},
		{name: "a deny rule of higher priority", breakIt: func(env *Env, _ *federation.Desired) {
			env.Firewall = append(env.Firewall, vpcfw.Rule{Name: "corp-deny-ssh", Direction: vpcfw.Ingress, Priority: 100,
				Denied: []vpcfw.ProtocolPorts{{Protocol: "tcp", Ports: []string{"22"}}}, SourceRanges: []string{"0.0.0.0/0"}})
		}, fails: []string{"mesh-bastion: Identity-Aware Proxy (35.235.240.0/20) → bastion mesh-bastion (10.10.0.3) on tcp:22: blocked, denied by corp-deny-ssh"}},
		{name: "the VM lost its tag", breakIt: func(env *Env, _ *federation.Desired) {
			env.Bastion.Instance.Tags = nil
		}, fails: []string{"on tcp:22: blocked"}},
		{name: "stopped", breakIt: func(env *Env, _ *federation.Desired) {
			env.Bastion.Instance.Status = proto.String("TERMINATED")
		}, fails: []string{"mesh-bastion: the bastion mesh-bastion is TERMINATED: administrators cannot reach the clusters through it"}},
		{name: "absent", breakIt: func(env *Env, _ *federation.Desired) {
			env.Bastion.Instance = nil
		}, fails: []string{"mesh-bastion: the bastion mesh-bastion does not exist in us-central1-a (project retail-net-host)"}},
		{name: "its address out of a cluster's authorized networks", breakIt: func(env *Env, _ *federation.Desired) {
			removeAuthorized(env.GKE["payments-central"], "10.10.0.0/24")
		}, fails: []string{"mesh-bastion → payments-central: payments-central's master authorized networks do not contain the bastion mesh-bastion (10.10.0.3)"}},
		{name: "another address than the file's", breakIt: func(env *Env, _ *federation.Desired) {
			env.Bastion.Instance.NetworkInterfaces[0].NetworkIP = proto.String("10.20.0.3")
		}, fails: []string{"mesh-bastion → storefront-central: storefront-central's master authorized networks do not contain the bastion mesh-bastion (10.20.0.3)"}},
		{name: "global access off in another region", breakIt: func(env *Env, _ *federation.Desired) {
			env.GKE["storefront-east"].PrivateClusterConfig.MasterGlobalAccessConfig.Enabled = false
		}, fails: []string{"mesh-bastion → storefront-east: storefront-east (us-east4) has global access off: the bastion in us-central1 cannot reach its private endpoint"}},
		{name: "VMs not read", breakIt: func(env *Env, _ *federation.Desired) { env.Bastion = nil }, skipped: "the project's VMs were not read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, d := healthy(t)
			if tt.breakIt != nil {
				tt.breakIt(env, d)
			}
			r := Run(context.Background(), env, []Check{byID(t, "ASMFED-NET-007")})
			if tt.skipped != "" {
				if r.Checks[0].Status != Skipped || !strings.Contains(r.Results[0].Message, tt.skipped) {
					t.Fatalf("want skipped (%s), got %+v", tt.skipped, r.Results)
				}
				return
			}
			var fails []string
			oks := 0
			for _, res := range r.Results {
				switch res.Status {
				case Fail:
					fails = append(fails, res.Subject+": "+res.Message)
					if res.Hint == "" {
						t.Errorf("failure without a hint: %s", res.Message)
					}
				case OK:
					oks++
				}
			}
			if len(tt.fails) == 0 {
				if len(fails) > 0 {
					t.Fatalf("healthy bastion fails: %v", fails)
				}
				// IAP, three clusters' authorized networks, and global access of the one in us-east4.
				if oks != 5 {
					t.Fatalf("healthy: %d findings ok, want 5: %+v", oks, r.Results)
				}
				return
			}
			for _, want := range tt.fails {
				if !slices.ContainsFunc(fails, func(s string) bool { return strings.Contains(s, want) }) {
					t.Errorf("no failure %q in %v", want, fails)
				}
			}
		})
	}
}

func TestBastionReachWithoutBastion(t *testing.T) {
	f, d := sample(t, "two-cluster-private")
	r := Run(context.Background(), &Env{Federation: f, Derived: d, Bastion: &BastionVM{}}, []Check{byID(t, "ASMFED-NET-007")})
	if r.Checks[0].Status != Skipped || !strings.Contains(r.Results[0].Message, "the file has no bastion") {
		t.Fatalf("a file without a bastion: %+v", r.Results)
	}
}
