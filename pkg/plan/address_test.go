package plan

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAddressRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		addr Address
		want Ref
	}{
		{"api", APIAddress("p", "compute.googleapis.com"), Ref{Layer: "gcp", Kind: KindAPI, Project: "p", Name: "compute.googleapis.com"}},
		{"network", NetworkAddress("p", "vpc"), Ref{Layer: "gcp", Kind: KindNetwork, Project: "p", Name: "vpc"}},
		{"subnetwork", SubnetworkAddress("p", "us-west2", "s"), Ref{Layer: "gcp", Kind: KindSubnetwork, Project: "p", Location: "us-west2", Name: "s"}},
		{"firewall", FirewallAddress("p", "asmfed-x-webhooks"), Ref{Layer: "gcp", Kind: KindFirewall, Project: "p", Name: "asmfed-x-webhooks"}},
		{"router", RouterAddress("p", "us-west2", "r"), Ref{Layer: "gcp", Kind: KindRouter, Project: "p", Location: "us-west2", Name: "r"}},
		{"instance", InstanceAddress("p", "us-west2-a", "bastion"), Ref{Layer: "gcp", Kind: KindInstance, Project: "p", Location: "us-west2-a", Name: "bastion"}},
		{"xpn host", XpnHostAddress("host"), Ref{Layer: "gcp", Kind: KindXpnHost, Project: "host"}},
		{"xpn service", XpnServiceAddress("host", "svc"), Ref{Layer: "gcp", Kind: KindXpnService, Project: "host", Name: "svc"}},
		{"iam on project", IAMBindingAddress("projects/p", "roles/container.hostServiceAgentUser", "serviceAccount:service-1@container-engine-robot.iam.gserviceaccount.com"),
			Ref{Layer: "gcp", Kind: KindIAMBinding, Resource: "projects/p", Role: "roles/container.hostServiceAgentUser", Member: "serviceAccount:service-1@container-engine-robot.iam.gserviceaccount.com"}},
		{"iam on subnet", IAMBindingAddress("projects/p/regions/r/subnetworks/s", "roles/compute.networkUser", "serviceAccount:a@b"),
			Ref{Layer: "gcp", Kind: KindIAMBinding, Resource: "projects/p/regions/r/subnetworks/s", Role: "roles/compute.networkUser", Member: "serviceAccount:a@b"}},
		{"service account", ServiceAccountAddress("p", "sql-client@p.iam.gserviceaccount.com"),
			Ref{Layer: "gcp", Kind: KindServiceAccount, Project: "p", Name: "sql-client@p.iam.gserviceaccount.com"}},
		{"iam on service account, workload identity member", IAMBindingAddress("projects/p/serviceAccounts/sql-client@p.iam.gserviceaccount.com", "roles/iam.workloadIdentityUser", "serviceAccount:p.svc.id.goog[shop/ksa-sqlproxy]"),
			Ref{Layer: "gcp", Kind: KindIAMBinding, Resource: "projects/p/serviceAccounts/sql-client@p.iam.gserviceaccount.com", Role: "roles/iam.workloadIdentityUser", Member: "serviceAccount:p.svc.id.goog[shop/ksa-sqlproxy]"}},
		{"iam custom role", IAMBindingAddress("projects/p", "projects/p/roles/reader", "user:a@b"),
			Ref{Layer: "gcp", Kind: KindIAMBinding, Resource: "projects/p", Role: "projects/p/roles/reader", Member: "user:a@b"}},
		{"cluster", ClusterAddress("p", "us-west2", "c1"), Ref{Layer: "gke", Kind: KindCluster, Project: "p", Location: "us-west2", Name: "c1"}},
		{"node pool", NodePoolAddress("p", "us-west2-a", "c1", "pool"), Ref{Layer: "gke", Kind: KindNodePool, Project: "p", Location: "us-west2-a", Cluster: "c1", Name: "pool"}},
		{"membership", MembershipAddress("fleet", "global", "c1"), Ref{Layer: "gcp", Kind: KindMembership, Project: "fleet", Location: "global", Name: "c1"}},
		{"feature", FeatureAddress("fleet", "servicemesh"), Ref{Layer: "gcp", Kind: KindFeature, Project: "fleet", Name: "servicemesh"}},
		{"namespaced object", ObjectAddress("c1", "istio-system", "Secret", "istio-remote-secret-c2"), Ref{Layer: "k8s", Kind: "Secret", Cluster: "c1", Namespace: "istio-system", Name: "istio-remote-secret-c2"}},
		{"cluster-scoped object", ObjectAddress("c1", "", "ClusterRole", "asmfed-istio-reader"), Ref{Layer: "k8s", Kind: "ClusterRole", Cluster: "c1", Name: "asmfed-istio-reader"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAddress(tt.addr)
			if err != nil {
				t.Fatalf("ParseAddress(%q): %v", tt.addr, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseAddress(%q) (-want +got):\n%s", tt.addr, diff)
			}
			if back := got.Address(); back != tt.addr {
				t.Errorf("round trip: %q became %q", tt.addr, back)
			}
		})
		if tt.want.Kind != "" {
			seen[tt.want.Kind] = true
		}
	}
	// Every Google Cloud kind has a case above, so a new kind cannot skip the round trip.
	for _, p := range gcpPatterns {
		if !seen[p.kind] {
			t.Errorf("kind %s has no round-trip case", p.kind)
		}
	}
	if !seen[KindIAMBinding] {
		t.Errorf("kind %s has no round-trip case", KindIAMBinding)
	}
}

func TestParseAddressRejects(t *testing.T) {
	for _, a := range []Address{
		"", "gcp", "gcp:", "aws:projects/p/global/networks/n",
		"gcp:projects/p/global/networks", "gcp:projects//global/networks/n", "gcp:projects/p/global/routes/r",
		"gke:projects/p/locations/l/clusters/c/nodePools", "gke:projects/p/global/networks/n",
		"gcp:projects/p/iam/roles/x", "gcp:projects/p/iam/owner/user:a", "gcp:folders/f/iam/roles/x/user:a",
		"k8s:c1/Secret", "k8s:c1/ns/Secret/name/extra", "k8s:c1//Secret/x",
	} {
		if r, err := ParseAddress(a); err == nil {
			t.Errorf("ParseAddress(%q) = %+v, want an error", a, r)
		}
	}
}
