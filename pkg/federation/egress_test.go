package federation_test

import (
	"net/netip"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/netpol"
)

// egressFederation is the reference topology with an allow-list of a TLS, an HTTP and a TCP
// destination, an application namespace, and the egress gateway and control plane asked for.
func egressFederation(t *testing.T, gateway bool, controlPlane string) (*v1alpha1.Federation, *federation.Desired) {
	t.Helper()
	f := fedtest.Reference().FleetProject(fedtest.ReferenceProject, fedtest.ReferenceProjectNumber).Mesh(func(m *v1alpha1.Mesh) {
		m.ControlPlane = controlPlane
		m.Egress = v1alpha1.Egress{Gateway: gateway, Allow: []v1alpha1.EgressRule{
			{Name: "storage", Hosts: []string{"storage.googleapis.com"}, Ports: []v1alpha1.EgressPort{{Number: 443}}},
			{Name: "updates", Hosts: []string{"updates.example.com"}, Ports: []v1alpha1.EgressPort{{Number: 80, Protocol: "HTTP"}}},
			{Name: "db", Hosts: []string{"db.example.com"}, Ports: []v1alpha1.EgressPort{{Number: 5432, Protocol: "TCP"}}, Addresses: []string{"203.0.113.50"}},
		}}
	}).Build()
	f.Spec.Namespaces = []v1alpha1.Namespace{{Name: "shop"}}
	v1alpha1.SetDefaults(f)
	if _, errs := v1alpha1.Validate(f, nil, v1alpha1.ValidateOptions{SkipFiles: true}); len(errs) > 0 {
		t.Fatalf("invalid federation: %v", errs)
	}
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	return f, d
}

// TestEgressThroughTheGateway evaluates the derived NetworkPolicies of one cluster, with and
// without the egress gateway, under both control planes: with the gateway, an application pod
// reaches the allow-listed hosts only through the gateway's pods, on the ports they listen on,
// and the gateway reaches the hosts; without it, the pod reaches them directly.
func TestEgressThroughTheGateway(t *testing.T) {
	var (
		storage   = netpol.Endpoint{IP: netip.MustParseAddr("142.250.1.1")}
		updates   = netpol.Endpoint{IP: netip.MustParseAddr("203.0.113.80")}
		db        = netpol.Endpoint{IP: netip.MustParseAddr("203.0.113.50")}
		elsewhere = netpol.Endpoint{IP: netip.MustParseAddr("203.0.113.9")}
		metadata  = netpol.Endpoint{IP: netip.MustParseAddr("169.254.169.254")}
	)
	type check struct {
		what  string
		from  string // app or gateway
		to    netpol.Endpoint
		port  int32
		allow bool
	}
	gatewayPod := netpol.Pod{Namespace: federation.IstioNamespace, Labels: map[string]string{"app": federation.EgressGatewayName, "istio": "egressgateway"}, IP: netip.MustParseAddr("10.185.128.40")}
	istiod := netpol.Pod{Namespace: federation.IstioNamespace, Labels: map[string]string{"app": "istiod"}, IP: netip.MustParseAddr("10.185.128.41")}
	toGateway := netpol.Endpoint{Pod: &gatewayPod}
	tests := []struct {
		name         string
		gateway      bool
		controlPlane string
		checks       []check
	}{
		{name: "in-cluster without gateway", controlPlane: v1alpha1.ControlPlaneInCluster, checks: []check{
			{"allow-listed TLS host directly", "app", storage, 443, true},
			{"allow-listed HTTP host directly", "app", updates, 80, true},
			{"allow-listed TCP address directly", "app", db, 5432, true},
			{"istiod", "app", netpol.Endpoint{Pod: &istiod}, 15012, true},
		}},
		{name: "in-cluster with gateway", gateway: true, controlPlane: v1alpha1.ControlPlaneInCluster, checks: []check{
			{"allow-listed TLS host directly", "app", storage, 443, false},
			{"allow-listed HTTP host directly", "app", updates, 80, false},
			{"allow-listed TCP address directly", "app", db, 5432, false},
			{"the gateway's TLS listener", "app", toGateway, 8443, true},
			{"the gateway's HTTP listener", "app", toGateway, 8080, true},
			{"the gateway's TCP listener", "app", toGateway, 5432, true},
			{"gateway to the TLS host", "gateway", storage, 443, true},
			{"gateway to the HTTP host", "gateway", updates, 80, true},
			{"gateway to the TCP address", "gateway", db, 5432, true},
			{"istiod", "app", netpol.Endpoint{Pod: &istiod}, 15012, true},
		}},
		{name: "managed with gateway", gateway: true, controlPlane: v1alpha1.ControlPlaneManaged, checks: []check{
			// 443 outside stays open for the sidecars' managed control plane; REGISTRY_ONLY
			// routes the application's TLS to the gateway.
			{"the managed control plane", "app", netpol.Endpoint{IP: netip.MustParseAddr("199.36.153.8")}, 443, true},
			{"allow-listed HTTP host directly", "app", updates, 80, false},
			{"allow-listed TCP address directly", "app", db, 5432, false},
			{"the gateway's TLS listener", "app", toGateway, 8443, true},
			{"the gateway's HTTP listener", "app", toGateway, 8080, true},
			{"the gateway's TCP listener", "app", toGateway, 5432, true},
			{"gateway to the HTTP host", "gateway", updates, 80, true},
			{"gateway to the TCP address", "gateway", db, 5432, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d := egressFederation(t, tt.gateway, tt.controlPlane)
			cd := d.Clusters[0]
			cluster := policiesOf(t, cd)
			app := netpol.Pod{Namespace: "shop", Labels: map[string]string{"app": "web"}, IP: netip.MustParseAddr("10.185.128.10")}
			always := []check{
				{"an unlisted port outside", "app", elsewhere, 8081, false},
				{"the GKE metadata server", "app", metadata, 80, true},
			}
			for _, c := range append(always, tt.checks...) {
				from := app
				if c.from == "gateway" {
					from = gatewayPod
				}
				v := cluster.Allowed(netpol.Connection{From: from, To: c.to, Port: c.port})
				if v.Allowed != c.allow {
					t.Errorf("%s (%s to %v:%d): allowed = %v, want %v (%s)", c.what, c.from, c.to, c.port, v.Allowed, c.allow, v.Reason)
				}
			}
		})
	}
}
