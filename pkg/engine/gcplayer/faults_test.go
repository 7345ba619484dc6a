package gcplayer_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

const twoCluster = "../../../samples/two-cluster-private/federation.yaml"

// converge plans and applies until the plan is empty, at most twice, and fails on anything else.
func converge(t *testing.T, e *gcplayer.Layer, path string, opts ...gcplayer.ApplyOptions) {
	t.Helper()
	ctx := context.Background()
	f := load(t, path)
	r, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.HasChanges() {
		rep, err := e.Apply(ctx, r, append(opts, gcplayer.ApplyOptions{})[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Err(); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	again, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render(again.Plan))
	}
}

// inventory lists what exists in the simulator through the official clients, to compare end
// states: names of networks, subnets, firewalls, routers, clusters with their node pools, and
// memberships.
func inventory(t *testing.T, srv *gcpfake.Server, project string) []string {
	t.Helper()
	ctx := context.Background()
	c, err := gcp.New(ctx, gcp.Config{Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []string
	nets, err := c.Networks(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		out = append(out, "network "+n.GetName())
	}
	subs, _ := c.Subnetworks(ctx, project)
	for _, s := range subs {
		out = append(out, "subnet "+s.GetName())
	}
	fws, _ := c.Firewalls(ctx, project)
	for _, f := range fws {
		out = append(out, "firewall "+f.GetName())
	}
	rts, _ := c.Routers(ctx, project)
	for _, r := range rts {
		out = append(out, "router "+r.GetName())
	}
	cls, _ := c.Clusters(ctx, project)
	for _, cl := range cls {
		out = append(out, "cluster "+cl.GetName())
		for _, np := range cl.GetNodePools() {
			out = append(out, "node pool "+cl.GetName()+"/"+np.GetName())
		}
	}
	ms, _ := c.Memberships(ctx, project)
	for _, m := range ms {
		out = append(out, "membership "+m.GetName())
	}
	return out
}

func statusOf(rep *plan.Report, suffix string) plan.StepResult {
	for _, r := range rep.Results {
		if strings.HasSuffix(string(r.Address), suffix) {
			return r
		}
	}
	return plan.StepResult{}
}

// Inject a failure at each kind of step in turn: the apply reports it, and the next apply
// converges to the same end state as an apply that never failed, with no duplicates.
func TestResumeAfterAFailureAtEachStep(t *testing.T) {
	ref := gcpfake.Start(t)
	converge(t, newEngine(t, ref), twoCluster)
	want := inventory(t, ref, "asm-multicluster-demo")

	methods := []string{
		"ServiceUsage/BatchEnableServices", "Networks/Insert", "Subnetworks/Insert", "Firewalls/Insert", "Routers/Insert",
		"ClusterManager/CreateCluster", "ClusterManager/CreateNodePool", "GkeHubMembershipService/CreateMembership",
	}
	for _, m := range methods {
		for _, atCompletion := range []bool{false, true} {
			name := m
			if atCompletion {
				name += " at completion"
			}
			t.Run(name, func(t *testing.T) {
				srv := gcpfake.Start(t)
				srv.InjectFault(gcpfake.Fault{Method: m, HTTP: http.StatusBadRequest, Message: "injected failure", Times: 1, AtCompletion: atCompletion})
				e := newEngine(t, srv)
				ctx := context.Background()
				f := load(t, twoCluster)
				r, err := e.Plan(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if m != "ClusterManager/CreateNodePool" && rep.Err() == nil {
					t.Fatalf("the injected failure of %s was not reported", m)
				}
				if rep.Err() != nil && !strings.Contains(rep.Err().Error(), "injected failure") {
					t.Errorf("the failure does not carry its cause: %v", rep.Err())
				}
				// A cluster whose creation failed at completion is left in ERROR: the plan
				// replaces it, which needs AllowDestroy.
				leftInError := m == "ClusterManager/CreateCluster" && atCompletion
				if leftInError {
					replacesErrorCluster(t, e, twoCluster)
				}
				converge(t, e, twoCluster, gcplayer.ApplyOptions{AllowDestroy: leftInError})
				if diff := cmp.Diff(want, inventory(t, srv, "asm-multicluster-demo")); diff != "" {
					t.Errorf("end state after resuming differs (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// Cancel an apply after each number of finished steps; the next apply converges.
func TestResumeAfterCancel(t *testing.T) {
	ref := gcpfake.Start(t)
	converge(t, newEngine(t, ref), twoCluster)
	want := inventory(t, ref, "asm-multicluster-demo")
	for _, after := range []int{1, 5, 10, 15} {
		t.Run("after "+strconv.Itoa(after)+" steps", func(t *testing.T) {
			srv := gcpfake.Start(t)
			e := newEngine(t, srv)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, err := e.Plan(ctx, load(t, twoCluster))
			if err != nil {
				t.Fatal(err)
			}
			finished := 0
			rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{Parallelism: 2, OnEvent: func(ev plan.Event) {
				if ev.Kind == plan.EventFinished {
					if finished++; finished == after {
						cancel()
					}
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Count(plan.StatusDone) == len(rep.Results) {
				t.Fatalf("cancel after %d steps had no effect", after)
			}
			converge(t, e, twoCluster)
			if diff := cmp.Diff(want, inventory(t, srv, "asm-multicluster-demo")); diff != "" {
				t.Errorf("end state differs (-want +got):\n%s", diff)
			}
		})
	}
}

// Bursts of 429 and 503 are retried; the apply succeeds.
func TestTransientErrorsAreRetried(t *testing.T) {
	srv := gcpfake.Start(t)
	srv.InjectFault(gcpfake.Fault{Method: "Firewalls/Insert", HTTP: http.StatusTooManyRequests, Times: 3})
	srv.InjectFault(gcpfake.Fault{Method: "ClusterManager/ListClusters", HTTP: http.StatusServiceUnavailable, Times: 2})
	converge(t, newEngine(t, srv), twoCluster)
	if n := srv.Calls("Firewalls/Insert"); n != 4+3 {
		t.Errorf("Firewalls/Insert called %d times, want 4 rules + 3 retries", n)
	}
}

// 4xx errors are not retried.
func TestClientErrorsAreNotRetried(t *testing.T) {
	srv := gcpfake.Start(t)
	srv.InjectFault(gcpfake.Fault{Method: "Networks/Insert", HTTP: http.StatusForbidden, Message: "Required 'compute.networks.create' permission for 'projects/asm-multicluster-demo/global/networks/asm-vpc-3'", Times: 1})
	e := newEngine(t, srv)
	ctx := context.Background()
	r, err := e.Plan(ctx, load(t, twoCluster))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls("Networks/Insert"); n != 1 {
		t.Errorf("a 403 was retried: %d calls", n)
	}
	res := statusOf(rep, "networks/asm-vpc-3")
	if res.Status != plan.StatusFailed || !strings.Contains(res.Error, "grant compute.networks.create on projects/asm-multicluster-demo/global/networks/asm-vpc-3") {
		t.Errorf("permission error without its fix: %+v", res)
	}
	if got := statusOf(rep, "firewalls/asmfed-asm-sample--admin"); got.Status != plan.StatusSkipped {
		t.Errorf("a firewall rule on the missing network: %+v", got)
	}
}

// A cluster whose creation fails is reported with its cause; everything that does not depend on it
// still completes.
func TestFailedClusterOperation(t *testing.T) {
	srv := gcpfake.Start(t)
	srv.InjectFault(gcpfake.Fault{Method: "ClusterManager/CreateCluster", HTTP: http.StatusTooManyRequests, Message: "QUOTA_EXCEEDED: Insufficient regional quota to satisfy request: resource CPUS", Times: 1, AtCompletion: true})
	e := newEngine(t, srv)
	ctx := context.Background()
	r, err := e.Plan(ctx, load(t, twoCluster))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var failed []plan.StepResult
	for _, res := range rep.Results {
		if res.Status == plan.StatusFailed {
			failed = append(failed, res)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0].Error, "QUOTA_EXCEEDED") || !strings.Contains(failed[0].Error, "hint:") {
		t.Fatalf("want exactly one failed cluster with its cause and a hint, got %+v", failed)
	}
	bad := strings.TrimPrefix(string(failed[0].Address), "gke:projects/asm-multicluster-demo/locations/us-west2/clusters/")
	for _, res := range rep.Results {
		dependsOnBad := strings.Contains(string(res.Address), "clusters/"+bad+"/") || strings.HasSuffix(string(res.Address), "memberships/"+bad)
		switch {
		case res.Address == failed[0].Address:
		case dependsOnBad && res.Status != plan.StatusSkipped:
			t.Errorf("%s depends on the failed cluster but is %s", res.Address, res.Status)
		case !dependsOnBad && res.Status != plan.StatusDone:
			t.Errorf("%s does not depend on the failed cluster but is %s", res.Address, res.Status)
		}
	}
	replacesErrorCluster(t, e, twoCluster)
	converge(t, e, twoCluster, gcplayer.ApplyOptions{AllowDestroy: true})
}

// replacesErrorCluster checks that the plan replaces the cluster a failed create left in ERROR,
// says why, and warns; and that apply without AllowDestroy refuses it.
func replacesErrorCluster(t *testing.T, e *gcplayer.Layer, path string) {
	t.Helper()
	r, err := e.Plan(context.Background(), load(t, path))
	if err != nil {
		t.Fatal(err)
	}
	var replaced []plan.Change
	for _, c := range r.Plan.Changes {
		if c.Kind == plan.KindCluster && c.Action == plan.Replace && strings.Contains(c.ActionReason, "ERROR") {
			replaced = append(replaced, c)
		}
	}
	if len(replaced) != 1 || !strings.Contains(strings.Join(r.Plan.Warnings, "\n"), "is ERROR: ") {
		t.Fatalf("want the cluster in ERROR replaced with a warning:\n%s", render(r.Plan))
	}
	if _, err := e.Apply(context.Background(), r, gcplayer.ApplyOptions{}); err == nil {
		t.Fatal("apply replaced a cluster without AllowDestroy")
	}
}

// Resources the federation does not own are never touched: not updated, not deleted.
func TestOwnership(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, twoCluster)
	ctx := context.Background()
	c, err := gcp.New(ctx, gcp.Config{Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Someone else's rule on the same network, and someone else's rule squatting a name the
	// federation wants.
	ssh := &computepb.Firewall{Name: proto.String("allow-iap-ssh"), Network: proto.String("projects/asm-multicluster-demo/global/networks/asm-vpc-3"),
		SourceRanges: []string{"35.235.240.0/20"}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}}
	if err := c.InsertFirewall(ctx, "asm-multicluster-demo", ssh, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteFirewall(ctx, "asm-multicluster-demo", "asmfed-asm-sample--admin", nil); err != nil {
		t.Fatal(err)
	}
	squat := &computepb.Firewall{Name: proto.String("asmfed-asm-sample--admin"), Network: proto.String("projects/asm-multicluster-demo/global/networks/asm-vpc-3"),
		SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp")}}, Description: proto.String("made by hand")}
	if err := c.InsertFirewall(ctx, "asm-multicluster-demo", squat, nil); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounters()
	r, err := e.Plan(ctx, load(t, twoCluster))
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.HasChanges() || len(r.Plan.Conflicts) != 1 || !strings.HasSuffix(string(r.Plan.Conflicts[0].Address), "asmfed-asm-sample--admin") {
		t.Fatalf("want one conflict and no changes:\n%s", render(r.Plan))
	}
	if _, err := e.Apply(ctx, r, gcplayer.ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "ownership mark") {
		t.Fatalf("apply with a conflict: %v", err)
	}
	for _, m := range []string{"Firewalls/Insert", "Firewalls/Update", "Firewalls/Patch", "Firewalls/Delete"} {
		if n := srv.Calls(m); n != 0 {
			t.Errorf("%s called %d times on resources the federation does not own", m, n)
		}
	}
}

// Protected resources are not replaced without permission.
func TestReplacingAClusterNeedsAllowDestroy(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, twoCluster)
	f := load(t, twoCluster)
	f.Spec.Clusters[0].ControlPlaneRange = "192.168.9.0/28"
	ctx := context.Background()
	r, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.Summary.Replace != 1 {
		t.Fatalf("a new control-plane range must replace the cluster:\n%s", render(r.Plan))
	}
	_, err = e.Apply(ctx, r, gcplayer.ApplyOptions{})
	var refused *plan.DestroyRefusedError
	if err == nil || !errorsAs(err, &refused) {
		t.Fatalf("replace without --allow-destroy: %v", err)
	}
	if n := srv.Calls("ClusterManager/DeleteCluster"); n != 0 {
		t.Fatalf("cluster deleted despite the refusal")
	}
}

// An operation that outlasts the operation timeout ends the wait with an error that names it,
// rather than a wait without end.
func TestOperationTimeoutNamesTheOperation(t *testing.T) {
	srv := gcpfake.Start(t)
	converge(t, newEngine(t, srv), twoCluster)
	srv.SetLatency(&gcpfake.Latency{Op: map[string]time.Duration{"*": time.Minute}})
	ctx := context.Background()
	c, err := gcp.New(ctx, gcp.Config{Endpoint: srv.URL(), PollInterval: 5 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond, OperationTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fw := &computepb.Firewall{Name: proto.String("slow"), Network: proto.String("projects/asm-multicluster-demo/global/networks/asm-vpc-3"),
		SourceRanges: []string{"10.0.0.0/8"}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp")}}}
	start := time.Now()
	err = c.InsertFirewall(ctx, "asm-multicluster-demo", fw, nil)
	var te *gcp.OperationTimeoutError
	if !errors.As(err, &te) || te.Operation == "" || !strings.Contains(err.Error(), "operation "+te.Operation+" still running after 100ms") ||
		!strings.Contains(err.Error(), "projects/asm-multicluster-demo/global/firewalls/slow") {
		t.Fatalf("want the operation named in a timeout, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the wait took %v", d)
	}
}
