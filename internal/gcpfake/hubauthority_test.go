package gcpfake_test

import (
	"context"
	"strings"
	"testing"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	gkehub "cloud.google.com/go/gkehub/apiv1beta1"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

const (
	demoLink   = "//container.googleapis.com/projects/demo/locations/us-central1/clusters/c1"
	demoIssuer = "https://container.googleapis.com/v1/projects/demo/locations/us-central1/clusters/c1"
)

// hubWithCluster starts a simulator with one GKE cluster, c1 in us-central1 with Workload
// Identity, and returns the official membership client the plugin uses.
func hubWithCluster(t *testing.T) (*gcpfake.Server, *gkehub.GkeHubMembershipClient) {
	t.Helper()
	srv := gcpfake.Start(t)
	ctx := context.Background()
	cm, err := container.NewClusterManagerRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cm.Close() })
	if _, err := cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/demo/locations/us-central1", Cluster: &containerpb.Cluster{
		Name: "c1", WorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{WorkloadPool: "demo.svc.id.goog"}}}); err != nil {
		t.Fatal(err)
	}
	hub, err := gkehub.NewGkeHubMembershipRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	return srv, hub
}

func createMembership(ctx context.Context, hub *gkehub.GkeHubMembershipClient, id string, m *gkehubpb.Membership) (*gkehubpb.Membership, error) {
	op, err := hub.CreateMembership(ctx, &gkehubpb.CreateMembershipRequest{Parent: "projects/demo/locations/global", MembershipId: id, Resource: m})
	if err != nil {
		return nil, err
	}
	return op.Wait(ctx)
}

func updateMembership(ctx context.Context, hub *gkehub.GkeHubMembershipClient, id string, m *gkehubpb.Membership, paths ...string) (*gkehubpb.Membership, error) {
	op, err := hub.UpdateMembership(ctx, &gkehubpb.UpdateMembershipRequest{Name: "projects/demo/locations/global/memberships/" + id,
		Resource: m, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	if err != nil {
		return nil, err
	}
	return op.Wait(ctx)
}

func gkeMembership(link, issuer string) *gkehubpb.Membership {
	m := &gkehubpb.Membership{Type: &gkehubpb.Membership_Endpoint{Endpoint: &gkehubpb.MembershipEndpoint{
		Type: &gkehubpb.MembershipEndpoint_GkeCluster{GkeCluster: &gkehubpb.GkeCluster{ResourceLink: link}}}}}
	if issuer != "" {
		m.Authority = &gkehubpb.Authority{Issuer: issuer}
	}
	return m
}

// A membership's authority is what turns fleet Workload Identity on: the simulator takes the
// issuer of the cluster the membership points at, fills in the fleet's pool and the identity
// provider (output only: what a client sends for them is ignored), and refuses an issuer that is
// not that cluster's.
func TestHubMembershipAuthorityOnCreate(t *testing.T) {
	_, hub := hubWithCluster(t)
	ctx := context.Background()

	withForged := gkeMembership(demoLink, demoIssuer)
	withForged.Authority.WorkloadIdentityPool = "forged.svc.id.goog"
	m, err := createMembership(ctx, hub, "c1", withForged)
	if err != nil {
		t.Fatal(err)
	}
	a := m.GetAuthority()
	if a.GetIssuer() != demoIssuer || a.GetWorkloadIdentityPool() != "demo.svc.id.goog" ||
		a.GetIdentityProvider() != "https://gkehub.googleapis.com/projects/demo/locations/global/memberships/c1" {
		t.Errorf("authority = %v", a)
	}
	got, err := hub.GetMembership(ctx, &gkehubpb.GetMembershipRequest{Name: "projects/demo/locations/global/memberships/c1"})
	if err != nil || got.GetAuthority().GetWorkloadIdentityPool() != "demo.svc.id.goog" {
		t.Errorf("read back: %v, %v", got.GetAuthority(), err)
	}

	for _, tc := range []struct {
		name, link, issuer, want string
	}{
		{name: "another cluster's issuer", link: demoLink,
			issuer: "https://container.googleapis.com/v1/projects/demo/locations/us-central1/clusters/c2", want: "does not match"},
		{name: "zone instead of location", link: "//container.googleapis.com/projects/demo/zones/us-central1/clusters/c1",
			issuer: "https://container.googleapis.com/v1/projects/demo/zones/us-central1/clusters/c1", want: "does not match"},
		{name: "plain http off loopback", link: demoLink,
			issuer: "http://container.googleapis.com/v1/projects/demo/locations/us-central1/clusters/c1", want: "must start with https://"},
		{name: "no GKE endpoint, not a URL", issuer: "container.googleapis.com/v1/x", want: "must start with https://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := gkeMembership(tc.link, tc.issuer)
			if tc.link == "" {
				m.Type = nil
			}
			_, err := createMembership(ctx, hub, "bad", m)
			if httpCode(err) != 400 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want 400 with %q", err, tc.want)
			}
		})
	}
	if _, err := hub.GetMembership(ctx, &gkehubpb.GetMembershipRequest{Name: "projects/demo/locations/global/memberships/bad"}); httpCode(err) != 404 {
		t.Errorf("a refused membership exists: %v", err)
	}
}

// Workload Identity is turned on for a membership made without it by an update of `authority`,
// off by clearing it; an issuer that is set cannot be changed to another directly, and an update
// needs a mask of fields it knows.
func TestHubMembershipAuthorityUpdate(t *testing.T) {
	srv, hub := hubWithCluster(t)
	ctx := context.Background()
	m, err := createMembership(ctx, hub, "c1", gkeMembership(demoLink, ""))
	if err != nil {
		t.Fatal(err)
	}
	if m.GetAuthority() != nil {
		t.Fatalf("authority without asking: %v", m.GetAuthority())
	}

	m, err = updateMembership(ctx, hub, "c1", &gkehubpb.Membership{Authority: &gkehubpb.Authority{Issuer: demoIssuer}}, "authority")
	if err != nil {
		t.Fatal(err)
	}
	if a := m.GetAuthority(); a.GetIssuer() != demoIssuer || a.GetWorkloadIdentityPool() != "demo.svc.id.goog" || a.GetIdentityProvider() == "" {
		t.Errorf("after enabling: authority = %v", a)
	}
	if m.GetEndpoint().GetGkeCluster().GetResourceLink() != demoLink {
		t.Errorf("an authority update changed the endpoint: %v", m.GetEndpoint())
	}

	other := "https://container.googleapis.com/v1/projects/demo/locations/us-central1/clusters/c2"
	if _, err := updateMembership(ctx, hub, "c1", &gkehubpb.Membership{Authority: &gkehubpb.Authority{Issuer: other}}, "authority"); httpCode(err) != 400 {
		t.Errorf("another cluster's issuer: %v, want 400", err)
	}
	if _, err := updateMembership(ctx, hub, "c1", &gkehubpb.Membership{Authority: &gkehubpb.Authority{Issuer: demoIssuer + "x"}}, "authority.issuer"); httpCode(err) != 400 {
		t.Errorf("changing a set issuer: %v, want 400", err)
	}
	if _, err := updateMembership(ctx, hub, "c1", &gkehubpb.Membership{Authority: &gkehubpb.Authority{Issuer: demoIssuer}}); httpCode(err) != 400 {
		t.Errorf("empty mask: %v, want 400", err)
	}
	if _, err := updateMembership(ctx, hub, "c1", &gkehubpb.Membership{}, "nosuchfield"); httpCode(err) != 400 {
		t.Errorf("unknown mask path: %v, want 400", err)
	}

	m, err = updateMembership(ctx, hub, "c1", &gkehubpb.Membership{}, "authority")
	if err != nil {
		t.Fatal(err)
	}
	if m.GetAuthority() != nil {
		t.Errorf("after clearing: authority = %v, want none", m.GetAuthority())
	}
	m, err = updateMembership(ctx, hub, "c1", &gkehubpb.Membership{Labels: map[string]string{"team": "mesh"}}, "labels")
	if err != nil {
		t.Fatal(err)
	}
	if m.GetLabels()["team"] != "mesh" || m.GetAuthority() != nil {
		t.Errorf("labels update: labels %v authority %v", m.GetLabels(), m.GetAuthority())
	}
	if n := srv.Calls("GkeHubMembershipService/UpdateMembership"); n != 7 {
		t.Errorf("UpdateMembership calls = %d, want 7", n)
	}
}

// GKE_METADATA, the GKE metadata server that Workload Identity needs on the nodes, is a node
// pool's mode only where the cluster has Workload Identity; UpdateNodePool switches a pool between
// it and GCE_METADATA.
func TestNodePoolWorkloadMetadata(t *testing.T) {
	srv := gcpfake.Start(t)
	ctx := context.Background()
	cm, err := container.NewClusterManagerRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	wait := func(op *containerpb.Operation, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if op.GetError() != nil {
			t.Fatalf("operation %s: %v", op.GetName(), op.GetError())
		}
	}
	const parent = "projects/demo/locations/us-central1"
	gke := &containerpb.NodeConfig{WorkloadMetadataConfig: &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}}
	wait(cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "wi",
		WorkloadIdentityConfig: &containerpb.WorkloadIdentityConfig{WorkloadPool: "demo.svc.id.goog"},
		NodePools:              []*containerpb.NodePool{{Name: "p1", Config: gke}}}}))
	wait(cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "nowi",
		NodePools: []*containerpb.NodePool{{Name: "p1"}}}}))

	mode := func(cluster string) containerpb.WorkloadMetadataConfig_Mode {
		t.Helper()
		np, err := cm.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: parent + "/clusters/" + cluster + "/nodePools/p1"})
		if err != nil {
			t.Fatal(err)
		}
		return np.GetConfig().GetWorkloadMetadataConfig().GetMode()
	}
	setMode := func(cluster string, m containerpb.WorkloadMetadataConfig_Mode) error {
		_, err := cm.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: parent + "/clusters/" + cluster + "/nodePools/p1",
			WorkloadMetadataConfig: &containerpb.WorkloadMetadataConfig{Mode: m}})
		return err
	}

	if got := mode("wi"); got != containerpb.WorkloadMetadataConfig_GKE_METADATA {
		t.Errorf("created with GKE_METADATA: %v", got)
	}
	if err := setMode("wi", containerpb.WorkloadMetadataConfig_GCE_METADATA); err != nil {
		t.Fatal(err)
	}
	if got := mode("wi"); got != containerpb.WorkloadMetadataConfig_GCE_METADATA {
		t.Errorf("after update to GCE_METADATA: %v", got)
	}
	if err := setMode("wi", containerpb.WorkloadMetadataConfig_GKE_METADATA); err != nil {
		t.Fatal(err)
	}
	if got := mode("wi"); got != containerpb.WorkloadMetadataConfig_GKE_METADATA {
		t.Errorf("after update back to GKE_METADATA: %v", got)
	}

	if err := setMode("nowi", containerpb.WorkloadMetadataConfig_GKE_METADATA); httpCode(err) != 400 || !strings.Contains(err.Error(), "Workload Identity") {
		t.Errorf("GKE_METADATA without Workload Identity: %v, want 400", err)
	}
	if got := mode("nowi"); got == containerpb.WorkloadMetadataConfig_GKE_METADATA {
		t.Errorf("a refused update changed the pool")
	}
	_, err = cm.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: parent + "/clusters/nowi", NodePool: &containerpb.NodePool{Name: "p2", Config: gke}})
	if httpCode(err) != 400 {
		t.Errorf("create a GKE_METADATA pool without Workload Identity: %v, want 400", err)
	}
	_, err = cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "nowi2",
		NodePools: []*containerpb.NodePool{{Name: "p1", Config: gke}}}})
	if httpCode(err) != 400 {
		t.Errorf("create a cluster with a GKE_METADATA pool and no Workload Identity: %v, want 400", err)
	}
}
