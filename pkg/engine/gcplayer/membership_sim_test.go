package gcplayer_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// A cluster registered in its region before the federation (gcloud container fleet memberships
// register --gke-cluster) keeps that membership: GKE Hub refuses a second one for the cluster, so
// the model's membership takes its location and name, and the Connect Gateway address follows.
// The membership of a cluster the federation owns is its own; with the cluster unmarked, as the
// reference made it, it is a conflict without adopt and adopted with it (labels and the
// cluster's issuer set in place); apply converges and registers nothing in global.
func TestRegisteredMembershipIsTaken(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, twoCluster)
	h := byHand(t, srv)
	ctx := context.Background()
	regional := plan.MembershipAddress(demoProject, demoRegion, "cluster3")
	global := plan.MembershipAddress(demoProject, "global", "cluster3")

	h.unregister("cluster3")
	op, err := h.hub.CreateMembership(ctx, &gkehubpb.CreateMembershipRequest{Parent: "projects/" + demoProject + "/locations/" + demoRegion, MembershipId: "cluster3",
		Resource: &gkehubpb.Membership{Type: &gkehubpb.Membership_Endpoint{Endpoint: &gkehubpb.MembershipEndpoint{Type: &gkehubpb.MembershipEndpoint_GkeCluster{
			GkeCluster: &gkehubpb.GkeCluster{ResourceLink: "//container.googleapis.com/" + clusterPath("cluster3")}}}}}})
	h.check(err)
	_, err = op.Wait(ctx)
	h.check(err)

	f := load(t, twoCluster)
	r := mustPlan(t, e, f)
	if r.Plan.Summary != (plan.Summary{Change: 1}) || !slices.ContainsFunc(r.Plan.Changes, func(c plan.Change) bool { return c.Address == regional && c.Action == plan.Update }) {
		t.Fatalf("the federation's cluster: want its regional membership updated in place, nothing created\n%s", render(r.Plan))
	}

	// The cluster without the federation's mark, as the reference made it.
	c, err := h.gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterPath("cluster3")})
	h.check(err)
	_, err = h.gke.SetLabels(ctx, &containerpb.SetLabelsRequest{Name: clusterPath("cluster3"), ResourceLabels: map[string]string{"mesh_id": c.GetResourceLabels()["mesh_id"]},
		LabelFingerprint: c.GetLabelFingerprint()})
	h.check(err)
	r = mustPlan(t, e, f)
	var conflicts []plan.Address
	for _, c := range r.Plan.Conflicts {
		conflicts = append(conflicts, c.Address)
	}
	if !slices.Equal(conflicts, []plan.Address{regional, plan.ClusterAddress(demoProject, demoRegion, "cluster3")}) || r.Plan.Summary.Add != 0 {
		t.Fatalf("without adopt: conflicts %v, %+v; want the cluster and its regional membership conflicts, nothing created\n%s", conflicts, r.Plan.Summary, render(r.Plan))
	}

	r, err = e.PlanWith(ctx, f, gcplayer.PlanOptions{Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Plan.Adopted(); len(r.Plan.Conflicts) != 0 || !slices.Equal(got, []plan.Address{regional, plan.ClusterAddress(demoProject, demoRegion, "cluster3")}) ||
		r.Plan.Summary != (plan.Summary{Adopt: 2}) {
		t.Fatalf("with adopt: adopted %v, %+v, conflicts %v\n%s", got, r.Plan.Summary, r.Plan.Conflicts, render(r.Plan))
	}
	if !slices.ContainsFunc(r.Plan.Notes, func(n string) bool {
		return strings.HasPrefix(n, "membership "+string(regional)+" already registers "+clusterPath("cluster3")+": the federation uses it instead of registering "+string(global))
	}) {
		t.Errorf("no note says the regional membership is used: %q", r.Plan.Notes)
	}
	for _, c := range r.Derived.Clusters {
		want := "/locations/global/gkeMemberships/" + c.Name
		if c.Name == "cluster3" {
			want = "/locations/" + demoRegion + "/gkeMemberships/cluster3"
		}
		if !strings.HasSuffix(c.Access.GatewayPath, want) || (c.Name == "cluster3") != (c.Access.Membership == regional) {
			t.Errorf("%s is reached through %s (membership %s), want a path ending %s", c.Name, c.Access.GatewayPath, c.Access.Membership, want)
		}
	}
	mustApply(t, e, r, gcplayer.ApplyOptions{})
	if again := mustPlan(t, e, f); again.Plan.HasChanges() || len(again.Plan.Conflicts) > 0 {
		t.Fatalf("after the adoption:\n%s", render(again.Plan))
	}
	m, err := h.hub.GetMembership(ctx, &gkehubpb.GetMembershipRequest{Name: strings.TrimPrefix(string(regional), "gcp:")})
	h.check(err)
	if m.GetLabels()[federation.LabelFederation] == "" || m.GetAuthority().GetIssuer() != "https://container.googleapis.com/v1/"+clusterPath("cluster3") {
		t.Errorf("the adopted membership: labels %v, issuer %q", m.GetLabels(), m.GetAuthority().GetIssuer())
	}
	if _, err := h.hub.GetMembership(ctx, &gkehubpb.GetMembershipRequest{Name: memberName("cluster3")}); err == nil {
		t.Errorf("a global membership for cluster3 was registered too")
	}
}

// A plan made before the cluster was registered elsewhere wants a global membership; GKE Hub
// refuses it, and apply says which membership has the cluster and that a new plan takes it.
func TestRegisteredMeanwhile(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, twoCluster)
	h := byHand(t, srv)
	ctx := context.Background()
	f := load(t, twoCluster)

	h.unregister("cluster3")
	r := mustPlan(t, e, f)
	if r.Plan.Summary.Add != 1 {
		t.Fatalf("want the global membership created:\n%s", render(r.Plan))
	}
	op, err := h.hub.CreateMembership(ctx, &gkehubpb.CreateMembershipRequest{Parent: "projects/" + demoProject + "/locations/" + demoRegion, MembershipId: "cluster3",
		Resource: &gkehubpb.Membership{Type: &gkehubpb.Membership_Endpoint{Endpoint: &gkehubpb.MembershipEndpoint{Type: &gkehubpb.MembershipEndpoint_GkeCluster{
			GkeCluster: &gkehubpb.GkeCluster{ResourceLink: "//container.googleapis.com/" + clusterPath("cluster3")}}}}}})
	h.check(err)
	_, err = op.Wait(ctx)
	h.check(err)
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err == nil {
		err = rep.Err()
	}
	if err == nil || !strings.Contains(err.Error(), "cluster cluster3 is registered already, as membership projects/"+demoProject+"/locations/"+demoRegion+"/memberships/cluster3, and GKE Hub allows one membership per cluster") ||
		!strings.Contains(err.Error(), "hint: run plan again") {
		t.Fatalf("apply: %v", err)
	}
	r = mustPlan(t, e, f)
	if r.Plan.Summary != (plan.Summary{Change: 1}) {
		t.Errorf("the next plan takes the regional membership:\n%s", render(r.Plan))
	}
}
