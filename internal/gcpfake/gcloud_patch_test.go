package gcpfake_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// A network's and a subnetwork's description are set when they are created: networks.patch
// modifies only the routing configuration (and the MTU), and subnetworks.patch refuses the
// fields its reference says "can be set only at resource creation time". gcloud has no flag that
// sends a description in either patch, so the refusal is checked through the official Go client,
// as a program would call it, against Compute Engine's 400 and wording; the updates gcloud does
// have keep working.
func TestPatchKeepsCreationOnlyFields(t *testing.T) {
	srv := gcpfake.Start(t)
	g := newGcloud(t, srv)
	for _, args := range [][]string{
		{"compute", "networks", "create", "vpc", "--subnet-mode=custom", "--description=made by terraform"},
		{"compute", "networks", "subnets", "create", "nodes", "--network=vpc", "--region=us-west2", "--range=10.0.0.0/20",
			"--secondary-range=pods=10.4.0.0/14", "--description=made by terraform"},
	} {
		if r := g.run(t, args...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}

	// What gcloud can change, it changes, and the descriptions stay.
	g.ok(t, "compute", "networks", "update", "vpc", "--bgp-routing-mode=global", "--quiet")
	v := g.ok(t, "compute", "networks", "describe", "vpc")
	want(t, v, "routingConfig.routingMode", "GLOBAL")
	want(t, v, "description", "made by terraform")
	g.ok(t, "compute", "networks", "subnets", "update", "nodes", "--region=us-west2", "--add-secondary-ranges=services=10.8.0.0/20")
	g.ok(t, "compute", "networks", "subnets", "update", "nodes", "--region=us-west2", "--enable-private-ip-google-access")
	v = g.ok(t, "compute", "networks", "subnets", "describe", "nodes", "--region=us-west2")
	want(t, v, "privateIpGoogleAccess", true)
	want(t, v, "secondaryIpRanges.1.rangeName", "services")
	want(t, v, "description", "made by terraform")

	ctx := context.Background()
	nets, err := compute.NewNetworksRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer nets.Close()
	subs, err := compute.NewSubnetworksRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer subs.Close()

	_, err = nets.Patch(ctx, &computepb.PatchNetworkRequest{Project: "demo", Network: "vpc",
		NetworkResource: &computepb.Network{Description: proto.String("managed-by=asmfed federation=prod")}})
	wantInvalid(t, err, "Invalid value for field 'resource.description': 'managed-by=asmfed federation=prod'. Updating this field is not supported.")
	_, err = nets.Patch(ctx, &computepb.PatchNetworkRequest{Project: "demo", Network: "vpc",
		NetworkResource: &computepb.Network{AutoCreateSubnetworks: proto.Bool(true)}})
	wantInvalid(t, err, "Invalid value for field 'resource.autoCreateSubnetworks': 'true'. Updating this field is not supported.")
	// The routing mode alone, as the reference says.
	op, err := nets.Patch(ctx, &computepb.PatchNetworkRequest{Project: "demo", Network: "vpc",
		NetworkResource: &computepb.Network{RoutingConfig: &computepb.NetworkRoutingConfig{RoutingMode: proto.String("REGIONAL")}}})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		t.Fatalf("patch of the routing mode: %v", err)
	}

	sn, err := subs.Get(ctx, &computepb.GetSubnetworkRequest{Project: "demo", Region: "us-west2", Subnetwork: "nodes"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = subs.Patch(ctx, &computepb.PatchSubnetworkRequest{Project: "demo", Region: "us-west2", Subnetwork: "nodes",
		SubnetworkResource: &computepb.Subnetwork{Fingerprint: sn.Fingerprint, Description: proto.String("managed-by=asmfed federation=prod")}})
	wantInvalid(t, err, "The following field(s) specified in the request cannot be modified: [description]")
	_, err = subs.Patch(ctx, &computepb.PatchSubnetworkRequest{Project: "demo", Region: "us-west2", Subnetwork: "nodes",
		SubnetworkResource: &computepb.Subnetwork{Fingerprint: sn.Fingerprint, Network: proto.String("projects/demo/global/networks/other")}})
	wantInvalid(t, err, "cannot be modified: [network]")

	after := g.ok(t, "compute", "networks", "describe", "vpc")
	want(t, after, "description", "made by terraform")
	want(t, after, "routingConfig.routingMode", "REGIONAL")
	want(t, g.ok(t, "compute", "networks", "subnets", "describe", "nodes", "--region=us-west2"), "description", "made by terraform")
}

// wantInvalid checks a Compute Engine refusal of a request: HTTP 400, reason invalid, and msg in
// its message.
func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("want a 400 with %q, got %v", msg, err)
	}
	if ge.Code != 400 || len(ge.Errors) == 0 || ge.Errors[0].Reason != "invalid" || !strings.Contains(ge.Message, msg) {
		t.Fatalf("want a 400 invalid with %q, got %d %+v: %s", msg, ge.Code, ge.Errors, ge.Message)
	}
}
