package federation_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/netpol"
)

// TestDefaultPoliciesLetTheMeshWork evaluates the NetworkPolicies the federation derives for
// every sample with NetworkPolicy semantics: what Istio allows at L7 must not be dropped at L3,
// and what nothing allows stays denied.
func TestDefaultPoliciesLetTheMeshWork(t *testing.T) {
	samples, err := filepath.Glob("../../samples/*/federation.yaml")
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, path := range samples {
		c, err := v1alpha1.CheckFile(path, v1alpha1.ValidateOptions{SkipFiles: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		f := c.Federation
		d, err := federation.Compile(f, federation.Facts{})
		if err != nil {
			t.Fatal(err)
		}
		for _, cd := range d.Clusters {
			cluster := policiesOf(t, cd)
			for _, ns := range f.Spec.Namespaces {
				if ns.DefaultNetworkPolicy != nil && !*ns.DefaultNetworkPolicy {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%s", filepath.Base(filepath.Dir(path)), cd.Name, ns.Name), func(t *testing.T) {
					ownRange := netip.MustParsePrefix(cd.PodRange)
					app := netpol.Pod{Namespace: ns.Name, Labels: map[string]string{"app": "web"}, IP: nth(ownRange, 10)}
					istiod := netpol.Pod{Namespace: federation.IstioNamespace, Labels: map[string]string{"app": "istiod"}, IP: nth(ownRange, 20)}
					check := func(what string, to netpol.Endpoint, port int32, want bool) {
						t.Helper()
						v := cluster.Allowed(netpol.Connection{From: app, To: to, Port: port})
						if v.Allowed != want {
							t.Errorf("%s: allowed = %v, want %v (%s)", what, v.Allowed, want, v.Reason)
						}
					}
					check("istiod xDS", netpol.Endpoint{Pod: &istiod}, 15012, true)
					check("cluster DNS", netpol.Endpoint{IP: netip.MustParseAddr("169.254.20.10")}, 53, true)
					for _, peer := range d.Clusters {
						if peer.Name != cd.Name {
							check("peer pod of "+peer.Name, netpol.Endpoint{IP: nth(netip.MustParsePrefix(peer.PodRange), 30)}, 8080, true)
						}
					}
					egress := f.Spec.Mesh.Egress
					managed := f.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged
					for _, rule := range egress.Allow {
						ip := netip.MustParseAddr("142.250.1.1")
						if len(rule.Addresses) > 0 {
							ip = netip.MustParsePrefix(withBits(rule.Addresses[0])).Addr()
						}
						for _, p := range rule.Ports {
							// With the egress gateway, the allow-list leaves only through it (443 stays
							// open for a managed control plane's sidecars, and their REGISTRY_ONLY
							// routing sends the application's traffic to the gateway).
							direct := !egress.Gateway || (managed && p.Number == 443)
							check(fmt.Sprintf("allow-listed %v:%d directly", rule.Hosts, p.Number), netpol.Endpoint{IP: ip}, p.Number, direct)
						}
					}
					if egress.Gateway {
						gw := netpol.Pod{Namespace: federation.IstioNamespace, Labels: federation.EgressGatewaySelector, IP: nth(ownRange, 40)}
						for _, p := range federation.EgressGatewayPorts(egress.Allow) {
							check(fmt.Sprintf("the egress gateway's listener for %d", p.Port), netpol.Endpoint{Pod: &gw}, p.TargetPort, true)
						}
					}
					check("GKE metadata server", netpol.Endpoint{IP: netip.MustParseAddr("169.254.169.254")}, 80, cd.WorkloadPool != "")
					check("GKE metadata server on the node", netpol.Endpoint{IP: netip.MustParseAddr("169.254.169.252")}, 988, cd.WorkloadPool != "")
					if f.Spec.Mesh.Egress.Mode == v1alpha1.EgressRegistryOnly {
						check("an unlisted port outside", netpol.Endpoint{IP: netip.MustParseAddr("203.0.113.9")}, 8081, false)
						check("a private address that is no peer", netpol.Endpoint{IP: netip.MustParseAddr("10.250.0.9")}, 443, false)
					}
				})
			}
		}
	}
}

// policiesOf collects a cluster's NetworkPolicies and namespace labels from the model.
func policiesOf(t *testing.T, cd federation.ClusterDesired) *netpol.Cluster {
	t.Helper()
	c := &netpol.Cluster{Namespaces: map[string]map[string]string{}}
	for _, o := range cd.Objects {
		switch o.Kind {
		case "NetworkPolicy":
			var np networkingv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &np); err != nil {
				t.Fatalf("%s: %v", o.Address, err)
			}
			c.Policies = append(c.Policies, np)
		case "Namespace":
			var ns corev1.Namespace
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ns); err != nil {
				t.Fatalf("%s: %v", o.Address, err)
			}
			c.Namespaces[ns.Name] = ns.Labels
		}
	}
	if len(c.Policies) == 0 {
		t.Fatalf("cluster %s: no NetworkPolicy in the model", cd.Name)
	}
	return c
}

func nth(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

func withBits(s string) string {
	if _, err := netip.ParsePrefix(s); err == nil {
		return s
	}
	return s + "/32"
}
