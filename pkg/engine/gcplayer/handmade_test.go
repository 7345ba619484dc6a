package gcplayer

import (
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

func rule(name, description string, sources, tags []string, allowed ...string) *computepb.Firewall {
	fw := &computepb.Firewall{Name: proto.String(name), Network: proto.String("projects/p/global/networks/asm-vpc-3"),
		Direction: proto.String("INGRESS"), SourceRanges: sources, TargetTags: tags, Description: proto.String(description)}
	for _, a := range allowed {
		proto, ports, _ := strings.Cut(a, ":")
		al := &computepb.Allowed{IPProtocol: &proto}
		if ports != "" {
			al.Ports = strings.Split(ports, ",")
		}
		fw.Allowed = append(fw.Allowed, al)
	}
	return fw
}

// The reference's hand-made rules beside the rules the two-cluster sample derives: those whose
// every flow a derived rule allows are redundant, naming it; one that opens more says what; the
// federation's own rules, rules of other networks and rules of other nodes are not reported.
func TestHandMadeRules(t *testing.T) {
	cp, tags := []string{"192.168.2.0/28", "192.168.3.0/28"}, []string{"cluster3", "cluster4"}
	mark := federation.DescriptionMarker("asm-sample") + ": derived"
	derived := []*computepb.Firewall{
		rule("asmfed-asm-sample--webhooks", mark, cp, tags, "tcp:15017,8443,9443"),
		rule("asmfed-asm-sample--admin", mark, []string{"10.0.0.0/24"}, tags, "tcp"),
		rule("asmfed-asm-sample--mesh-from-cluster3", mark, []string{"10.185.128.0/18"}, []string{"cluster4"}, "all"),
		rule("asmfed-asm-sample--mesh-from-cluster4", mark, []string{"10.185.192.0/18"}, []string{"cluster3"}, "all"),
	}
	var desired []*object
	for _, fw := range derived {
		desired = append(desired, &object{res: plan.Resource{Kind: plan.KindFirewall}, msg: fw})
	}
	d := &federation.Desired{Network: federation.Network{Name: "asm-vpc-3"},
		Clusters: []federation.ClusterDesired{{Name: "cluster3", NodeTags: []string{"cluster3"}}, {Name: "cluster4", NodeTags: []string{"cluster4"}}}}
	other := rule("elsewhere", "", []string{"0.0.0.0/0"}, nil, "tcp:22")
	other.Network = proto.String("projects/p/global/networks/default")
	live := append(append([]*computepb.Firewall{}, derived...),
		rule("asm-ports-15017-9443-vpc3", "", cp, tags, "tcp:15017,9443"),
		rule("asm-ports-8443-vpc3", "", cp, tags, "tcp:8443"),
		rule("asm-gce-to-vpc3-clusters-all", "", []string{"10.0.0.0/24"}, tags, "tcp"),
		rule("asm-from-cluster3-to-cluster4", "", []string{"10.185.128.0/18"}, []string{"cluster4"}, "tcp:9555,7070,7000,5000,3550,8080,50051,5050"),
		rule("ssh-from-anywhere", "", []string{"10.0.0.0/24", "0.0.0.0/0"}, []string{"cluster3"}, "tcp:22"),
		rule("to-cluster4-from-cluster3-subnet", "", []string{"10.185.128.0/17"}, []string{"cluster4"}, "udp:53"),
		rule("bastion-only", "", []string{"0.0.0.0/0"}, []string{"bastion"}, "tcp:22"),
		other,
	)
	got := handMadeRules(desired, live, d)
	want := []string{
		"firewall rule asm-ports-15017-9443-vpc3, made without the tool, allows nothing to the federation's nodes that asmfed-asm-sample--webhooks does not",
		"firewall rule asm-ports-8443-vpc3, made without the tool, allows nothing to the federation's nodes that asmfed-asm-sample--webhooks does not",
		"firewall rule asm-gce-to-vpc3-clusters-all, made without the tool, allows nothing to the federation's nodes that asmfed-asm-sample--admin does not",
		"firewall rule asm-from-cluster3-to-cluster4, made without the tool, allows nothing to the federation's nodes that asmfed-asm-sample--mesh-from-cluster3 does not",
		"firewall rule ssh-from-anywhere, made without the tool, opens more to the federation's nodes than the federation needs: tcp:22 from 0.0.0.0/0 to tag cluster3 (the rest is covered by asmfed-asm-sample--admin)",
		"firewall rule to-cluster4-from-cluster3-subnet, made without the tool, opens more to the federation's nodes than the federation needs: udp:53 from 10.185.128.0/17 to tag cluster4;",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d reports, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("report %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
	if !strings.Contains(got[0], "gcloud compute firewall-rules delete asm-ports-15017-9443-vpc3") || !strings.Contains(got[0], "the tool never deletes it") {
		t.Errorf("a redundant rule's report has no suggestion: %s", got[0])
	}
}

// A router and NAT that already NAT the federation's subnets stand in for the router the model
// wants; subnets split between two NATs are a warning; a router of the model's name is its own.
func TestSameFunctionRouters(t *testing.T) {
	sub := func(name string) *computepb.RouterNatSubnetworkToNat {
		return &computepb.RouterNatSubnetworkToNat{Name: proto.String("https://www.googleapis.com/compute/v1/projects/p/regions/us-west2/subnetworks/" + name),
			SourceIpRangesToNat: []string{"PRIMARY_IP_RANGE"}}
	}
	liveRouter := func(name string, nats ...*computepb.RouterNat) *computepb.Router {
		return &computepb.Router{Name: proto.String(name), Network: proto.String("https://www.googleapis.com/compute/v1/projects/p/global/networks/asm-vpc-3"),
			Region: proto.String("https://www.googleapis.com/compute/v1/projects/p/regions/us-west2"), Nats: nats,
			SelfLink: proto.String("https://www.googleapis.com/compute/v1/projects/p/regions/us-west2/routers/" + name)}
	}
	nat := func(name string, subs ...string) *computepb.RouterNat {
		n := &computepb.RouterNat{Name: proto.String(name), SourceSubnetworkIpRangesToNat: proto.String("LIST_OF_SUBNETWORKS"), NatIpAllocateOption: proto.String("AUTO_ONLY")}
		for _, s := range subs {
			n.Subnetworks = append(n.Subnetworks, sub(s))
		}
		return n
	}
	wanted := func() []*object {
		r := &computepb.Router{Name: proto.String("asmfed-x--router-us-west2"), Network: proto.String("projects/p/global/networks/asm-vpc-3"),
			Nats: []*computepb.RouterNat{{Name: proto.String("asmfed-x--nat-us-west2"), SourceSubnetworkIpRangesToNat: proto.String("LIST_OF_SUBNETWORKS"),
				Subnetworks: []*computepb.RouterNatSubnetworkToNat{
					{Name: proto.String("projects/p/regions/us-west2/subnetworks/cluster3")}, {Name: proto.String("projects/p/regions/us-west2/subnetworks/cluster4")}}}}}
		return []*object{{res: plan.Resource{Address: plan.RouterAddress("p", "us-west2", r.GetName()), Kind: plan.KindRouter, Fields: routerFields(r, nil)},
			msg: r, project: "p", location: "us-west2"}}
	}
	tests := []struct {
		name        string
		live        []*computepb.Router
		wantAddress plan.Address
		wantNat     string
		wantWarning bool
	}{
		{name: "no router: the model's", wantAddress: plan.RouterAddress("p", "us-west2", "asmfed-x--router-us-west2"), wantNat: "asmfed-x--nat-us-west2"},
		{name: "the reference's asm-nat3 stands in", live: []*computepb.Router{liveRouter("asm-router3", nat("asm-nat3", "cluster3", "cluster4"))},
			wantAddress: plan.RouterAddress("p", "us-west2", "asm-router3"), wantNat: "asm-nat3"},
		{name: "a NAT of one of the subnets stands in too (the other is added in place)", live: []*computepb.Router{liveRouter("r", nat("n", "cluster4"))},
			wantAddress: plan.RouterAddress("p", "us-west2", "r"), wantNat: "n"},
		{name: "a NAT of other subnets does not", live: []*computepb.Router{liveRouter("r", nat("n", "bastion"))},
			wantAddress: plan.RouterAddress("p", "us-west2", "asmfed-x--router-us-west2"), wantNat: "asmfed-x--nat-us-west2"},
		{name: "split between two NATs: a warning", live: []*computepb.Router{liveRouter("a", nat("n3", "cluster3")), liveRouter("b", nat("n4", "cluster4"))},
			wantAddress: plan.RouterAddress("p", "us-west2", "asmfed-x--router-us-west2"), wantNat: "asmfed-x--nat-us-west2", wantWarning: true},
		{name: "the model's own router exists: it stays", live: []*computepb.Router{liveRouter("asmfed-x--router-us-west2", nat("asmfed-x--nat-us-west2", "cluster3")), liveRouter("r", nat("n", "cluster4"))},
			wantAddress: plan.RouterAddress("p", "us-west2", "asmfed-x--router-us-west2"), wantNat: "asmfed-x--nat-us-west2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired := wanted()
			notes, warnings := sameFunctionRouters(desired, &snapshot{routers: tt.live})
			o := desired[0]
			if o.res.Address != tt.wantAddress || o.msg.(*computepb.Router).GetNats()[0].GetName() != tt.wantNat {
				t.Errorf("desired router %s with NAT %s, want %s with %s", o.res.Address, o.msg.(*computepb.Router).GetNats()[0].GetName(), tt.wantAddress, tt.wantNat)
			}
			if o.res.Fields["nats"].([]any)[0].(map[string]any)["name"] != tt.wantNat {
				t.Errorf("fields not recomputed: %v", o.res.Fields)
			}
			if (len(warnings) > 0) != tt.wantWarning {
				t.Errorf("warnings %v", warnings)
			}
			if standIn := tt.wantNat != "asmfed-x--nat-us-west2"; standIn != (len(notes) == 1) {
				t.Errorf("notes %v", notes)
			}
		})
	}
}

// A membership that registers a cluster of the federation under another location or name is
// reported; the federation's own, and those of other clusters, are not.
func TestOtherMemberships(t *testing.T) {
	link := "//container.googleapis.com/projects/p/locations/us-west2/clusters/cluster3"
	desired := []*object{{res: plan.Resource{Address: plan.MembershipAddress("p", "global", "cluster3"), Kind: plan.KindMembership,
		Fields: map[string]any{"resourceLink": link}}, project: "p", location: "global", parent: "cluster3"}}
	mem := func(name, link string) *gkehubpb.Membership {
		return &gkehubpb.Membership{Name: name, Type: &gkehubpb.Membership_Endpoint{Endpoint: &gkehubpb.MembershipEndpoint{Type: &gkehubpb.MembershipEndpoint_GkeCluster{GkeCluster: &gkehubpb.GkeCluster{ResourceLink: link}}}}}
	}
	got := otherMemberships(desired, &snapshot{memberships: []*gkehubpb.Membership{
		mem("projects/p/locations/global/memberships/cluster3", link),
		mem("projects/p/locations/us-west2/memberships/cluster3", link),
		mem("projects/p/locations/us-west2/memberships/cluster9", "//container.googleapis.com/projects/p/locations/us-west2/clusters/cluster9"),
	}})
	if len(got) != 1 || !strings.HasPrefix(got[0], "membership projects/p/locations/us-west2/memberships/cluster3 already registers projects/p/locations/us-west2/clusters/cluster3") ||
		!strings.Contains(got[0], "gcloud container fleet memberships unregister cluster3 --location us-west2") {
		t.Errorf("reports: %q", got)
	}
}
