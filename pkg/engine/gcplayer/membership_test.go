package gcplayer

import (
	"testing"

	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Which live membership the model takes for each cluster: the one that registers it, wherever it
// is; of several, the federation's own name in global, then one with its mark, then the first by
// name; never another cluster's own membership.
func TestRegisteredMemberships(t *testing.T) {
	own := func(c string) federation.FleetMembership {
		return federation.FleetMembership{Project: "p", Location: "global", Name: c, ClusterAddress: plan.ClusterAddress("p", "us-west2", c),
			Cluster: "//container.googleapis.com/projects/p/locations/us-west2/clusters/" + c}
	}
	offline := &federation.Desired{Federation: "f", FleetMemberships: []federation.FleetMembership{own("c3"), own("c4")}}
	mem := func(name, link string, labels map[string]string) *gkehubpb.Membership {
		return &gkehubpb.Membership{Name: "projects/p/locations/" + name, Labels: labels, Type: &gkehubpb.Membership_Endpoint{Endpoint: &gkehubpb.MembershipEndpoint{
			Type: &gkehubpb.MembershipEndpoint_GkeCluster{GkeCluster: &gkehubpb.GkeCluster{ResourceLink: link}}}}}
	}
	const c3, c4 = "//container.googleapis.com/projects/p/locations/us-west2/clusters/c3", "//container.googleapis.com/projects/p/locations/us-west2/clusters/c4"
	marked := map[string]string{federation.LabelManagedBy: federation.ManagedByValue, federation.LabelFederation: "f"}
	for _, tt := range []struct {
		name string
		live []*gkehubpb.Membership
		want map[string]federation.MembershipFacts
	}{
		{name: "none", want: map[string]federation.MembershipFacts{}},
		{name: "regional, as gcloud registers it, written with another host and zones",
			live: []*gkehubpb.Membership{mem("us-west2/memberships/c3", "//127.0.0.1:8080/projects/p/zones/us-west2/clusters/c3", nil)},
			want: map[string]federation.MembershipFacts{"projects/p/locations/us-west2/clusters/c3": {Location: "us-west2", Name: "c3"}}},
		{name: "the federation's own in global first",
			live: []*gkehubpb.Membership{mem("us-west2/memberships/c3", c3, marked), mem("global/memberships/c3", c3, nil)},
			want: map[string]federation.MembershipFacts{"projects/p/locations/us-west2/clusters/c3": {Location: "global", Name: "c3"}}},
		{name: "then the marked one",
			live: []*gkehubpb.Membership{mem("europe-west1/memberships/a", c3, nil), mem("us-west2/memberships/z", c3, marked)},
			want: map[string]federation.MembershipFacts{"projects/p/locations/us-west2/clusters/c3": {Location: "us-west2", Name: "z"}}},
		{name: "then the first by name",
			live: []*gkehubpb.Membership{mem("us-west2/memberships/z", c3, nil), mem("europe-west1/memberships/a", c3, nil)},
			want: map[string]federation.MembershipFacts{"projects/p/locations/us-west2/clusters/c3": {Location: "europe-west1", Name: "a"}}},
		{name: "never another cluster's own",
			live: []*gkehubpb.Membership{mem("global/memberships/c4", c3, nil)},
			want: map[string]federation.MembershipFacts{}},
		{name: "both clusters",
			live: []*gkehubpb.Membership{mem("us-west2/memberships/c3", c3, nil), mem("us-west2/memberships/c4", c4, nil)},
			want: map[string]federation.MembershipFacts{"projects/p/locations/us-west2/clusters/c3": {Location: "us-west2", Name: "c3"},
				"projects/p/locations/us-west2/clusters/c4": {Location: "us-west2", Name: "c4"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := registeredMemberships(offline, &snapshot{memberships: tt.live})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
