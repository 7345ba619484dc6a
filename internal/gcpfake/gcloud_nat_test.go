package gcpfake_test

import (
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// Cloud NAT allows one NAT per subnet range: a second NAT, on another router of the same network
// and region, for a subnetwork the first one already NATs whole, is refused with Compute
// Engine's error, while one for another subnetwork is accepted; and no NAT comes after one that
// NATs every subnetwork. The reference's asm-nat3 covers cluster3 and cluster4 this way, which
// is why the federation adopts it instead of creating its own.
func TestGcloudOneNATPerSubnetRange(t *testing.T) {
	srv := gcpfake.Start(t)
	g := newGcloud(t, srv)
	for _, args := range [][]string{
		{"compute", "networks", "create", "vpc", "--subnet-mode=custom"},
		{"compute", "networks", "subnets", "create", "cluster3", "--network=vpc", "--region=us-west2", "--range=10.184.19.0/24"},
		{"compute", "networks", "subnets", "create", "cluster4", "--network=vpc", "--region=us-west2", "--range=10.184.20.0/24"},
		{"compute", "networks", "subnets", "create", "bastion", "--network=vpc", "--region=us-west2", "--range=10.0.0.0/24"},
		{"compute", "routers", "create", "asm-router3", "--network=vpc", "--region=us-west2"},
		{"compute", "routers", "create", "second", "--network=vpc", "--region=us-west2"},
		{"compute", "routers", "nats", "create", "asm-nat3", "--router=asm-router3", "--region=us-west2",
			"--auto-allocate-nat-external-ips", "--nat-custom-subnet-ip-ranges=cluster3,cluster4"},
	} {
		if r := g.run(t, args...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	// On another router of the network, for the primary range of a subnetwork asm-nat3 covers
	// (--nat-custom-subnet-ip-ranges=NAME is the primary range).
	g.fails(t, "Invalid value for field 'resource.nats[0].subnetworks[0].sourceIpRangesToNat[0]': 'PRIMARY_IP_RANGE'. Can not specify PRIMARY_IP_RANGE for the Subnetwork since it is already configured for Nat with the option PRIMARY_IP_RANGE.",
		"compute", "routers", "nats", "create", "again", "--router=second", "--region=us-west2",
		"--auto-allocate-nat-external-ips", "--nat-custom-subnet-ip-ranges=cluster4")
	// On the same router, likewise.
	g.fails(t, "Can not specify PRIMARY_IP_RANGE for the Subnetwork since it is already configured for Nat with the option PRIMARY_IP_RANGE.",
		"compute", "routers", "nats", "create", "again", "--router=asm-router3", "--region=us-west2",
		"--auto-allocate-nat-external-ips", "--nat-custom-subnet-ip-ranges=cluster3")
	// A subnetwork no NAT covers yet is fine: all its ranges (NAME:ALL).
	if r := g.run(t, "compute", "routers", "nats", "create", "bastion-nat", "--router=second", "--region=us-west2",
		"--auto-allocate-nat-external-ips", "--nat-custom-subnet-ip-ranges=bastion:ALL"); r.code != 0 {
		t.Fatalf("a NAT of a subnetwork nothing NATs: exit %d\n%s", r.code, r.stderr)
	}
	v := g.ok(t, "compute", "routers", "describe", "second", "--region=us-west2")
	want(t, v, "nats.0.name", "bastion-nat")
	want(t, v, "nats.0.subnetworks.0.sourceIpRangesToNat.0", "ALL_IP_RANGES")
	// After ALL_IP_RANGES, nothing else of that subnetwork.
	g.fails(t, "The subnetwork is already configured with ALL_IP_RANGES for Nat which conflicts with the specified IpRangeToNatOption options in this Nat.",
		"compute", "routers", "nats", "create", "bastion-again", "--router=asm-router3", "--region=us-west2",
		"--auto-allocate-nat-external-ips", "--nat-custom-subnet-ip-ranges=bastion")

	// Once one NAT covers every subnetwork of the network in the region, no other is created.
	if r := g.run(t, "compute", "networks", "create", "flat", "--subnet-mode=custom"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, args := range [][]string{
		{"compute", "networks", "subnets", "create", "flat-a", "--network=flat", "--region=us-west2", "--range=10.9.0.0/24"},
		{"compute", "routers", "create", "flat-1", "--network=flat", "--region=us-west2"},
		{"compute", "routers", "create", "flat-2", "--network=flat", "--region=us-west2"},
		{"compute", "routers", "nats", "create", "all", "--router=flat-1", "--region=us-west2", "--auto-allocate-nat-external-ips", "--nat-all-subnet-ip-ranges"},
	} {
		if r := g.run(t, args...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	g.fails(t, "Can not create new Nats since a Nat with option ALL_SUBNETWORKS_ALL_IP_RANGES exists.",
		"compute", "routers", "nats", "create", "more", "--router=flat-2", "--region=us-west2",
		"--auto-allocate-nat-external-ips", "--nat-custom-subnet-ip-ranges=flat-a")
}
