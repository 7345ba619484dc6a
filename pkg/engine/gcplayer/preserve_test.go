package gcplayer_test

import (
	"context"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// An update changes what the tool manages and nothing else: a firewall rule's logging and
// disabled flag set by hand, and a NAT's logging, port allocation and a second NAT added by hand
// to the federation's router, survive an apply that changes the rule's source ranges and the
// router's NATed subnets.
func TestUpdatesKeepWhatTheToolDoesNotManage(t *testing.T) {
	srv := gcpfake.Start(t)
	e := newEngine(t, srv)
	converge(t, e, twoCluster)
	ctx := context.Background()
	const project, region = "asm-multicluster-demo", "us-west2"

	fws, err := compute.NewFirewallsRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer fws.Close()
	rts, err := compute.NewRoutersRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer rts.Close()

	const rule = "asmfed-asm-sample--admin"
	op, err := fws.Patch(ctx, &computepb.PatchFirewallRequest{Project: project, Firewall: rule, FirewallResource: &computepb.Firewall{
		LogConfig: &computepb.FirewallLogConfig{Enable: proto.Bool(true), Metadata: proto.String("INCLUDE_ALL_METADATA")}, Disabled: proto.Bool(false)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	var router *computepb.Router
	it := rts.List(ctx, &computepb.ListRoutersRequest{Project: project, Region: region})
	for r, err := it.Next(); err == nil; r, err = it.Next() {
		router = r
	}
	if router == nil || len(router.GetNats()) != 1 {
		t.Fatalf("want the federation's router with one NAT, got %v", router)
	}
	nats := []*computepb.RouterNat{proto.Clone(router.Nats[0]).(*computepb.RouterNat), {
		Name: proto.String("by-hand"), NatIpAllocateOption: proto.String("AUTO_ONLY"), SourceSubnetworkIpRangesToNat: proto.String("LIST_OF_SUBNETWORKS"),
		Subnetworks: []*computepb.RouterNatSubnetworkToNat{{Name: proto.String("projects/" + project + "/regions/" + region + "/subnetworks/bastion-subnet"),
			SourceIpRangesToNat: []string{"ALL_IP_RANGES"}}}}}
	nats[0].LogConfig = &computepb.RouterNatLogConfig{Enable: proto.Bool(true), Filter: proto.String("ERRORS_ONLY")}
	nats[0].MinPortsPerVm = proto.Int32(256)
	op, err = rts.Patch(ctx, &computepb.PatchRouterRequest{Project: project, Region: region, Router: router.GetName(), RouterResource: &computepb.Router{Nats: nats}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	// A NAT added by hand is not a change to undo.
	f := load(t, twoCluster)
	r, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.HasChanges() {
		t.Fatalf("settings made by hand show as changes:\n%s", render(r.Plan))
	}

	f.Spec.Admin.AuthorizedNetworks[0].CIDR = "10.0.0.0/23"
	f.Spec.Network.CloudNAT.Subnets = []string{"cluster3"}
	r, err = e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]plan.Action{}
	for _, c := range r.Plan.Changes {
		if c.Action != plan.NoOp {
			got[string(c.Address)] = c.Action
		}
	}
	for _, a := range []string{"gcp:projects/" + project + "/global/firewalls/" + rule, "gcp:" + "projects/" + project + "/regions/" + region + "/routers/" + router.GetName()} {
		if got[a] != plan.Update {
			t.Fatalf("%s: %q, want update:\n%s", a, got[a], render(r.Plan))
		}
	}
	srv.ResetCounters()
	rep, err := e.Apply(ctx, r, gcplayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls("Firewalls/Update"); n != 0 {
		t.Errorf("Firewalls/Update called %d times; an update of managed fields is a PATCH", n)
	}

	fw, err := fws.Get(ctx, &computepb.GetFirewallRequest{Project: project, Firewall: rule})
	if err != nil {
		t.Fatal(err)
	}
	if got := fw.GetSourceRanges(); len(got) != 1 || got[0] != "10.0.0.0/23" {
		t.Errorf("source ranges %v, want [10.0.0.0/23]", got)
	}
	if !fw.GetLogConfig().GetEnable() || fw.GetLogConfig().GetMetadata() != "INCLUDE_ALL_METADATA" || fw.Disabled == nil || fw.GetDisabled() {
		t.Errorf("settings made by hand lost: logConfig %v, disabled %v", fw.GetLogConfig(), fw.Disabled)
	}

	rt, err := rts.Get(ctx, &computepb.GetRouterRequest{Project: project, Region: region, Router: router.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.GetNats()) != 2 {
		t.Fatalf("router NATs after the update: %v", rt.GetNats())
	}
	var ours, hand *computepb.RouterNat
	for _, n := range rt.GetNats() {
		if n.GetName() == "by-hand" {
			hand = n
		} else {
			ours = n
		}
	}
	if hand == nil || len(hand.GetSubnetworks()) != 1 {
		t.Errorf("the NAT added by hand was changed: %v", hand)
	}
	if ours == nil || len(ours.GetSubnetworks()) != 1 || !ours.GetLogConfig().GetEnable() || ours.GetLogConfig().GetFilter() != "ERRORS_ONLY" || ours.GetMinPortsPerVm() != 256 {
		t.Errorf("the federation's NAT after the update: %v", ours)
	}
	again, err := e.Plan(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render(again.Plan))
	}
}
