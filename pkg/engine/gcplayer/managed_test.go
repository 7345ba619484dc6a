package gcplayer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// With mesh.controlPlane: managed, apply enables the fleet servicemesh feature with automatic
// management for every cluster of the federation, and the plan reports each cluster's state.
func TestManagedControlPlane(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	ctx := context.Background()
	f := load(t, twoCluster)
	f.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneManaged
	r, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	feature := plan.Address("gcp:projects/asm-multicluster-demo/locations/global/features/servicemesh")
	var found bool
	for _, c := range r.Plan.Changes {
		if c.Address == feature {
			found = c.Action == plan.Create && strings.Contains(c.Reason, "no in-cluster istiod")
		}
	}
	if !found {
		t.Fatalf("the plan does not enable the servicemesh feature:\n%s", render(r.Plan))
	}
	if !strings.Contains(strings.Join(r.Plan.Notes, "\n"), "managed control plane of cluster3: not provisioned yet") {
		t.Errorf("notes before apply: %v", r.Plan.Notes)
	}
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	again, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render(again.Plan))
	}
	notes := strings.Join(again.Plan.Notes, "\n")
	for _, c := range []string{"cluster3", "cluster4"} {
		if !strings.Contains(notes, "managed control plane of "+c+": control plane ACTIVE, data plane ACTIVE") {
			t.Errorf("state of %s not reported:\n%s", c, notes)
		}
	}
	if !strings.Contains(render(again.Plan), "note: managed control plane of cluster3") {
		t.Error("the text plan does not show the notes")
	}
	if strings.Contains(notes, "outside the federation") {
		t.Errorf("a fleet of the federation's clusters alone is noted as shared:\n%s", notes)
	}

	// Another team registers its cluster in the same fleet: connected clusters exchange endpoints
	// fleet-wide, so the plan names it.
	h := byHand(t, srv)
	op, err := h.gke.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/" + demoProject + "/locations/" + demoRegion, Cluster: &containerpb.Cluster{
		Name: "payments", Network: "asm-vpc-3", Subnetwork: "bastion-subnet",
		PrivateClusterConfig: &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, MasterIpv4CidrBlock: "192.168.9.0/28"}}})
	if err != nil {
		t.Fatal(err)
	}
	for op.Status != containerpb.Operation_DONE {
		if op, err = h.gke.GetOperation(ctx, &containerpb.GetOperationRequest{Name: "projects/" + demoProject + "/locations/" + demoRegion + "/operations/" + op.Name}); err != nil {
			t.Fatal(err)
		}
	}
	h.register("payments", "payments")
	shared, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	want := "the fleet of project asm-multicluster-demo also has memberships outside the federation: payments (projects/asm-multicluster-demo/locations/us-west2/clusters/payments); with a managed control plane, multicluster_mode: connected exchanges endpoints"
	if !strings.Contains(strings.Join(shared.Plan.Notes, "\n"), want) || shared.Plan.HasChanges() {
		t.Errorf("a foreign membership in the fleet: changes %v, notes:\n%s", shared.Plan.HasChanges(), strings.Join(shared.Plan.Notes, "\n"))
	}
}

// An applied in-cluster federation switches to a managed control plane and back, against the
// simulator. To managed: the webhooks rule loses 15017 and keeps the sample's 9443 and 8443, as
// Google serves the managed control plane's webhook, and each cluster's master authorized networks
// lose the peer's pod range, which only a peer's istiod needed; both are updated in place, then
// the plan is empty. With only 15017 listed the rule is deleted. Back to in-cluster: the port,
// the rule and the ranges return.
func TestManagedSwitchClosesIstiodPaths(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	ctx := context.Background()
	inCluster := load(t, twoCluster)
	managed := load(t, twoCluster)
	managed.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneManaged
	webhooks := plan.Address("gcp:projects/asm-multicluster-demo/global/firewalls/asmfed-asm-sample--webhooks")
	clusters := []plan.Address{
		"gke:projects/asm-multicluster-demo/locations/us-west2/clusters/cluster3",
		"gke:projects/asm-multicluster-demo/locations/us-west2/clusters/cluster4",
	}
	converge := func(f *v1alpha1.Federation) *gcplayer.CloudPlan {
		t.Helper()
		r, err := e.Plan(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Err(); err != nil {
			t.Fatal(err)
		}
		again, err := e.Plan(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if again.Plan.HasChanges() {
			t.Fatalf("not converged:\n%s", render(again.Plan))
		}
		return r
	}
	actions := func(r *gcplayer.CloudPlan) map[plan.Address]plan.Action {
		out := map[plan.Address]plan.Action{}
		for _, c := range r.Plan.Changes {
			out[c.Address] = c.Action
		}
		return out
	}
	first := converge(inCluster)
	if a := actions(first)[webhooks]; a != plan.Create {
		t.Fatalf("in-cluster: %s is %s, want create:\n%s", webhooks, a, render(first.Plan))
	}

	toManaged := converge(managed)
	got := actions(toManaged)
	if got[webhooks] != plan.Update {
		t.Errorf("to managed: %s is %q, want update:\n%s", webhooks, got[webhooks], render(toManaged.Plan))
	}
	for _, c := range toManaged.Plan.Changes {
		if c.Address != webhooks {
			continue
		}
		before, after := fmt.Sprint(c.Before["allowed"]), fmt.Sprint(c.After["allowed"])
		if !strings.Contains(before, "15017") || strings.Contains(after, "15017") || !strings.Contains(after, "9443") || !strings.Contains(after, "8443") {
			t.Errorf("to managed: the webhooks rule allows %s, then %s: want 15017 gone, 8443 and 9443 kept", before, after)
		}
	}
	for _, c := range clusters {
		if got[c] != plan.Update {
			t.Errorf("to managed: %s is %q, want an update of its authorized networks:\n%s", c, got[c], render(toManaged.Plan))
		}
	}
	text := render(toManaged.Plan)
	for _, pods := range []string{"10.185.128.0/18", "10.185.192.0/18"} {
		if !strings.Contains(text, pods) {
			t.Errorf("to managed: the plan does not show the peer pod range %s leaving:\n%s", pods, text)
		}
	}

	onlyIstiod := func(f *v1alpha1.Federation) *v1alpha1.Federation {
		f.Spec.Mesh.WebhookPorts = []int32{v1alpha1.DefaultWebhookPort}
		return f
	}
	converge(onlyIstiod(load(t, twoCluster)))
	if got := actions(converge(onlyIstiod(managed))); got[webhooks] != plan.Delete {
		t.Errorf("managed, only 15017 listed: %s is %q, want delete", webhooks, got[webhooks])
	}

	back := converge(inCluster)
	got = actions(back)
	if got[webhooks] != plan.Create {
		t.Errorf("back to in-cluster: %s is %q, want create", webhooks, got[webhooks])
	}
	for _, c := range clusters {
		if got[c] != plan.Update {
			t.Errorf("back to in-cluster: %s is %q, want an update", c, got[c])
		}
	}
}
