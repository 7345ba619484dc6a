package gcpfake_test

import (
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// A GKE cluster belongs to one fleet membership: registering it again under another name, or
// in another location, is refused by GKE Hub's operation with ALREADY_EXISTS naming the
// membership it has. The reference's clusters are registered in their region this way, which is
// why the federation takes their memberships instead of registering its own in global.
func TestGcloudOneMembershipPerCluster(t *testing.T) {
	srv := gcpfake.Start(t)
	g := newGcloud(t, srv).sameEndpoint(t)
	for _, args := range [][]string{
		{"services", "enable", "container.googleapis.com", "gkehub.googleapis.com"},
		{"container", "clusters", "create", "c1", "--location=us-west2", "--num-nodes=1"},
		{"container", "fleet", "memberships", "register", "c1", "--gke-cluster=us-west2/c1"},
	} {
		if r := g.run(t, args...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	const already = "but the cluster is already registered with resource: //gkehub.googleapis.com/projects/demo/locations/us-west2/memberships/c1"
	// Another name, same location.
	g.fails(t, "intend to register the cluster with resource: //gkehub.googleapis.com/projects/demo/locations/us-west2/memberships/other, "+already,
		"container", "fleet", "memberships", "register", "other", "--gke-cluster=us-west2/c1", "--location=us-west2")
	// The same name in global, as the federation's model names it.
	g.fails(t, "intend to register the cluster with resource: //gkehub.googleapis.com/projects/demo/locations/global/memberships/c1, "+already,
		"container", "fleet", "memberships", "register", "c1", "--gke-cluster=us-west2/c1", "--location=global")
	v := g.ok(t, "container", "fleet", "memberships", "list")
	if n := len(v.([]any)); n != 1 {
		t.Errorf("memberships = %v, want only c1", v)
	}
	want(t, v, "0.name", "projects/demo/locations/us-west2/memberships/c1")

	// Once the first is unregistered, the cluster can be registered again anywhere.
	if r := g.run(t, "container", "fleet", "memberships", "unregister", "c1", "--gke-cluster=us-west2/c1", "--location=us-west2"); r.code != 0 {
		t.Fatalf("unregister: exit %d\n%s", r.code, r.stderr)
	}
	if r := g.run(t, "container", "fleet", "memberships", "register", "c1", "--gke-cluster=us-west2/c1", "--location=global"); r.code != 0 {
		t.Fatalf("register in global after unregister: exit %d\n%s", r.code, r.stderr)
	}
}
