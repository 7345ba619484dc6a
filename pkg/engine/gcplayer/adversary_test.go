package gcplayer_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// adversaryFed is a federation of two clusters in us-west2 on the shared network mesh-vpc; the
// clusters, their subnets and pools carry the federation's name, so that what is whose can be
// told from a request's path.
func adversaryFed(name string, octet int) *v1alpha1.Federation {
	b := fedtest.New(name).Network(fedtest.DefaultFleetProject, fedtest.DefaultNetwork).Admin("admin", "10.0.0.0/24")
	for i, suffix := range []string{"a", "b"} {
		n := octet + i
		b.Cluster(fedtest.Cluster(name+"-"+suffix).Ranges(
			"10.10."+strconv.Itoa(n)+".0/24", "10."+strconv.Itoa(100+n)+".0.0/16", "172.16."+strconv.Itoa(n)+".0/24", "192.168."+strconv.Itoa(n)+".0/28"))
	}
	return b.Build()
}

// foreignWrites lists the requests that changed something not prod's: prod-eu's resources, the
// network prod-eu owns, and the node pool made by hand.
func foreignWrites(log []gcpfake.LogEntry) []string {
	var out []string
	for _, e := range log {
		if e.HTTP == "" || e.HTTP == http.MethodGet || strings.Contains(e.Path, "/operations/") {
			continue
		}
		if strings.Contains(e.Path, "prod-eu") || strings.HasSuffix(e.Path, "/networks/"+fedtest.DefaultNetwork) || strings.Contains(e.Path, "hand-made") {
			out = append(out, e.HTTP+" "+e.Path)
		}
	}
	return out
}

// The ownership adversary: federations prod and prod-eu share one network (prod-eu created it),
// prod has a node pool added by hand and a cluster left in ERROR. Across prod's plan, apply and
// destroy, nothing of prod-eu's, not the network, and not the hand-made pool is written.
func TestOwnershipAdversary(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	ctx := context.Background()
	prodEU, prod := adversaryFed("prod-eu", 10), adversaryFed("prod", 20)
	applyFed(t, e, prodEU, gcplayer.ApplyOptions{}, false)
	euBefore := inventory(t, srv, fedtest.DefaultFleetProject)
	srv.ResetCounters()
	var log []gcpfake.LogEntry

	// prod's first plan: the shared network is prod-eu's (a conflict, never a change), and
	// nothing of prod-eu's is planned.
	r, err := e.Plan(ctx, prod)
	if err != nil {
		t.Fatal(err)
	}
	noForeignChanges(t, r.Plan)
	if len(r.Plan.Conflicts) != 1 || !strings.HasSuffix(string(r.Plan.Conflicts[0].Address), "/networks/"+fedtest.DefaultNetwork) {
		t.Errorf("want one conflict, on the shared network, got %+v", r.Plan.Conflicts)
	}
	// One cluster's creation fails once it has started: GKE leaves it in ERROR.
	srv.InjectFault(gcpfake.Fault{Method: "ClusterManager/CreateCluster", HTTP: http.StatusBadRequest, Message: "injected failure", Times: 1, AtCompletion: true})
	applyFed(t, e, prod, gcplayer.ApplyOptions{}, true)
	log = append(log, srv.RequestLog()...)

	// A pool added by hand (or by node auto-provisioning) to prod's running cluster.
	clients, err := gcp.New(ctx, gcp.Config{Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	cls, err := clients.Clusters(ctx, fedtest.DefaultFleetProject)
	if err != nil {
		t.Fatal(err)
	}
	var running, broken string
	for _, c := range cls {
		switch {
		case strings.HasPrefix(c.GetName(), "prod-eu"):
		case c.GetStatus() == containerpb.Cluster_RUNNING:
			running = c.GetName()
		case c.GetStatus() == containerpb.Cluster_ERROR:
			broken = c.GetName()
		}
	}
	if running == "" || broken == "" {
		t.Fatalf("want one running and one broken cluster of prod, got running %q, broken %q", running, broken)
	}
	if err := clients.CreateNodePool(ctx, fedtest.DefaultFleetProject, "us-west2", running, &containerpb.NodePool{Name: "hand-made", InitialNodeCount: 1}, nil); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounters()

	r, err = e.Plan(ctx, prod)
	if err != nil {
		t.Fatal(err)
	}
	noForeignChanges(t, r.Plan)
	if !strings.Contains(strings.Join(r.Plan.Notes, "\n"), "node pools hand-made of cluster "+running+" carry no mark") {
		t.Errorf("the plan does not say the hand-made pool is left alone; notes: %q", r.Plan.Notes)
	}
	var replaced *plan.Change
	for i, c := range r.Plan.Changes {
		if c.Kind == plan.KindCluster && strings.HasSuffix(string(c.Address), "/clusters/"+broken) {
			replaced = &r.Plan.Changes[i]
		}
	}
	if replaced == nil || replaced.Action != plan.Replace || !replaced.Protected || !strings.Contains(replaced.ActionReason, "ERROR") {
		t.Errorf("the cluster in ERROR is not replaced: %+v", replaced)
	}
	if !strings.Contains(strings.Join(r.Plan.Warnings, "\n"), "cluster "+broken+" is ERROR: ") {
		t.Errorf("no warning names the cluster in ERROR: %q", r.Plan.Warnings)
	}
	r.Plan.Conflicts = nil
	if _, err := e.Apply(ctx, r, gcplayer.ApplyOptions{}); err == nil {
		t.Error("the cluster in ERROR was replaced without AllowDestroy")
	}
	applyFed(t, e, prod, gcplayer.ApplyOptions{AllowDestroy: true}, false)

	// A machine type change replaces the pool: protected like a cluster.
	changed := adversaryFed("prod", 20)
	changed.Spec.Clusters[0].NodePools[0].MachineType = "e2-standard-8"
	r, err = e.Plan(ctx, changed)
	if err != nil {
		t.Fatal(err)
	}
	var pool *plan.Change
	for i, c := range r.Plan.Changes {
		if c.Kind == plan.KindNodePool && c.Action != plan.NoOp {
			pool = &r.Plan.Changes[i]
		}
	}
	if pool == nil || pool.Action != plan.Replace || !pool.Protected {
		t.Errorf("a machine type change does not replace the pool under protection: %+v", pool)
	}
	r.Plan.Conflicts = nil
	if _, err := e.Apply(ctx, r, gcplayer.ApplyOptions{}); err == nil {
		t.Error("a node pool was replaced without AllowDestroy")
	}

	// Destroy prod: prod-eu, the network and the hand-made pool are not prod's to delete (the
	// pool goes with its cluster, which destroy deletes as a whole).
	d, err := e.PlanDestroy(ctx, prod)
	if err != nil {
		t.Fatal(err)
	}
	noForeignChanges(t, d.Plan)
	rep, err := e.Apply(ctx, d, gcplayer.ApplyOptions{AllowDestroy: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("destroy prod: %v", err)
	}
	log = append(log, srv.RequestLog()...)

	writes := 0
	for _, e := range log {
		if e.HTTP != "" && e.HTTP != http.MethodGet {
			writes++
		}
	}
	t.Logf("prod's plan, apply and destroy: %d requests, %d writes, %d on what is not prod's", len(log), writes, len(foreignWrites(log)))
	if w := foreignWrites(log); len(w) > 0 {
		t.Errorf("prod wrote what is not its own:\n%s", strings.Join(w, "\n"))
	}
	var euAfter []string
	for _, name := range inventory(t, srv, fedtest.DefaultFleetProject) {
		if strings.Contains(name, "prod-eu") || strings.Contains(name, fedtest.DefaultNetwork) {
			euAfter = append(euAfter, name)
		}
	}
	var euWant []string
	for _, name := range euBefore {
		if strings.Contains(name, "prod-eu") || strings.Contains(name, fedtest.DefaultNetwork) {
			euWant = append(euWant, name)
		}
	}
	if strings.Join(euAfter, "\n") != strings.Join(euWant, "\n") {
		t.Errorf("prod-eu's resources changed:\nbefore %q\nafter  %q", euWant, euAfter)
	}
	again, err := e.Plan(ctx, prodEU)
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.HasChanges() {
		t.Errorf("prod-eu no longer converged:\n%s", render(again.Plan))
	}
}

// applyFed plans and applies f. The shared network is the other federation's, a conflict the
// plan reports; the rest of the plan is applied, as a second federation on a shared VPC does.
func applyFed(t *testing.T, e *gcplayer.Layer, f *v1alpha1.Federation, opts gcplayer.ApplyOptions, failureExpected bool) {
	t.Helper()
	ctx := context.Background()
	r, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	r.Plan.Conflicts = nil
	rep, err := e.Apply(ctx, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); (err != nil) != failureExpected {
		t.Fatalf("apply %s: %v", f.Metadata.Name, err)
	}
}

// noForeignChanges fails when a plan changes anything of prod-eu's, the network or the
// hand-made pool.
func noForeignChanges(t *testing.T, p *plan.Plan) {
	t.Helper()
	for _, c := range p.Changes {
		a := string(c.Address)
		if c.Action != plan.NoOp && (strings.Contains(a, "prod-eu") || strings.HasSuffix(a, "/networks/"+fedtest.DefaultNetwork) || strings.Contains(a, "hand-made")) {
			t.Errorf("prod's plan would %s %s (%s)", c.Action, a, c.ActionReason)
		}
	}
}

// A name squatted between plan and apply: someone creates, without the federation's mark, a
// firewall rule with a name the plan will create. The create answers ALREADY_EXISTS; apply must
// re-read it, fail naming it, and neither update nor delete it.
func TestSquattedNameIsNotTakenOver(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	ctx := context.Background()
	f := adversaryFed("prod", 20)
	r, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	var squat plan.Change
	for _, c := range r.Plan.Changes {
		if c.Kind == plan.KindFirewall && c.Action == plan.Create && strings.HasSuffix(string(c.Address), "--webhooks") {
			squat = c
		}
	}
	if squat.Address == "" {
		t.Fatal("the plan creates no webhook rule")
	}
	ref, err := plan.ParseAddress(squat.Address)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := gcp.New(ctx, gcp.Config{Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	// The squatter needs the network, which the federation creates first: create it as the
	// federation would, then the squatted rule, before apply runs.
	applyOnly(t, e, r, plan.KindAPI, plan.KindNetwork)
	squatted := &computepb.Firewall{Name: proto.String(ref.Name), Network: proto.String("projects/" + ref.Project + "/global/networks/" + fedtest.DefaultNetwork),
		Description: proto.String("someone else's rule"), SourceRanges: []string{"0.0.0.0/0"},
		Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}}
	if err := clients.InsertFirewall(ctx, ref.Project, squatted, nil); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounters()
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var failure string
	for _, res := range rep.Results {
		if res.Address == squat.Address {
			failure = res.Error
		}
	}
	if !strings.Contains(failure, "without") || !strings.Contains(failure, "mark") {
		t.Errorf("apply over a squatted name: %q, want a failure saying it exists without the federation's mark", failure)
	}
	for _, entry := range srv.RequestLog() {
		if entry.HTTP != "" && entry.HTTP != http.MethodGet && entry.HTTP != http.MethodPost && strings.HasSuffix(entry.Path, "/firewalls/"+ref.Name) {
			t.Errorf("apply wrote the squatted rule: %s %s", entry.HTTP, entry.Path)
		}
	}
	fws, err := clients.Firewalls(ctx, ref.Project)
	if err != nil {
		t.Fatal(err)
	}
	for _, fw := range fws {
		if fw.GetName() == ref.Name && (fw.GetDescription() != "someone else's rule" || len(fw.GetSourceRanges()) != 1 || fw.GetSourceRanges()[0] != "0.0.0.0/0") {
			t.Errorf("the squatted rule changed: %v", fw)
		}
	}
}

// applyOnly carries out the changes of the given kinds of a plan, as a partial apply would.
func applyOnly(t *testing.T, e *gcplayer.Layer, r *gcplayer.CloudPlan, kinds ...string) {
	t.Helper()
	keep := r.Plan.Changes[:0:0]
	for _, c := range r.Plan.Changes {
		for _, k := range kinds {
			if c.Kind == k {
				c.DependsOn = nil
				keep = append(keep, c)
			}
		}
	}
	partial := *r
	p := *r.Plan
	p.Changes = keep
	partial.Plan = &p
	rep, err := e.Apply(context.Background(), &partial, gcplayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}
