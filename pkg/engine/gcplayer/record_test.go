package gcplayer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// gcloudOn runs gcloud against the simulator in project, as an operator would have made things
// by hand, and fails the test when it fails.
func gcloudOn(t *testing.T, srv *gcpfake.Server, project string) func(args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("gcloud")
	if err != nil {
		t.Fatal("gcloud is not installed; this test makes resources by hand with it")
	}
	home := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append(args, "--project="+project, "--quiet")...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CLOUDSDK_CONFIG=" + filepath.Join(home, "gcloud"),
			"CLOUDSDK_CORE_CHECK_GCE_METADATA=false", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
			"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true"}, gcpfake.Env(srv.URL())...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gcloud %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
}

// adoptionRecord reads the record as Compute Engine holds it, through the official client:
// address → number; nil when the project's metadata has no record.
func adoptionRecord(t *testing.T, srv *gcpfake.Server, project, fed string) map[string]string {
	t.Helper()
	ctx := context.Background()
	c, err := compute.NewProjectsRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.Get(ctx, &computepb.GetProjectRequest{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range p.GetCommonInstanceMetadata().GetItems() {
		if it.GetKey() != gcplayer.RecordKeyPrefix+fed {
			continue
		}
		var rec struct {
			Adopted []struct{ Address, ID string }
		}
		if err := json.Unmarshal([]byte(it.GetValue()), &rec); err != nil {
			t.Fatalf("the adoption record: %v\n%s", err, it.GetValue())
		}
		out := map[string]string{}
		var addrs []string
		for _, en := range rec.Adopted {
			out[en.Address] = en.ID
			addrs = append(addrs, en.Address)
		}
		if !slices.IsSorted(addrs) {
			t.Errorf("the adoption record is not sorted: %v", addrs)
		}
		return out
	}
	return nil
}

// A network and subnets made by hand with gcloud carry a description the federation cannot
// change afterwards (the simulator refuses it as Compute Engine does). Adopted, their mark goes
// into the adoption record in the fleet project's metadata: the plan says so, apply records them
// by number and changes what can change in place (routing mode, Private Google Access), the next
// plan is empty. A subnet deleted by hand and made again is not the federation's: its entry
// names another number, and apply drops it; one deleted and left is created by the federation
// with its own mark. Destroy deletes the adopted network like a created one and empties the
// record.
func TestAdoptIntoTheRecord(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	ctx := context.Background()
	const project, region = "asm-multicluster-demo", "us-west2"
	gcloud := gcloudOn(t, srv, project)
	gcloud("compute", "networks", "create", "asm-vpc-3", "--subnet-mode=custom", "--bgp-routing-mode=global", "--description=made by terraform")
	gcloud("compute", "networks", "subnets", "create", "cluster3", "--network=asm-vpc-3", "--region="+region, "--range=10.184.19.0/24",
		"--secondary-range=cluster3-pod-cidr=10.185.128.0/18,cluster3-services-cidr=172.16.2.0/24", "--description=made by terraform")
	gcloud("compute", "networks", "subnets", "create", "bastion-subnet", "--network=asm-vpc-3", "--region="+region, "--range=10.0.0.0/24",
		"--enable-private-ip-google-access")
	netAddr := plan.NetworkAddress(project, "asm-vpc-3")
	subAddr := plan.SubnetworkAddress(project, region, "cluster3")
	bastionAddr := plan.SubnetworkAddress(project, region, "bastion-subnet")
	inRecord := "metadata " + gcplayer.RecordKeyPrefix + "asm-sample of project " + project
	f := load(t, twoCluster)

	r := mustPlan(t, e, f)
	for _, a := range []plan.Address{netAddr, subAddr, bastionAddr} {
		if !slices.ContainsFunc(r.Plan.Conflicts, func(c plan.Conflict) bool { return c.Address == a }) {
			t.Errorf("without adopt, %s is not a conflict: %v", a, r.Plan.Conflicts)
		}
	}

	r, err := e.PlanWith(ctx, f, gcplayer.PlanOptions{Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Plan.Conflicts) != 0 || !slices.Equal(r.Plan.Adopted(), []plan.Address{netAddr, bastionAddr, subAddr}) {
		t.Fatalf("with adopt: adopted %v, conflicts %v\n%s", r.Plan.Adopted(), r.Plan.Conflicts, render(r.Plan))
	}
	wantFields := map[plan.Address][]string{netAddr: {"mark", "routingMode"}, subAddr: {"mark", "privateIpGoogleAccess"}, bastionAddr: {"mark"}}
	for _, c := range r.Plan.Changes {
		want, ok := wantFields[c.Address]
		if !ok {
			continue
		}
		var paths []string
		for _, fc := range c.Fields {
			paths = append(paths, fc.Path)
			if fc.Path == "mark" && (fc.Before != "" || fc.After != inRecord) {
				t.Errorf("%s: mark %v → %v, want \"\" → %q", c.Address, fc.Before, fc.After, inRecord)
			}
		}
		if !slices.Equal(paths, want) {
			t.Errorf("%s adopts with fields %v, want %v (never a description)", c.Address, paths, want)
		}
	}
	text := render(r.Plan)
	if !strings.Contains(text, `~ mark = "" → "`+inRecord+`"`) {
		t.Errorf("the text plan does not show the mark going into the record:\n%s", text)
	}
	mustApply(t, e, r, gcplayer.ApplyOptions{})
	if again := mustPlan(t, e, f); again.Plan.HasChanges() || len(again.Plan.Conflicts) > 0 {
		t.Fatalf("after the adoption:\n%s", render(again.Plan))
	}
	described := gcloud("compute", "networks", "describe", "asm-vpc-3", "--format=value(description,routingConfig.routingMode)")
	if strings.Fields(described)[len(strings.Fields(described))-1] != "REGIONAL" || !strings.Contains(described, "made by terraform") {
		t.Errorf("the adopted network, as gcloud describes it: %q", described)
	}
	ids := func(name string) string {
		return strings.TrimSpace(gcloud("compute", "networks", "subnets", "describe", name, "--region="+region, "--format=value(id)"))
	}
	netID := strings.TrimSpace(gcloud("compute", "networks", "describe", "asm-vpc-3", "--format=value(id)"))
	rec := adoptionRecord(t, srv, project, f.Metadata.Name)
	if len(rec) != 3 || rec[string(netAddr)] != netID || rec[string(subAddr)] != ids("cluster3") || rec[string(bastionAddr)] != ids("bastion-subnet") {
		t.Fatalf("the adoption record: %v", rec)
	}

	// Deleted by hand and made again: another number, so not the federation's.
	gcloud("compute", "networks", "subnets", "delete", "bastion-subnet", "--region="+region)
	gcloud("compute", "networks", "subnets", "create", "bastion-subnet", "--network=asm-vpc-3", "--region="+region, "--range=10.0.0.0/24",
		"--enable-private-ip-google-access")
	r = mustPlan(t, e, f)
	if len(r.Plan.Conflicts) != 1 || r.Plan.Conflicts[0].Address != bastionAddr {
		t.Fatalf("a subnet made again by hand: conflicts %v\n%s", r.Plan.Conflicts, render(r.Plan))
	}
	if !hasNote(r.Plan, string(bastionAddr), "apply drops it") {
		t.Errorf("the plan does not say the entry is dropped: %v", r.Plan.Notes)
	}

	// Deleted by hand and left: the federation creates it, marked, and drops the entry.
	gcloud("compute", "networks", "subnets", "delete", "bastion-subnet", "--region="+region)
	r = mustPlan(t, e, f)
	if c := changeOf(r.Plan, bastionAddr); c == nil || c.Action != plan.Create || r.Plan.Summary != (plan.Summary{Add: 1}) {
		t.Fatalf("a recorded subnet deleted by hand:\n%s", render(r.Plan))
	}
	mustApply(t, e, r, gcplayer.ApplyOptions{})
	rec = adoptionRecord(t, srv, project, f.Metadata.Name)
	if len(rec) != 2 || rec[string(bastionAddr)] != "" {
		t.Errorf("the record after the subnet was created again: %v", rec)
	}
	desc := strings.TrimSpace(gcloud("compute", "networks", "subnets", "describe", "bastion-subnet", "--region="+region, "--format=value(description)"))
	if !federation.OwnsDescription(desc, f.Metadata.Name) {
		t.Errorf("the subnet the federation made again: description %q", desc)
	}
	if again := mustPlan(t, e, f); again.Plan.HasChanges() || len(again.Plan.Conflicts) > 0 || hasNote(again.Plan, "adoption record") {
		t.Fatalf("after the entry was dropped:\n%s\nnotes %v", render(again.Plan), again.Plan.Notes)
	}

	// Destroy deletes what was adopted like what was created, and the record goes with it.
	d, err := e.PlanDestroy(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []plan.Address{netAddr, subAddr, bastionAddr} {
		if c := changeOf(d.Plan, a); c == nil || c.Action != plan.Delete {
			t.Errorf("destroy does not delete %s: %+v", a, c)
		}
	}
	mustApply(t, e, d, gcplayer.ApplyOptions{AllowDestroy: true})
	if out := gcloud("compute", "networks", "list", "--format=value(name)"); strings.Contains(out, "asm-vpc-3") {
		t.Errorf("the adopted network after destroy: %q", out)
	}
	if rec := adoptionRecord(t, srv, project, f.Metadata.Name); rec != nil {
		t.Errorf("the record after destroy: %v", rec)
	}
}

// hasNote reports whether a note of the plan contains every one of parts.
func hasNote(p *plan.Plan, parts ...string) bool {
	return slices.ContainsFunc(p.Notes, func(n string) bool {
		for _, part := range parts {
			if !strings.Contains(n, part) {
				return false
			}
		}
		return true
	})
}

// A write of the adoption record that Compute Engine refuses fails the adoption's step: the
// network it marks is not the federation's until the record says so.
func TestAdoptionRecordWriteRefused(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	ctx := context.Background()
	gcloud := gcloudOn(t, srv, "asm-multicluster-demo")
	gcloud("compute", "networks", "create", "asm-vpc-3", "--subnet-mode=custom", "--description=made by terraform")
	r, err := e.PlanWith(ctx, load(t, twoCluster), gcplayer.PlanOptions{Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	const set = "Projects/SetCommonInstanceMetadata"
	srv.InjectFault(gcpfake.Fault{Method: set, HTTP: http.StatusForbidden, Message: "injected refusal", Times: 100})
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err == nil {
		err = rep.Err()
	}
	if err == nil || !strings.Contains(err.Error(), "write the adoption record") || !strings.Contains(err.Error(), "injected refusal") {
		t.Fatalf("apply with the record's write refused: %v", err)
	}
	if n := srv.Calls(set); n == 0 {
		t.Errorf("%s was never called", set)
	}
}
