package verify

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// liveCase is one check over the sample's clusters as apply leaves them, then with one change.
type liveCase struct {
	name  string
	check string
	// breakIt changes what GKE reports; nil is the healthy case.
	breakIt func(d *federation.Desired, gke map[string]*containerpb.Cluster, services map[string][]string)
	// fails are the failed findings, as "subject: part of the message"; none when healthy.
	fails []string
	// warns likewise, for warnings.
	warns []string
	// skipped is the reason of a check that did not run or skipped every finding.
	skipped string
}

func runLive(t *testing.T, sampleName string, cases []liveCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.check+"/"+tt.name, func(t *testing.T) {
			f, d := sample(t, sampleName)
			gke := gkeOf(d)
			services := map[string][]string{}
			for _, a := range d.APIs {
				services[a.Project] = append(services[a.Project], a.Service)
			}
			if tt.breakIt != nil {
				tt.breakIt(d, gke, services)
			}
			env := &Env{Federation: f, Derived: d, GKE: gke, EnabledServices: services}
			r := Run(context.Background(), env, []Check{byID(t, tt.check)})
			var fails, warns []string
			for _, res := range r.Results {
				switch res.Status {
				case Fail:
					fails = append(fails, res.Subject+": "+res.Message)
					if res.Hint == "" {
						t.Errorf("failure without a hint: %s", res.Message)
					}
				case Warn:
					warns = append(warns, res.Subject+": "+res.Message)
				}
			}
			if tt.skipped != "" {
				if r.Checks[0].Status != Skipped || !strings.Contains(r.Results[0].Message, tt.skipped) {
					t.Fatalf("want skipped (%s), got %+v", tt.skipped, r.Results)
				}
				return
			}
			if tt.fails == nil && tt.warns == nil && r.Checks[0].Status != OK {
				t.Fatalf("healthy: check %s, findings %+v", r.Checks[0].Status, r.Results)
			}
			matchAll(t, "failures", fails, tt.fails)
			matchAll(t, "warnings", warns, tt.warns)
		})
	}
}

// matchAll wants each of want in its own element of got, and nothing more.
func matchAll(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d %s, want %d:\n%s", len(got), what, len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("%s %d: %q, want it to contain %q", what, i, got[i], w)
		}
	}
}

func TestGKESettings(t *testing.T) {
	c3 := func(gke map[string]*containerpb.Cluster) *containerpb.Cluster { return gke["cluster3"] }
	runLive(t, "two-cluster-private", []liveCase{
		{name: "healthy", check: "ASMFED-GKE-001"},
		{name: "public nodes", check: "ASMFED-GKE-001", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c3(gke).PrivateClusterConfig.EnablePrivateNodes = false
		}, fails: []string{"cluster3: the nodes have public addresses"}},
		{name: "private nodes by the network config", check: "ASMFED-GKE-001", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c3(gke).PrivateClusterConfig.EnablePrivateNodes = false
			c3(gke).NetworkConfig = &containerpb.NetworkConfig{DefaultEnablePrivateNodes: proto.Bool(true)}
		}},
		{name: "a cluster GKE does not have", check: "ASMFED-GKE-001", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			delete(gke, "cluster3")
			delete(gke, "cluster4")
		}, skipped: "the cluster does not exist in GKE"},

		{name: "healthy", check: "ASMFED-GKE-002"},
		{name: "no workload pool", check: "ASMFED-GKE-002", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c3(gke).WorkloadIdentityConfig = nil
		}, fails: []string{`cluster3: the workload pool is "", not "asm-multicluster-demo.svc.id.goog"`}},
		{name: "a pool without the metadata server", check: "ASMFED-GKE-002", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c3(gke).NodePools[0].Config.WorkloadMetadataConfig = nil
		}, fails: []string{"cluster3: node pool cluster3-node-pool does not run the GKE metadata server"}},
		{name: "off in the file", check: "ASMFED-GKE-002", breakIt: func(d *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			for i := range d.Clusters {
				d.Clusters[i].WorkloadPool = ""
			}
			c3(gke).WorkloadIdentityConfig = nil
		}, skipped: "the file turns Workload Identity off"},

		{name: "healthy", check: "ASMFED-GKE-003"},
		{name: "label removed", check: "ASMFED-GKE-003", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			labels := map[string]string{}
			for k, v := range c3(gke).ResourceLabels {
				if k != "mesh_id" {
					labels[k] = v
				}
			}
			c3(gke).ResourceLabels = labels
		}, fails: []string{"cluster3: the cluster has no mesh_id label"}},
		{name: "another mesh", check: "ASMFED-GKE-003", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c4 := proto.Clone(gke["cluster4"]).(*containerpb.Cluster)
			c4.ResourceLabels = map[string]string{"mesh_id": "proj-1"}
			gke["cluster4"] = c4
		}, fails: []string{"cluster4: mesh_id=proj-1, not proj-"}},

		{name: "healthy", check: "ASMFED-GKE-004"},
		{name: "an Ubuntu pool added by hand", check: "ASMFED-GKE-004", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c3(gke).NodePools = append(c3(gke).NodePools, &containerpb.NodePool{Name: "batch", Config: &containerpb.NodeConfig{ImageType: "UBUNTU_CONTAINERD"}})
		}, fails: []string{`cluster3: node pool batch runs "UBUNTU_CONTAINERD", not COS_CONTAINERD`}},
		{name: "the file asks for Ubuntu", check: "ASMFED-GKE-004", breakIt: func(d *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			d.Clusters[0].NodePools[0].ImageType = "UBUNTU_CONTAINERD"
			c3(gke).NodePools[0].Config.ImageType = "UBUNTU_CONTAINERD"
		}, warns: []string{"cluster3: node pool cluster3-node-pool on UBUNTU_CONTAINERD, as the file asks"}},

		{name: "healthy", check: "ASMFED-GKE-005"},
		{name: "enforcement off", check: "ASMFED-GKE-005", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c3(gke).NetworkPolicy.Enabled = false
		}, fails: []string{"cluster3: network policy enforcement is off: the namespaces' NetworkPolicies"}},
		{name: "add-on disabled", check: "ASMFED-GKE-005", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c3(gke).AddonsConfig.NetworkPolicyConfig.Disabled = true
		}, fails: []string{"cluster3: the NetworkPolicy add-on is disabled"}},
		{name: "Dataplane V2", check: "ASMFED-GKE-005", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c3(gke).NetworkPolicy, c3(gke).AddonsConfig = nil, nil
			c3(gke).NetworkConfig = &containerpb.NetworkConfig{DatapathProvider: containerpb.DatapathProvider_ADVANCED_DATAPATH}
		}},

		{name: "healthy", check: "ASMFED-GKE-006"},
		{name: "off", check: "ASMFED-GKE-006", breakIt: func(_ *federation.Desired, gke map[string]*containerpb.Cluster, _ map[string][]string) {
			c3(gke).ShieldedNodes = nil
		}, fails: []string{"cluster3: shielded nodes are off"}},

		{name: "healthy", check: "ASMFED-GKE-007"},
		{name: "an API turned off", check: "ASMFED-GKE-007", breakIt: func(_ *federation.Desired, _ map[string]*containerpb.Cluster, services map[string][]string) {
			var keep []string
			for _, s := range services["asm-multicluster-demo"] {
				if s != "container.googleapis.com" {
					keep = append(keep, s)
				}
			}
			services["asm-multicluster-demo"] = keep
		}, fails: []string{"asm-multicluster-demo: container.googleapis.com is not enabled"}},
	})
}
