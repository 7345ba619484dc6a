package federation_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// TestManagedMultiCluster checks how each control plane learns the peers' endpoints, and what
// paths the model opens for it. An in-cluster istiod reads every peer's API server through a
// remote secret, with a reader account there, from its pod IPs (the peers' pod ranges in the
// authorized networks), and serves injection on 15017 (the webhook rule). A managed control
// plane is told by asm-options (multicluster_mode: connected) in every cluster: no remote secret,
// reader account, token or role, no peer pod range in the authorized networks, and no 15017 from
// the control planes, while the webhook ports the file adds stay open.
func TestManagedMultiCluster(t *testing.T) {
	tests := []struct {
		name         string
		controlPlane string
		webhookPorts []int32
		// want
		remoteSecrets int
		asmOptions    bool
		peerPodRanges bool
		webhookRule   []string // ports of the webhooks rule; nil: no rule
	}{
		{name: "in-cluster", controlPlane: v1alpha1.ControlPlaneInCluster, webhookPorts: []int32{15017, 9443, 8443},
			remoteSecrets: 2, peerPodRanges: true, webhookRule: []string{"8443", "9443", "15017"}},
		{name: "in-cluster, the default webhook port", controlPlane: v1alpha1.ControlPlaneInCluster,
			remoteSecrets: 2, peerPodRanges: true, webhookRule: []string{"15017"}},
		{name: "managed", controlPlane: v1alpha1.ControlPlaneManaged, webhookPorts: []int32{15017, 9443, 8443},
			asmOptions: true, webhookRule: []string{"8443", "9443"}},
		{name: "managed, the default webhook port", controlPlane: v1alpha1.ControlPlaneManaged,
			asmOptions: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fedtest.Reference().Mesh(func(m *v1alpha1.Mesh) {
				m.ControlPlane = tt.controlPlane
				if tt.controlPlane == v1alpha1.ControlPlaneManaged {
					m.CA = v1alpha1.CA{Mode: v1alpha1.CAManaged}
				}
				m.WebhookPorts = tt.webhookPorts
			}).Build()
			v1alpha1.SetDefaults(f)
			if _, errs := v1alpha1.Validate(f, nil, v1alpha1.ValidateOptions{SkipFiles: true}); len(errs) > 0 {
				t.Fatalf("invalid: %v", errs)
			}
			d, err := federation.Compile(f, federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.RemoteSecrets) != tt.remoteSecrets {
				t.Errorf("%d remote secrets, want %d", len(d.RemoteSecrets), tt.remoteSecrets)
			}
			podRanges := map[string]string{}
			for _, cd := range d.Clusters {
				podRanges[cd.Name] = cd.PodRange
			}
			for _, cd := range d.Clusters {
				var readers, options []string
				for _, o := range cd.Objects {
					switch {
					case o.Role == federation.RoleRemoteSecret, o.Role == federation.RoleReaderToken,
						o.Kind == "ClusterRole" && o.Name == federation.ReaderClusterRole,
						strings.HasPrefix(o.Name, "asmfed-reader-"):
						readers = append(readers, string(o.Address))
					case o.Kind == "ConfigMap" && o.Name == federation.ASMOptionsName:
						options = append(options, string(o.Address))
						if !o.Shared || o.Namespace != federation.IstioNamespace {
							t.Errorf("%s: shared %v, namespace %q: it is the managed control plane's, in istio-system", o.Address, o.Shared, o.Namespace)
						}
						if diff := cmp.Diff(map[string]any{federation.MultiClusterModeKey: federation.MultiClusterConnected}, o.Object["data"]); diff != "" {
							t.Errorf("%s data (-want +got):\n%s", o.Address, diff)
						}
						if !strings.Contains(o.Reason, "multicluster_mode") || !strings.Contains(o.Reason, "remote secrets") {
							t.Errorf("%s: the reason does not say why: %q", o.Address, o.Reason)
						}
					}
				}
				if tt.asmOptions {
					if len(readers) > 0 {
						t.Errorf("%s: objects only an in-cluster istiod reading its peers needs: %v", cd.Name, readers)
					}
					if len(options) != 1 {
						t.Errorf("%s: asm-options %v, want one", cd.Name, options)
					}
				} else {
					if len(options) > 0 {
						t.Errorf("%s: %v without a managed control plane", cd.Name, options)
					}
					// The reader role, one account, its binding and token for the peer, and the
					// remote secret for it.
					if len(readers) != 5 {
						t.Errorf("%s: reader objects and remote secrets %v, want 5", cd.Name, readers)
					}
				}
				authorized := map[string]string{}
				for _, an := range cd.MasterAuthorizedNetworks {
					authorized[an.CIDR] = an.Reason
				}
				for peer, cidr := range podRanges {
					if peer == cd.Name {
						continue
					}
					if _, ok := authorized[cidr]; ok != tt.peerPodRanges {
						t.Errorf("%s: pod range %s of %s in the authorized networks: %v, want %v", cd.Name, cidr, peer, ok, tt.peerPodRanges)
					}
				}
			}
			var webhooks []string
			found := false
			for _, r := range d.FirewallRules {
				if !strings.HasSuffix(r.Name, "--webhooks") {
					continue
				}
				found = true
				for _, a := range r.Allowed {
					webhooks = append(webhooks, a.Ports...)
				}
				if tt.controlPlane == v1alpha1.ControlPlaneManaged && !strings.Contains(r.Reason, "managed control plane") {
					t.Errorf("%s: the reason does not say why 15017 is left out: %q", r.Name, r.Reason)
				}
			}
			if found != (tt.webhookRule != nil) {
				t.Errorf("webhooks rule present: %v, want %v", found, tt.webhookRule != nil)
			}
			slices.Sort(webhooks)
			want := slices.Clone(tt.webhookRule)
			slices.Sort(want)
			if !slices.Equal(webhooks, want) {
				t.Errorf("webhook ports %v, want %v", webhooks, want)
			}
		})
	}
}

// TestManagedGlobalAccess: clusters in two regions need master global access only for a peer's
// istiod reading the private endpoint from another region; a managed control plane reads the
// clusters from Google's side, so it stays off and the reason says why.
func TestManagedGlobalAccess(t *testing.T) {
	for _, tt := range []struct {
		controlPlane string
		want         bool
		reason       string
	}{
		{controlPlane: v1alpha1.ControlPlaneInCluster, want: true, reason: "istiod of peers in other regions"},
		{controlPlane: v1alpha1.ControlPlaneManaged, want: false, reason: "the managed control plane reads every cluster from Google's side"},
	} {
		t.Run(tt.controlPlane, func(t *testing.T) {
			f := fedtest.New("asm").FleetProject(fedtest.ReferenceProject, 0).Network(fedtest.ReferenceProject, "vpc").
				Mesh(func(m *v1alpha1.Mesh) { m.ControlPlane = tt.controlPlane }).
				Cluster(fedtest.Cluster("west").Ranges("10.0.1.0/24", "10.1.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).
				Cluster(fedtest.Cluster("east").Location("us-east1").Ranges("10.0.2.0/24", "10.2.0.0/16", "172.16.2.0/24", "192.168.2.0/28")).
				Build()
			d, err := federation.Compile(f, federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			for _, cd := range d.Clusters {
				if cd.MasterGlobalAccess != tt.want || !strings.Contains(cd.MasterGlobalAccessReason, tt.reason) {
					t.Errorf("%s: global access %v (%s), want %v (%s)", cd.Name, cd.MasterGlobalAccess, cd.MasterGlobalAccessReason, tt.want, tt.reason)
				}
			}
		})
	}
}
