package gcplayer_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// On the simulator, through the official clients: a network made without the federation's mark
// (as Terraform makes it) and a cluster that lost it are conflicts without adopt; with it they are
// adopted in place (the network into the adoption record, its description being fixed at
// creation) and apply converges; a cluster whose control-plane range differs from the file stays
// a conflict that names the field, never a replacement.
func TestAdoptOnTheSimulator(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	ctx := context.Background()
	const project, location = "asm-multicluster-demo", "us-west2"
	netAddr := plan.NetworkAddress(project, "asm-vpc-3")
	clAddr := plan.ClusterAddress(project, location, "cluster3")

	nets, err := compute.NewNetworksRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer nets.Close()
	op, err := nets.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{Name: proto.String("asm-vpc-3"),
		AutoCreateSubnetworks: proto.Bool(false), Description: proto.String("made by terraform")}})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	f := load(t, twoCluster)
	if r := mustPlan(t, e, f); len(r.Plan.Conflicts) != 1 || r.Plan.Conflicts[0].Address != netAddr {
		t.Fatalf("a network made by hand, without adopt: conflicts %v", r.Plan.Conflicts)
	}
	r, err := e.PlanWith(ctx, f, gcplayer.PlanOptions{Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Plan.Adopted(); !slices.Equal(got, []plan.Address{netAddr}) {
		t.Fatalf("with adopt: adopted %v\n%s", got, render(r.Plan))
	}
	mustApply(t, e, r, gcplayer.ApplyOptions{})
	converge(t, e, twoCluster)

	gke, err := container.NewClusterManagerRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer gke.Close()
	name := "projects/" + project + "/locations/" + location + "/clusters/cluster3"
	cl, err := gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	for k, v := range cl.GetResourceLabels() {
		if k != federation.LabelManagedBy && k != federation.LabelFederation {
			labels[k] = v
		}
	}
	if _, err := gke.SetLabels(ctx, &containerpb.SetLabelsRequest{Name: name, ResourceLabels: labels, LabelFingerprint: cl.GetLabelFingerprint()}); err != nil {
		t.Fatal(err)
	}

	r = mustPlan(t, e, f)
	var conflicts []plan.Address
	for _, c := range r.Plan.Conflicts {
		conflicts = append(conflicts, c.Address)
	}
	if !slices.Equal(conflicts, []plan.Address{clAddr}) {
		t.Fatalf("without adopt: conflicts %v, want cluster3", conflicts)
	}

	moved := load(t, twoCluster)
	for i := range moved.Spec.Clusters {
		if moved.Spec.Clusters[i].Name == "cluster3" {
			moved.Spec.Clusters[i].ControlPlaneRange = "192.168.9.0/28"
		}
	}
	r, err = e.PlanWith(ctx, moved, gcplayer.PlanOptions{Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Plan.Conflicts) != 1 || r.Plan.Conflicts[0].Address != clAddr ||
		!strings.Contains(r.Plan.Conflicts[0].Reason, `controlPlaneRange ("192.168.2.0/28" here, "192.168.9.0/28" in the file) cannot change in place`) {
		t.Fatalf("a control-plane range that differs: conflicts %+v", r.Plan.Conflicts)
	}
	if r.Plan.Summary.Replace != 0 || len(r.Plan.Adopted()) != 0 {
		t.Errorf("with a conflict: %+v, adopted %v", r.Plan.Summary, r.Plan.Adopted())
	}

	r, err = e.PlanWith(ctx, f, gcplayer.PlanOptions{Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Plan.Adopted(); len(r.Plan.Conflicts) != 0 || !slices.Equal(got, []plan.Address{clAddr}) ||
		r.Plan.Summary != (plan.Summary{Adopt: 1}) {
		t.Fatalf("with adopt: adopted %v, %+v, conflicts %v\n%s", got, r.Plan.Summary, r.Plan.Conflicts, render(r.Plan))
	}
	mustApply(t, e, r, gcplayer.ApplyOptions{})
	if again := mustPlan(t, e, f); again.Plan.HasChanges() || len(again.Plan.Conflicts) > 0 {
		t.Fatalf("after the adoption:\n%s", render(again.Plan))
	}
	n, err := nets.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "asm-vpc-3"})
	if err != nil {
		t.Fatal(err)
	}
	if n.GetDescription() != "made by terraform" {
		t.Errorf("the adopted network's description: %q", n.GetDescription())
	}

	// A cluster that carries another federation's mark is that federation's: --adopt never takes it.
	cl, err = gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	labels = map[string]string{}
	for k, v := range cl.GetResourceLabels() {
		labels[k] = v
	}
	labels[federation.LabelFederation] = "prod"
	if _, err := gke.SetLabels(ctx, &containerpb.SetLabelsRequest{Name: name, ResourceLabels: labels, LabelFingerprint: cl.GetLabelFingerprint()}); err != nil {
		t.Fatal(err)
	}
	r, err = e.PlanWith(ctx, f, gcplayer.PlanOptions{Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Plan.Conflicts) != 1 || r.Plan.Conflicts[0].Address != clAddr ||
		!strings.Contains(r.Plan.Conflicts[0].Reason, `carries the ownership mark of federation "prod" and cannot be adopted`) || len(r.Plan.Adopted()) != 0 {
		t.Fatalf("another federation's cluster with adopt: conflicts %+v, adopted %v", r.Plan.Conflicts, r.Plan.Adopted())
	}
}
