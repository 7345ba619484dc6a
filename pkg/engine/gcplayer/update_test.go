package gcplayer_test

import (
	"context"
	"slices"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
	"github.com/google/go-cmp/cmp"
)

// What GKE and Compute Engine can change in place is updated in place: authorized networks,
// labels, node pool autoscaling, firewall ports, Private Google Access. Then the plan is empty.
func TestInPlaceUpdates(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, twoCluster)

	f := load(t, twoCluster)
	f.Spec.Admin.AuthorizedNetworks = append(f.Spec.Admin.AuthorizedNetworks, v1alpha1.NamedCIDR{Name: "vpn", CIDR: "10.250.0.0/16"})
	f.Spec.Clusters[0].Labels = map[string]string{"team": "payments"}
	f.Spec.Clusters[1].NodePools[0].Autoscaling = &v1alpha1.Autoscaling{Min: 2, Max: 8}
	f.Spec.Mesh.WebhookPorts = []int32{15017}
	f.Spec.Network.Subnets[0].PrivateGoogleAccess = new(bool)

	ctx := context.Background()
	r, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]plan.Action{
		"gke:projects/asm-multicluster-demo/locations/us-west2/clusters/cluster3":                              plan.Update,
		"gke:projects/asm-multicluster-demo/locations/us-west2/clusters/cluster4":                              plan.Update,
		"gke:projects/asm-multicluster-demo/locations/us-west2/clusters/cluster4/nodePools/cluster4-node-pool": plan.Update,
		"gcp:projects/asm-multicluster-demo/global/firewalls/asmfed-asm-sample--webhooks":                      plan.Update,
		"gcp:projects/asm-multicluster-demo/global/firewalls/asmfed-asm-sample--admin":                         plan.Update,
		"gcp:projects/asm-multicluster-demo/regions/us-west2/subnetworks/bastion-subnet":                       plan.Update,
	}
	got := map[string]plan.Action{}
	for _, c := range r.Plan.Changes {
		if c.Action != plan.NoOp {
			got[string(c.Address)] = c.Action
		}
	}
	for addr, action := range want {
		if got[addr] != action {
			t.Errorf("%s: %q, want %q", addr, got[addr], action)
		}
	}
	if len(got) != len(want) {
		t.Errorf("unexpected changes:\n%s", render(r.Plan))
	}
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ClusterManager/CreateCluster", "ClusterManager/DeleteCluster", "ClusterManager/DeleteNodePool", "Firewalls/Delete"} {
		if n := srv.Calls(m); n != 0 && m != "ClusterManager/CreateCluster" {
			t.Errorf("%s called %d times for in-place updates", m, n)
		}
	}
	again, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.HasChanges() {
		t.Fatalf("not converged after updates:\n%s", render(again.Plan))
	}
}

// Destroy deletes everything the federation owns, in an order GKE and Compute Engine accept, and
// leaves what others own.
func TestDestroy(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, "../../../samples/multi-project-shared-vpc/federation.yaml")
	ctx := context.Background()
	f := load(t, "../../../samples/multi-project-shared-vpc/federation.yaml")
	r, err := e.PlanDestroy(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.Summary.Destroy == 0 || r.Plan.Summary.Add+r.Plan.Summary.Change+r.Plan.Summary.Replace != 0 {
		t.Fatalf("destroy plan:\n%s", render(r.Plan))
	}
	if _, err := e.Apply(ctx, r, gcplayer.ApplyOptions{}); err == nil {
		t.Fatal("destroy ran without allowing it")
	}
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{AllowDestroy: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	// Each project keeps only what a new project starts with: the default network and its subnets.
	for _, p := range []string{"retail-net-host", "retail-storefront", "retail-payments"} {
		for _, item := range inventory(t, srv, p) {
			if item != "network default" && item != "subnet default" {
				t.Errorf("left in %s: %s", p, item)
			}
		}
	}
	again, err := e.PlanDestroy(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.HasChanges() {
		t.Errorf("a second destroy still has work:\n%s", render(again.Plan))
	}
}

// A cluster applied with one authorized network per peer, as before the peers' pod ranges were
// merged, is brought to the merged entry by an in-place update of its authorized networks, and
// the next plan is empty: storefront-east's peers, 10.64.0.0/16 and 10.65.0.0/16, become
// 10.64.0.0/15.
func TestMergedAuthorizedNetworksUpdateInPlace(t *testing.T) {
	const sample = "../../../samples/multi-project-shared-vpc/federation.yaml"
	const east = "projects/retail-storefront/locations/us-east4/clusters/storefront-east"
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, sample)
	h := byHand(t, srv)

	cidrs := func() []string {
		t.Helper()
		cl, err := h.gke.GetCluster(h.ctx, &containerpb.GetClusterRequest{Name: east})
		h.check(err)
		var out []string
		for _, b := range cl.GetMasterAuthorizedNetworksConfig().GetCidrBlocks() {
			out = append(out, b.GetCidrBlock())
		}
		return out
	}
	merged := cidrs()
	if !slices.Contains(merged, "10.64.0.0/15") || slices.Contains(merged, "10.64.0.0/16") || slices.Contains(merged, "10.65.0.0/16") {
		t.Fatalf("applied entries %v, want 10.64.0.0/15 in place of its peers' two ranges", merged)
	}

	// The entries before the merge: each peer's own, the rest as they are.
	cl, err := h.gke.GetCluster(h.ctx, &containerpb.GetClusterRequest{Name: east})
	h.check(err)
	var blocks []*containerpb.MasterAuthorizedNetworksConfig_CidrBlock
	for _, b := range cl.GetMasterAuthorizedNetworksConfig().GetCidrBlocks() {
		if b.GetCidrBlock() != "10.64.0.0/15" {
			blocks = append(blocks, b)
		}
	}
	blocks = append(blocks,
		&containerpb.MasterAuthorizedNetworksConfig_CidrBlock{DisplayName: "storefront-central-pods", CidrBlock: "10.64.0.0/16"},
		&containerpb.MasterAuthorizedNetworksConfig_CidrBlock{DisplayName: "payments-central-pods", CidrBlock: "10.65.0.0/16"})
	_, err = h.gke.UpdateCluster(h.ctx, &containerpb.UpdateClusterRequest{Name: east, Update: &containerpb.ClusterUpdate{
		DesiredMasterAuthorizedNetworksConfig: &containerpb.MasterAuthorizedNetworksConfig{Enabled: true, CidrBlocks: blocks}}})
	h.check(err)
	if before := cidrs(); !slices.Contains(before, "10.64.0.0/16") || slices.Contains(before, "10.64.0.0/15") {
		t.Fatalf("entries set by hand %v, want one per peer", before)
	}

	ctx := context.Background()
	f := load(t, sample)
	r, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"gke:" + east: {"update", "masterAuthorizedNetworks"}}
	if diff := cmp.Diff(want, changedFields(r.Plan)); diff != "" {
		t.Fatalf("plan (-want +got):\n%s\n%s", diff, render(r.Plan))
	}
	srv.ResetCounters()
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ClusterManager/CreateCluster", "ClusterManager/DeleteCluster"} {
		if n := srv.Calls(m); n != 0 {
			t.Errorf("%s called %d times for an update of authorized networks", m, n)
		}
	}
	if after := cidrs(); !slices.Equal(after, merged) {
		t.Errorf("entries after apply %v, want %v", after, merged)
	}
	again, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render(again.Plan))
	}
}
