package federation_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// span is the first and last IPv4 address of a prefix, as numbers: the test's own arithmetic,
// independent of how the compiler merges prefixes.
type span struct{ lo, hi uint64 }

func spanOf(t *testing.T, cidr string) span {
	t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		t.Fatalf("%q is not an IPv4 CIDR: %v", cidr, err)
	}
	a := p.Masked().Addr().As4()
	lo := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
	return span{lo, lo + 1<<(32-p.Bits()) - 1}
}

// addressSpans is the addresses of cidrs as disjoint, non-adjacent spans in address order.
func addressSpans(t *testing.T, cidrs []string) []span {
	t.Helper()
	var spans []span
	for _, c := range cidrs {
		spans = append(spans, spanOf(t, c))
	}
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && s.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, s.hi)
			continue
		}
		out = append(out, s)
	}
	return out
}

// admitted is what today's one-entry-per-peer list admits: the admin networks, the cluster's own,
// and every peer's pod range, read from the file.
func admitted(f *v1alpha1.Federation, cl v1alpha1.Cluster) []string {
	var want []string
	for _, n := range f.Spec.Admin.AuthorizedNetworks {
		want = append(want, n.CIDR)
	}
	for _, n := range cl.AuthorizedNetworks {
		want = append(want, n.CIDR)
	}
	for _, s := range f.Spec.Network.Subnets {
		if s.Name != cl.Subnet && s.PodRange != nil {
			want = append(want, s.PodRange.CIDR)
		}
	}
	return want
}

func cidrsOf(ns []federation.AuthorizedNetwork) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.CIDR
	}
	return out
}

// TestAuthorizedNetworksMergePeers: in a federation of 100 clusters with pod ranges 10.100.0.0/16
// to 10.199.0.0/16, each cluster's entries admit exactly the admin network and its 99 peers' pod
// ranges, never its own, in at most 11 entries (99 peers merge into at most 10 CIDRs) rather than
// 100, within the 50 GKE accepts on a public endpoint.
func TestAuthorizedNetworksMergePeers(t *testing.T) {
	f := fedtest.Generated("big", 100, []string{"us-west2", "us-east1", "us-central1", "europe-west1", "asia-east1"}, []string{"service-a", "service-b"}).Build()
	d, err := federation.CompileGoogleCloud(f, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range d.Warnings {
		if strings.Contains(w, "master authorized networks") {
			t.Errorf("warning: %s", w)
		}
	}
	most, total := 0, 0
	if len(d.Clusters) != 100 {
		t.Fatalf("%d clusters compiled, want 100", len(d.Clusters))
	}
	for _, cd := range d.Clusters {
		i := slices.IndexFunc(f.Spec.Clusters, func(c v1alpha1.Cluster) bool { return c.Name == cd.Name })
		cl := f.Spec.Clusters[i]
		got := cidrsOf(cd.MasterAuthorizedNetworks)
		if diff := cmp.Diff(addressSpans(t, admitted(f, cl)), addressSpans(t, got), cmp.AllowUnexported(span{})); diff != "" {
			t.Errorf("%s: entries %v admit other addresses than the admin network and the peers' pod ranges (-want +got):\n%s", cd.Name, got, diff)
		}
		own := spanOf(t, fmt.Sprintf("10.%d.0.0/16", 100+i))
		for _, s := range addressSpans(t, got) {
			if s.lo <= own.hi && own.lo <= s.hi {
				t.Errorf("%s: entries %v admit its own pod range", cd.Name, got)
			}
		}
		most, total = max(most, len(got)), total+len(got)
		if len(got) > 11 {
			t.Errorf("%s: %d entries %v, want at most 11", cd.Name, len(got), got)
		}
	}
	t.Logf("100 clusters: at most %d entries per cluster, %d in all (one per peer: 100 and 10,000)", most, total)
}

// TestAuthorizedNetworksPeerEntries: the names and reasons of merged and unmerged peers' entries,
// and a peer's range inside an admin network listed once.
func TestAuthorizedNetworksPeerEntries(t *testing.T) {
	// fed is a federation of clusters a, b, c... with these pod ranges.
	fed := func(admin string, pods ...string) *v1alpha1.Federation {
		b := fedtest.New("f").Network(fedtest.DefaultFleetProject, fedtest.DefaultNetwork).Admin("admin", admin)
		for i, p := range pods {
			b.Cluster(fedtest.Cluster(string(rune('a'+i))).Ranges(fmt.Sprintf("10.10.%d.0/24", i), p, fmt.Sprintf("172.16.%d.0/24", i), fmt.Sprintf("192.168.%d.0/28", i)))
		}
		return b.Build()
	}
	const reads = "istiod reads this API server through the remote secret, from pod IPs"
	admin := federation.AuthorizedNetwork{DisplayName: "admin", CIDR: "10.0.0.0/24", Reason: "admin network: administrators and automation run kubectl from it"}
	long := strings.Repeat("x", 37)
	for _, tc := range []struct {
		name string
		f    *v1alpha1.Federation
		want map[string][]federation.AuthorizedNetwork
	}{{
		name: "halves of one range merge, neighbours that are not do not",
		f:    fed("10.0.0.0/24", "10.64.0.0/16", "10.65.0.0/16", "10.66.0.0/16"),
		want: map[string][]federation.AuthorizedNetwork{
			"a": {admin,
				{DisplayName: "b-pods", CIDR: "10.65.0.0/16", Reason: "pod range of peer b: its " + reads},
				{DisplayName: "c-pods", CIDR: "10.66.0.0/16", Reason: "pod range of peer c: its " + reads}},
			"b": {admin,
				{DisplayName: "a-pods", CIDR: "10.64.0.0/16", Reason: "pod range of peer a: its " + reads},
				{DisplayName: "c-pods", CIDR: "10.66.0.0/16", Reason: "pod range of peer c: its " + reads}},
			"c": {admin,
				{DisplayName: "a-to-b-pods", CIDR: "10.64.0.0/15", Reason: "pod ranges of peers a, b, merged as together they are exactly this range: their " + reads}},
		},
	}, {
		name: "merges repeat: a /17 and two /18s make a /16, named in address order",
		f:    fed("10.0.0.0/24", "10.64.192.0/18", "10.64.0.0/17", "10.64.128.0/18", "10.65.0.0/16"),
		want: map[string][]federation.AuthorizedNetwork{
			"d": {admin,
				{DisplayName: "b-to-a-pods", CIDR: "10.64.0.0/16", Reason: "pod ranges of peers b, c, a, merged as together they are exactly this range: their " + reads}},
			"a": {admin,
				{DisplayName: "b-pods", CIDR: "10.64.0.0/17", Reason: "pod range of peer b: its " + reads},
				{DisplayName: "c-pods", CIDR: "10.64.128.0/18", Reason: "pod range of peer c: its " + reads},
				{DisplayName: "d-pods", CIDR: "10.65.0.0/16", Reason: "pod range of peer d: its " + reads}},
		},
	}, {
		name: "a peer inside an admin network is not listed again",
		f:    fed("10.64.0.0/15", "10.64.0.0/16", "10.65.0.0/16", "10.66.0.0/16"),
		want: map[string][]federation.AuthorizedNetwork{
			"a": {{DisplayName: "admin", CIDR: "10.64.0.0/15", Reason: "admin network: administrators and automation run kubectl from it; it holds 10.65.0.0/16, the pod range of peer b, whose " + reads},
				{DisplayName: "c-pods", CIDR: "10.66.0.0/16", Reason: "pod range of peer c: its " + reads}},
			"c": {{DisplayName: "admin", CIDR: "10.64.0.0/15", Reason: "admin network: administrators and automation run kubectl from it; it holds 10.64.0.0/16, the pod range of peer a, whose " + reads + "; it holds 10.65.0.0/16, the pod range of peer b, whose " + reads}},
		},
	}, {
		name: "a peer equal to an admin network is named in its reason, as before",
		f:    fed("10.66.0.0/16", "10.64.0.0/16", "10.65.0.0/16", "10.66.0.0/16"),
		want: map[string][]federation.AuthorizedNetwork{
			"a": {{DisplayName: "b-pods", CIDR: "10.65.0.0/16", Reason: "pod range of peer b: its " + reads},
				{DisplayName: "admin", CIDR: "10.66.0.0/16", Reason: "admin network: administrators and automation run kubectl from it; pod range of peer c: its " + reads}},
		},
	}, {
		name: "a peer equal to a cluster's own entry is named there, not in a wider admin network",
		f: fedtest.New("f").Network(fedtest.DefaultFleetProject, fedtest.DefaultNetwork).Admin("admin", "10.64.0.0/15").
			Cluster(fedtest.Cluster("a").Ranges("10.10.0.0/24", "10.64.0.0/16", "172.16.0.0/24", "192.168.0.0/28").AuthorizedNetwork("lab", "10.65.0.0/16")).
			Cluster(fedtest.Cluster("b").Ranges("10.10.1.0/24", "10.65.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).Build(),
		want: map[string][]federation.AuthorizedNetwork{
			"a": {{DisplayName: "admin", CIDR: "10.64.0.0/15", Reason: "admin network: administrators and automation run kubectl from it"},
				{DisplayName: "lab", CIDR: "10.65.0.0/16", Reason: "listed in the cluster's authorizedNetworks; pod range of peer b: its " + reads}},
		},
	}, {
		name: "a long name says how many more peers",
		f: fedtest.New("f").Network(fedtest.DefaultFleetProject, fedtest.DefaultNetwork).Admin("admin", "10.0.0.0/24").
			Cluster(fedtest.Cluster(long+"-a").Ranges("10.10.0.0/24", "10.64.0.0/16", "172.16.0.0/24", "192.168.0.0/28")).
			Cluster(fedtest.Cluster(long+"-b").Ranges("10.10.1.0/24", "10.65.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).
			Cluster(fedtest.Cluster("c").Ranges("10.10.2.0/24", "10.66.0.0/16", "172.16.2.0/24", "192.168.2.0/28")).Build(),
		want: map[string][]federation.AuthorizedNetwork{
			"c": {admin,
				{DisplayName: long + "-a-and-1-more-pods", CIDR: "10.64.0.0/15", Reason: "pod ranges of peers " + long + "-a, " + long + "-b, merged as together they are exactly this range: their " + reads}},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := federation.CompileGoogleCloud(tc.f, federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			for _, cd := range d.Clusters {
				want, ok := tc.want[cd.Name]
				if !ok {
					continue
				}
				if diff := cmp.Diff(want, cd.MasterAuthorizedNetworks); diff != "" {
					t.Errorf("%s (-want +got):\n%s", cd.Name, diff)
				}
				for _, n := range cd.MasterAuthorizedNetworks {
					if len(n.DisplayName) > 63 {
						t.Errorf("%s: display name %q is %d characters", cd.Name, n.DisplayName, len(n.DisplayName))
					}
				}
			}
		})
	}
}

// TestAuthorizedNetworksWarning: a cluster whose entries still exceed GKE's limit after merging
// is warned of, with where they come from and how many must go; one at the limit is not.
func TestAuthorizedNetworksWarning(t *testing.T) {
	build := func(admins int, private bool) *v1alpha1.Federation {
		b := fedtest.New("f").Network(fedtest.DefaultFleetProject, fedtest.DefaultNetwork)
		// Every other /24: no two are halves of one range.
		for i := 0; i < admins; i++ {
			b.Admin(fmt.Sprintf("admin-%d", i), fmt.Sprintf("10.0.%d.0/24", 2*i))
		}
		// Pod ranges 10.64 to 10.67: the third cluster's peers merge, the others' do not.
		for i, name := range []string{"a", "b", "c"} {
			b.Cluster(fedtest.Cluster(name).PrivateEndpoint(private).
				Ranges(fmt.Sprintf("10.10.%d.0/24", i), fmt.Sprintf("10.%d.0.0/16", 64+i), fmt.Sprintf("172.16.%d.0/24", i), fmt.Sprintf("192.168.%d.0/28", i)))
		}
		return b.Build()
	}
	for _, tc := range []struct {
		name    string
		admins  int
		private bool
		want    []string
	}{
		{"public endpoint at the limit", 48, false, nil},
		{"public endpoint past the limit", 49, false, []string{
			"cluster a: 51 master authorized networks, 1 more than the 50 GKE accepts on a cluster with a public endpoint: 49 from the admin networks, the cluster's own authorizedNetworks and the bastion, and 2 for the pod ranges of its 2 peers, merged wherever two are halves of one range; remove 1: list fewer, wider admin or cluster networks, or give the peers pod ranges that are the aligned halves of wider ranges (consecutive /16s from 10.64.0.0/16, say), which merge into fewer entries",
			"cluster b: 51 master authorized networks, 1 more than the 50 GKE accepts on a cluster with a public endpoint: 49 from the admin networks, the cluster's own authorizedNetworks and the bastion, and 2 for the pod ranges of its 2 peers, merged wherever two are halves of one range; remove 1: list fewer, wider admin or cluster networks, or give the peers pod ranges that are the aligned halves of wider ranges (consecutive /16s from 10.64.0.0/16, say), which merge into fewer entries",
		}},
		{"private endpoint", 99, true, []string{
			"cluster a: 101 master authorized networks, 1 more than the 100 GKE accepts on a cluster with only a private endpoint: 99 from the admin networks, the cluster's own authorizedNetworks and the bastion, and 2 for the pod ranges of its 2 peers, merged wherever two are halves of one range; remove 1: list fewer, wider admin or cluster networks, or give the peers pod ranges that are the aligned halves of wider ranges (consecutive /16s from 10.64.0.0/16, say), which merge into fewer entries",
			"cluster b: 101 master authorized networks, 1 more than the 100 GKE accepts on a cluster with only a private endpoint: 99 from the admin networks, the cluster's own authorizedNetworks and the bastion, and 2 for the pod ranges of its 2 peers, merged wherever two are halves of one range; remove 1: list fewer, wider admin or cluster networks, or give the peers pod ranges that are the aligned halves of wider ranges (consecutive /16s from 10.64.0.0/16, say), which merge into fewer entries",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := federation.CompileGoogleCloud(build(tc.admins, tc.private), federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range d.Warnings {
				if strings.Contains(w, "master authorized networks") {
					got = append(got, w)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
