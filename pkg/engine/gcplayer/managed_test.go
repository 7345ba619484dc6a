package gcplayer_test

import (
	"context"
	"strings"
	"testing"

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
}
