package gcpfake_test

import (
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// NetworkPolicy enforcement is turned on for a cluster made without it the way gcloud does it:
// the add-on first, then enforcement (SetNetworkPolicy); enforcement without the add-on is
// refused.
func TestGcloudEnableNetworkPolicy(t *testing.T) {
	srv := gcpfake.Start(t)
	g := newGcloud(t, srv)
	for _, args := range [][]string{
		{"services", "enable", "container.googleapis.com", "compute.googleapis.com"},
		{"compute", "networks", "create", "vpc", "--subnet-mode=custom"},
		{"compute", "networks", "subnets", "create", "nodes", "--network=vpc", "--region=us-west2", "--range=10.0.0.0/24",
			"--secondary-range=pods=10.4.0.0/14,services=10.8.0.0/20"},
		{"container", "clusters", "create", "c1", "--location=us-west2", "--network=vpc", "--subnetwork=nodes", "--enable-ip-alias",
			"--cluster-secondary-range-name=pods", "--services-secondary-range-name=services", "--num-nodes=1"},
		{"container", "clusters", "update", "c1", "--location=us-west2", "--update-addons=NetworkPolicy=DISABLED"},
	} {
		if r := g.run(t, args...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	v := g.ok(t, "container", "clusters", "describe", "c1", "--location=us-west2")
	if field(v, "networkPolicy.enabled") == true {
		t.Fatalf("network policy on before it was asked for: %v", field(v, "networkPolicy"))
	}
	g.fails(t, "Network policy addon is disabled", "container", "clusters", "update", "c1", "--location=us-west2", "--enable-network-policy")
	if r := g.run(t, "container", "clusters", "update", "c1", "--location=us-west2", "--update-addons=NetworkPolicy=ENABLED"); r.code != 0 {
		t.Fatalf("enable the add-on: exit %d\n%s", r.code, r.stderr)
	}
	if r := g.run(t, "container", "clusters", "update", "c1", "--location=us-west2", "--enable-network-policy"); r.code != 0 {
		t.Fatalf("enable enforcement: exit %d\n%s", r.code, r.stderr)
	}
	v = g.ok(t, "container", "clusters", "describe", "c1", "--location=us-west2")
	want(t, v, "networkPolicy.enabled", true)
	want(t, v, "networkPolicy.provider", "CALICO")
}
