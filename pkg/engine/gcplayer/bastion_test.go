package gcplayer_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// The bastion sample's VM and IAP rule.
const (
	multiProject   = "../../../samples/multi-project-shared-vpc/federation.yaml"
	bastionProject = "retail-net-host"
	bastionZone    = "us-central1-a"
	bastionName    = "mesh-bastion"
	bastionAddr    = plan.Address("gcp:projects/retail-net-host/zones/us-central1-a/instances/mesh-bastion")
	iapRule        = "asmfed-retail-mesh--iap-ssh"
	iapRuleAddr    = plan.Address("gcp:projects/retail-net-host/global/firewalls/" + iapRule)
	bastionTag     = "asmfed-retail-mesh--bastion"
	sshCommand     = "gcloud compute ssh mesh-bastion --zone us-central1-a --project retail-net-host --tunnel-through-iap"
)

func instancesClient(t *testing.T, srv *gcpfake.Server) *compute.InstancesClient {
	t.Helper()
	c, err := compute.NewInstancesRESTClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func getBastion(t *testing.T, vms *compute.InstancesClient) *computepb.Instance {
	t.Helper()
	in, err := vms.Get(context.Background(), &computepb.GetInstanceRequest{Project: bastionProject, Zone: bastionZone, Instance: bastionName})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func changeOf(p *plan.Plan, addr plan.Address) *plan.Change {
	for i := range p.Changes {
		if p.Changes[i].Address == addr {
			return &p.Changes[i]
		}
	}
	return nil
}

func mustApply(t *testing.T, e *gcplayer.Layer, r *gcplayer.CloudPlan, opts gcplayer.ApplyOptions) {
	t.Helper()
	rep, err := e.Apply(context.Background(), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
}

func mustPlan(t *testing.T, e *gcplayer.Layer, f *v1alpha1.Federation) *gcplayer.CloudPlan {
	t.Helper()
	r, err := e.Plan(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The bastion sample creates the VM as the reference does, and the IAP SSH rule; the plan says
// how to reach the VM; destroy removes both.
func TestBastionPlanApplyDestroy(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	vms := instancesClient(t, srv)
	ctx := context.Background()
	f := load(t, multiProject)

	r := mustPlan(t, e, f)
	vm, rule := changeOf(r.Plan, bastionAddr), changeOf(r.Plan, iapRuleAddr)
	if vm == nil || vm.Action != plan.Create || rule == nil || rule.Action != plan.Create {
		t.Fatalf("the first plan does not create the bastion and its IAP rule:\n%s", render(r.Plan))
	}
	if !strings.Contains(vm.Reason, "`"+sshCommand+"`") || !strings.Contains(rule.Reason, sshCommand) {
		t.Errorf("the reasons do not give the ssh command:\nVM: %s\nrule: %s", vm.Reason, rule.Reason)
	}
	if !strings.Contains(render(r.Plan), sshCommand) {
		t.Error("the rendered plan does not show the ssh command")
	}
	mustApply(t, e, r, gcplayer.ApplyOptions{})

	in := getBastion(t, vms)
	nic := in.GetNetworkInterfaces()[0]
	got := map[string]any{
		"status":      in.GetStatus(),
		"machineType": in.GetMachineType()[strings.LastIndex(in.GetMachineType(), "/")+1:],
		"subnetwork":  nic.GetSubnetwork(),
		"networkIP":   nic.GetNetworkIP(),
		"external":    len(nic.GetAccessConfigs()),
		"shielded":    []bool{in.GetShieldedInstanceConfig().GetEnableSecureBoot(), in.GetShieldedInstanceConfig().GetEnableVtpm(), in.GetShieldedInstanceConfig().GetEnableIntegrityMonitoring()},
		"metadata":    len(in.GetMetadata().GetItems()),
		"osLogin":     in.GetMetadata().GetItems()[0].GetKey() + "=" + in.GetMetadata().GetItems()[0].GetValue(),
		"tags":        in.GetTags().GetItems(),
		"labels":      in.GetLabels(),
		"accounts":    len(in.GetServiceAccounts()),
		"image":       in.GetDisks()[0].GetBoot(),
	}
	want := map[string]any{
		"status":      "RUNNING",
		"machineType": "e2-small",
		"subnetwork":  "https://www.googleapis.com/compute/v1/projects/retail-net-host/regions/us-central1/subnetworks/admin",
		"networkIP":   "10.10.0.3",
		"external":    0,
		"shielded":    []bool{true, true, true},
		"metadata":    1,
		"osLogin":     "enable-oslogin=TRUE",
		"tags":        []string{bastionTag},
		"labels":      map[string]string{"managed-by": "asmfed", "asmfed-federation": "retail-mesh"},
		"accounts":    0,
		"image":       true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the bastion VM (-want +got):\n%s", diff)
	}
	clients, err := gcp.New(ctx, gcp.Config{Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	fw, err := clients.Firewall(ctx, bastionProject, iapRule)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fw.GetSourceRanges(), []string{"35.235.240.0/20"}) || !slices.Equal(fw.GetTargetTags(), []string{bastionTag}) ||
		len(fw.GetAllowed()) != 1 || fw.GetAllowed()[0].GetIPProtocol() != "tcp" || !slices.Equal(fw.GetAllowed()[0].GetPorts(), []string{"22"}) {
		t.Errorf("IAP rule: sources %v, targets %v, allowed %v", fw.GetSourceRanges(), fw.GetTargetTags(), fw.GetAllowed())
	}
	if again := mustPlan(t, e, f); again.Plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render(again.Plan))
	}

	// Destroy deletes the VM before its subnet (the simulator refuses a subnet a VM is on).
	d, err := e.PlanDestroy(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []plan.Address{bastionAddr, iapRuleAddr} {
		if c := changeOf(d.Plan, addr); c == nil || c.Action != plan.Delete {
			t.Errorf("destroy does not delete %s: %+v", addr, c)
		}
	}
	mustApply(t, e, d, gcplayer.ApplyOptions{AllowDestroy: true})
	if _, err := vms.Get(ctx, &computepb.GetInstanceRequest{Project: bastionProject, Zone: bastionZone, Instance: bastionName}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("the bastion after destroy: %v", err)
	}
	if _, err := clients.Firewall(ctx, bastionProject, iapRule); !gcp.IsKind(err, gcp.KindNotFound) {
		t.Errorf("the IAP rule after destroy: %v", err)
	}
	for _, name := range inventory(t, srv, bastionProject) {
		if strings.HasPrefix(name, "subnet admin") || strings.Contains(name, "retail") {
			t.Errorf("left after destroy: %s", name)
		}
	}
}

// Drift is put back: an external address added by hand is deleted in place and a deleted IAP
// rule created again, without touching the rest of the VM.
func TestBastionDrift(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	vms := instancesClient(t, srv)
	ctx := context.Background()
	converge(t, e, multiProject)
	before := getBastion(t, vms)

	op, err := vms.AddAccessConfig(ctx, &computepb.AddAccessConfigInstanceRequest{Project: bastionProject, Zone: bastionZone, Instance: bastionName,
		NetworkInterface: "nic0", AccessConfigResource: &computepb.AccessConfig{Name: proto.String("External NAT")}})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	clients, err := gcp.New(ctx, gcp.Config{Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	if err := clients.DeleteFirewall(ctx, bastionProject, iapRule, nil); err != nil {
		t.Fatal(err)
	}

	r := mustPlan(t, e, load(t, multiProject))
	vm, rule := changeOf(r.Plan, bastionAddr), changeOf(r.Plan, iapRuleAddr)
	if vm == nil || vm.Action != plan.Update || len(vm.Fields) != 1 || vm.Fields[0].Path != "externalAddress" || vm.ActionReason != "" {
		t.Errorf("an external address added by hand: %+v, want an update of externalAddress alone, without a restart", vm)
	}
	if rule == nil || rule.Action != plan.Create {
		t.Errorf("a deleted IAP rule: %+v, want a create", rule)
	}
	if n := r.Plan.Summary.Add + r.Plan.Summary.Change + r.Plan.Summary.Replace + r.Plan.Summary.Destroy; n != 2 {
		t.Errorf("%d changes, want 2:\n%s", n, render(r.Plan))
	}
	srv.ResetCounters()
	mustApply(t, e, r, gcplayer.ApplyOptions{})
	for _, m := range []string{"Instances/Insert", "Instances/Delete", "Instances/Stop"} {
		if n := srv.Calls(m); n != 0 {
			t.Errorf("putting the drift back called %s %d times", m, n)
		}
	}
	after := getBastion(t, vms)
	if ac := after.GetNetworkInterfaces()[0].GetAccessConfigs(); len(ac) != 0 {
		t.Errorf("access configs after apply: %v", ac)
	}
	if after.GetId() != before.GetId() || after.GetNetworkInterfaces()[0].GetNetworkIP() != "10.10.0.3" {
		t.Errorf("the VM was replaced: id %d → %d, address %s", before.GetId(), after.GetId(), after.GetNetworkInterfaces()[0].GetNetworkIP())
	}
	if again := mustPlan(t, e, load(t, multiProject)); again.Plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render(again.Plan))
	}
}

// A machine type change stops the VM, sets the type and starts it again, keeping the VM (its
// disk and address); a new static address replaces it.
func TestBastionChanges(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	vms := instancesClient(t, srv)
	converge(t, e, multiProject)
	before := getBastion(t, vms)

	f := load(t, multiProject)
	f.Spec.Admin.Bastion.MachineType = "e2-medium"
	f.Spec.Admin.Bastion.ServiceAccount = "bastion@retail-net-host.iam.gserviceaccount.com"
	r := mustPlan(t, e, f)
	vm := changeOf(r.Plan, bastionAddr)
	if vm == nil || vm.Action != plan.Update || !strings.Contains(vm.ActionReason, "stops it") {
		t.Fatalf("a machine type and service account change: %+v, want an update that says it stops the VM", vm)
	}
	srv.ResetCounters()
	mustApply(t, e, r, gcplayer.ApplyOptions{})
	var calls []string
	for _, entry := range srv.RequestLog() {
		if strings.Contains(entry.Path, "/instances/"+bastionName) && entry.HTTP != http.MethodGet {
			calls = append(calls, entry.HTTP+" "+entry.Path[strings.LastIndex(entry.Path, "/")+1:])
		}
	}
	wantCalls := []string{"POST stop", "POST setMachineType", "POST setServiceAccount", "POST start"}
	if diff := cmp.Diff(wantCalls, calls); diff != "" {
		t.Errorf("calls on the VM (-want +got):\n%s", diff)
	}
	after := getBastion(t, vms)
	if after.GetId() != before.GetId() || after.GetStatus() != "RUNNING" || !strings.HasSuffix(after.GetMachineType(), "/e2-medium") ||
		len(after.GetServiceAccounts()) != 1 || after.GetServiceAccounts()[0].GetEmail() != "bastion@retail-net-host.iam.gserviceaccount.com" {
		t.Errorf("after the change: id %d (was %d), status %s, type %s, accounts %v", after.GetId(), before.GetId(), after.GetStatus(), after.GetMachineType(), after.GetServiceAccounts())
	}
	if again := mustPlan(t, e, f); again.Plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render(again.Plan))
	}

	f.Spec.Admin.Bastion.InternalIP = "10.10.0.4"
	r = mustPlan(t, e, f)
	if vm := changeOf(r.Plan, bastionAddr); vm == nil || vm.Action != plan.Replace || !strings.Contains(vm.ActionReason, "networkIP") {
		t.Fatalf("a new static address: %+v, want a replacement", vm)
	}
	mustApply(t, e, r, gcplayer.ApplyOptions{})
	if ip := getBastion(t, vms).GetNetworkInterfaces()[0].GetNetworkIP(); ip != "10.10.0.4" {
		t.Errorf("address after the replacement: %s", ip)
	}

	// Without a bastion in the file, the VM and its rule are the federation's to delete.
	f.Spec.Admin.Bastion = nil
	r = mustPlan(t, e, f)
	for _, addr := range []plan.Address{bastionAddr, iapRuleAddr} {
		if c := changeOf(r.Plan, addr); c == nil || c.Action != plan.Delete {
			t.Errorf("bastion removed from the file: %s %+v, want a delete", addr, c)
		}
	}
}

// A VM of the bastion's name without the federation's labels is a conflict: apply refuses, and
// nothing writes to it, neither apply nor destroy. One made between plan and apply makes the
// create fail, naming it, and is left as it is.
func TestBastionOwnership(t *testing.T) {
	ctx := context.Background()
	foreign := func(t *testing.T, srv *gcpfake.Server) {
		t.Helper()
		vms := instancesClient(t, srv)
		op, err := vms.Insert(ctx, &computepb.InsertInstanceRequest{Project: bastionProject, Zone: bastionZone, InstanceResource: &computepb.Instance{
			Name: proto.String(bastionName), MachineType: proto.String("zones/" + bastionZone + "/machineTypes/n1-standard-2"),
			NetworkInterfaces: []*computepb.NetworkInterface{{Subnetwork: proto.String("projects/retail-net-host/regions/us-central1/subnetworks/admin"),
				AccessConfigs: []*computepb.AccessConfig{{Name: proto.String("External NAT")}}}},
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String("projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts")}}},
			Labels: map[string]string{"team": "someone-else"}}})
		if err == nil {
			err = op.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	untouched := func(t *testing.T, srv *gcpfake.Server) {
		t.Helper()
		for _, entry := range srv.RequestLog() {
			if strings.Contains(entry.Path, "/instances/"+bastionName) && entry.HTTP != http.MethodGet {
				t.Errorf("wrote the foreign VM: %s %s", entry.HTTP, entry.Path)
			}
		}
		in := getBastion(t, instancesClient(t, srv))
		if in.GetLabels()["team"] != "someone-else" || len(in.GetNetworkInterfaces()[0].GetAccessConfigs()) != 1 || !strings.HasSuffix(in.GetMachineType(), "/n1-standard-2") {
			t.Errorf("the foreign VM changed: %v", in)
		}
	}

	t.Run("found by the plan", func(t *testing.T) {
		srv := gcpfake.Start(t)
		e := newEngine(t, srv)
		f := load(t, multiProject)
		// The network and the subnet first, as the federation makes them, then the VM.
		first := mustPlan(t, e, f)
		applyOnly(t, e, first, plan.KindAPI, plan.KindNetwork)
		applyOnly(t, e, first, plan.KindSubnetwork)
		foreign(t, srv)
		srv.ResetCounters()
		r := mustPlan(t, e, f)
		var conflict bool
		for _, c := range r.Plan.Conflicts {
			conflict = conflict || c.Address == bastionAddr
		}
		if !conflict || changeOf(r.Plan, bastionAddr) != nil {
			t.Fatalf("a foreign VM of the bastion's name: conflicts %+v, change %+v", r.Plan.Conflicts, changeOf(r.Plan, bastionAddr))
		}
		if _, err := e.Apply(ctx, r, gcplayer.ApplyOptions{AllowDestroy: true}); err == nil {
			t.Error("apply over a conflict went ahead")
		}
		d, err := e.PlanDestroy(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if c := changeOf(d.Plan, bastionAddr); c != nil {
			t.Errorf("destroy plans %s for a VM it does not own", c.Action)
		}
		untouched(t, srv)
	})

	t.Run("made between plan and apply", func(t *testing.T) {
		srv := gcpfake.Start(t)
		e := newEngine(t, srv)
		f := load(t, multiProject)
		r := mustPlan(t, e, f)
		applyOnly(t, e, r, plan.KindAPI, plan.KindNetwork)
		applyOnly(t, e, r, plan.KindSubnetwork)
		foreign(t, srv)
		srv.ResetCounters()
		rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res := statusOf(rep, "/instances/"+bastionName)
		if res.Status != plan.StatusFailed || !strings.Contains(res.Error, "without the federation's mark") {
			t.Errorf("create over a VM made meanwhile: %+v, want a failure naming the missing mark", res)
		}
		for _, entry := range srv.RequestLog() {
			if strings.HasSuffix(entry.Path, "/zones/"+bastionZone+"/instances") && entry.HTTP == http.MethodPost {
				continue // the create that found it
			}
			if strings.Contains(entry.Path, "/instances/"+bastionName) && entry.HTTP != http.MethodGet {
				t.Errorf("wrote the foreign VM: %s %s", entry.HTTP, entry.Path)
			}
		}
		in := getBastion(t, instancesClient(t, srv))
		if in.GetLabels()["team"] != "someone-else" || len(in.GetNetworkInterfaces()[0].GetAccessConfigs()) != 1 {
			t.Errorf("the foreign VM changed: %v", in)
		}
	})
}

// An apply interrupted while the VM is being created leaves its zonal operation running: the next
// plan finds it, Resume waits for it, and the VM is created once.
func TestBastionCreateLeftRunningIsResumed(t *testing.T) {
	clock := gcpfake.NewFakeClock(time.Now())
	const hold = 24 * time.Hour
	srv := gcpfake.Start(t, gcpfake.WithClock(clock), gcpfake.WithLatency(&gcpfake.Latency{Op: map[string]time.Duration{"Instances/Insert": hold}}))
	e := newEngine(t, srv)
	f := load(t, multiProject)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for srv.Calls("Instances/Insert") == 0 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := e.Apply(ctx, mustPlan(t, e, f), gcplayer.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.SetLatency(nil)

	r := mustPlan(t, e, f)
	var pending *gcplayer.Pending
	for i := range r.Pending {
		if r.Pending[i].Address == bastionAddr {
			pending = &r.Pending[i]
		}
	}
	if pending == nil || pending.Operation == nil || pending.Operation.Scope != "zones/"+bastionZone {
		t.Fatalf("the VM's create left running is not pending: %+v (notes %q)", r.Pending, r.Plan.Notes)
	}
	done := make(chan error, 1)
	go func() {
		rep, err := e.Resume(context.Background(), r, gcplayer.ResumeOptions{PollInterval: 5 * time.Millisecond})
		if err == nil {
			err = rep.Err()
		}
		done <- err
	}()
	for srv.Calls("ZoneOperations/Get") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	clock.Advance(2 * hold)
	if err := <-done; err != nil {
		t.Fatalf("resume: %v", err)
	}
	converge(t, e, multiProject)
	if n := srv.Calls("Instances/Insert"); n != 1 {
		t.Errorf("the VM was inserted %d times, want once", n)
	}
}
