package gcplayer_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	gkehub "cloud.google.com/go/gkehub/apiv1beta1"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

const (
	demoProject = "asm-multicluster-demo"
	demoRegion  = "us-west2"
)

func memberName(cluster string) string {
	return "projects/" + demoProject + "/locations/global/memberships/" + cluster
}

func clusterPath(cluster string) string {
	return "projects/" + demoProject + "/locations/" + demoRegion + "/clusters/" + cluster
}

// gkeByHand is what an operator reaches for: the official GKE and GKE Hub clients, making the
// changes gcloud makes.
type gkeByHand struct {
	t   *testing.T
	ctx context.Context
	gke *container.ClusterManagerClient
	hub *gkehub.GkeHubMembershipClient
}

func byHand(t *testing.T, srv *gcpfake.Server) *gkeByHand {
	t.Helper()
	ctx := context.Background()
	gke, err := container.NewClusterManagerRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gke.Close() })
	hub, err := gkehub.NewGkeHubMembershipRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	return &gkeByHand{t: t, ctx: ctx, gke: gke, hub: hub}
}

func (h *gkeByHand) check(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

// clearAuthority turns fleet Workload Identity off for a membership, as every membership was
// before its authority was set.
func (h *gkeByHand) clearAuthority(cluster string) {
	h.t.Helper()
	op, err := h.hub.UpdateMembership(h.ctx, &gkehubpb.UpdateMembershipRequest{Name: memberName(cluster), Resource: &gkehubpb.Membership{},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"authority"}}})
	h.check(err)
	_, err = op.Wait(h.ctx)
	h.check(err)
}

// registerWithoutWorkloadIdentity replaces a membership with one made the way
// `gcloud container fleet memberships register C --gke-cluster=L/C` makes it: the cluster's
// link, no labels, no authority.
func (h *gkeByHand) registerWithoutWorkloadIdentity(name, cluster string) {
	h.t.Helper()
	h.unregister(name)
	h.register(name, cluster)
}

// unregister is `gcloud container fleet memberships unregister NAME --location global`.
func (h *gkeByHand) unregister(name string) {
	h.t.Helper()
	del, err := h.hub.DeleteMembership(h.ctx, &gkehubpb.DeleteMembershipRequest{Name: memberName(name)})
	h.check(err)
	h.check(del.Wait(h.ctx))
}

// register is `gcloud container fleet memberships register NAME --gke-cluster CLUSTER
// --location global`.
func (h *gkeByHand) register(name, cluster string) {
	h.t.Helper()
	op, err := h.hub.CreateMembership(h.ctx, &gkehubpb.CreateMembershipRequest{Parent: "projects/" + demoProject + "/locations/global", MembershipId: name,
		Resource: &gkehubpb.Membership{Type: &gkehubpb.Membership_Endpoint{Endpoint: &gkehubpb.MembershipEndpoint{Type: &gkehubpb.MembershipEndpoint_GkeCluster{
			GkeCluster: &gkehubpb.GkeCluster{ResourceLink: "//container.googleapis.com/" + clusterPath(cluster)}}}}}})
	h.check(err)
	_, err = op.Wait(h.ctx)
	h.check(err)
}

// setWorkloadMetadata is `gcloud container node-pools update P --workload-metadata=MODE`.
func (h *gkeByHand) setWorkloadMetadata(cluster, pool string, mode containerpb.WorkloadMetadataConfig_Mode) {
	h.t.Helper()
	_, err := h.gke.UpdateNodePool(h.ctx, &containerpb.UpdateNodePoolRequest{Name: clusterPath(cluster) + "/nodePools/" + pool,
		WorkloadMetadataConfig: &containerpb.WorkloadMetadataConfig{Mode: mode}})
	h.check(err)
}

// disableWorkloadIdentity is `gcloud container clusters update C --disable-workload-identity`.
func (h *gkeByHand) disableWorkloadIdentity(cluster string) {
	h.t.Helper()
	_, err := h.gke.UpdateCluster(h.ctx, &containerpb.UpdateClusterRequest{Name: clusterPath(cluster),
		Update: &containerpb.ClusterUpdate{DesiredWorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{}}})
	h.check(err)
}

// changedFields lists the plan's changes that do something, each with the fields it changes.
func changedFields(p *plan.Plan) map[string][]string {
	out := map[string][]string{}
	for _, c := range p.Changes {
		if c.Action == plan.NoOp {
			continue
		}
		fields := []string{string(c.Action)}
		for _, f := range c.Fields {
			fields = append(fields, f.Path)
		}
		sort.Strings(fields[1:])
		out[string(c.Address)] = fields
	}
	return out
}

// Fleet Workload Identity and the GKE metadata server are part of what plan compares: a
// membership without an authority (made before memberships had one, or registered by hand
// without --enable-workload-identity), a node pool switched to GCE_METADATA and a cluster whose
// Workload Identity was disabled are each an in-place update, apply carries them out (the
// cluster's workload pool before its pool's GKE_METADATA, which GKE refuses without it) and the
// next plan is empty.
func TestFleetWorkloadIdentityDriftIsFixedInPlace(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, twoCluster)
	h := byHand(t, srv)
	ctx := context.Background()

	for _, c := range []string{"cluster3", "cluster4"} {
		m, err := h.hub.GetMembership(ctx, &gkehubpb.GetMembershipRequest{Name: memberName(c)})
		h.check(err)
		if a := m.GetAuthority(); a.GetIssuer() != "https://container.googleapis.com/v1/"+clusterPath(c) || a.GetWorkloadIdentityPool() != demoProject+".svc.id.goog" {
			t.Errorf("membership %s after apply: authority %v, want the cluster's issuer in the fleet's pool", c, a)
		}
	}

	h.clearAuthority("cluster3")
	h.registerWithoutWorkloadIdentity("cluster4", "cluster4")
	h.setWorkloadMetadata("cluster3", "cluster3-node-pool", containerpb.WorkloadMetadataConfig_GCE_METADATA)
	h.disableWorkloadIdentity("cluster4")
	h.setWorkloadMetadata("cluster4", "cluster4-node-pool", containerpb.WorkloadMetadataConfig_GCE_METADATA)

	f := load(t, twoCluster)
	r, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	gke := "gke:" + "projects/" + demoProject + "/locations/" + demoRegion + "/clusters/"
	want := map[string][]string{
		"gcp:" + memberName("cluster3"):               {"update", "authority.issuer"},
		"gcp:" + memberName("cluster4"):               {"update", "authority.issuer", "labels"},
		gke + "cluster3/nodePools/cluster3-node-pool": {"update", "workloadMetadataConfig.mode"},
		gke + "cluster4":                              {"update", "workloadPool"},
		gke + "cluster4/nodePools/cluster4-node-pool": {"update", "workloadMetadataConfig.mode"},
	}
	if diff := cmp.Diff(want, changedFields(r.Plan)); diff != "" || len(r.Plan.Conflicts) > 0 {
		t.Fatalf("plan (-want +got):\n%s\nconflicts %v\n%s", diff, r.Plan.Conflicts, render(r.Plan))
	}
	text := render(r.Plan)
	for _, line := range []string{
		`~ authority.issuer = "" → "https://container.googleapis.com/v1/` + clusterPath("cluster3") + `"`,
		`~ workloadMetadataConfig.mode = "GCE_METADATA" → "GKE_METADATA"`,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("the plan does not show %s:\n%s", line, text)
		}
	}

	srv.ResetCounters()
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, m := range []string{"GkeHubMembershipService/CreateMembership", "GkeHubMembershipService/DeleteMembership",
		"ClusterManager/CreateNodePool", "ClusterManager/DeleteNodePool", "ClusterManager/DeleteCluster"} {
		if n := srv.Calls(m); n != 0 {
			t.Errorf("%s called %d times for in-place updates", m, n)
		}
	}
	if n := srv.Calls("GkeHubMembershipService/UpdateMembership"); n != 2 {
		t.Errorf("UpdateMembership calls = %d, want one per membership", n)
	}

	m, err := h.hub.GetMembership(ctx, &gkehubpb.GetMembershipRequest{Name: memberName("cluster4")})
	h.check(err)
	if m.GetAuthority().GetWorkloadIdentityPool() != demoProject+".svc.id.goog" || m.GetLabels()["asmfed-federation"] != "asm-sample" {
		t.Errorf("membership cluster4 after apply: authority %v labels %v", m.GetAuthority(), m.GetLabels())
	}
	again, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.HasChanges() || len(again.Plan.Conflicts) > 0 {
		t.Fatalf("not converged:\n%s", render(again.Plan))
	}
}

// A membership the file names but that registers another cluster, or a cluster the federation
// does not own, is not adopted: it stays a conflict, never a change.
func TestForeignMembershipIsNotAdopted(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, twoCluster)
	h := byHand(t, srv)
	ctx := context.Background()
	f := load(t, twoCluster)
	m3, m4 := "gcp:"+memberName("cluster3"), "gcp:"+memberName("cluster4")

	// conflicts plans and returns the conflicts and the memberships changed.
	conflicts := func() (conflicts, changed []string) {
		t.Helper()
		r, err := e.Plan(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Plan.Conflicts {
			conflicts = append(conflicts, string(c.Address))
		}
		for addr := range changedFields(r.Plan) {
			if strings.Contains(addr, "/memberships/") {
				changed = append(changed, addr)
			}
		}
		return conflicts, changed
	}

	// Membership cluster4 registers cluster3 (whose own membership goes first: GKE Hub allows
	// one per cluster).
	h.unregister("cluster3")
	h.registerWithoutWorkloadIdentity("cluster4", "cluster3")
	if got, changed := conflicts(); !slices.Contains(got, m4) || slices.Contains(changed, m4) {
		t.Errorf("conflicts %v, memberships changed %v; want membership cluster4 a conflict, not a change", got, changed)
	}

	// Both memberships register their own cluster, but cluster3 is not the federation's: its
	// labels were taken off.
	h.registerWithoutWorkloadIdentity("cluster4", "cluster4")
	h.register("cluster3", "cluster3")
	c, err := h.gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterPath("cluster3")})
	h.check(err)
	_, err = h.gke.SetLabels(ctx, &containerpb.SetLabelsRequest{Name: clusterPath("cluster3"), ResourceLabels: map[string]string{"mesh_id": c.GetResourceLabels()["mesh_id"]},
		LabelFingerprint: c.GetLabelFingerprint()})
	h.check(err)
	got, changed := conflicts()
	if !slices.Contains(got, m3) || slices.Contains(got, m4) || !cmp.Equal(changed, []string{m4}) {
		t.Errorf("conflicts %v, memberships changed %v; want membership cluster3 a conflict (its cluster is not the federation's) and cluster4 adopted", got, changed)
	}
}
