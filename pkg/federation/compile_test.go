package federation_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// summary is the shape of a Desired that the table cases compare: enough to pin every derivation
// without repeating reasons.
type summary struct {
	Firewalls       map[string]string   // name → "sources → tags"
	MAN             map[string][]string // cluster → CIDRs
	GlobalAccess    map[string]bool
	NATs            map[string][]string // router → subnets
	Secrets         int
	ServiceProjects []string
	APIs            map[string][]string // project → services
	Memberships     []string
	MeshID          string
	Unresolved      []string
}

func summarize(d *federation.Desired) summary {
	s := summary{
		Firewalls:    map[string]string{},
		MAN:          map[string][]string{},
		GlobalAccess: map[string]bool{},
		NATs:         map[string][]string{},
		Secrets:      len(d.RemoteSecrets),
		APIs:         map[string][]string{},
		MeshID:       d.Mesh.MeshID,
		Unresolved:   d.Unresolved,
	}
	for _, r := range d.FirewallRules {
		s.Firewalls[r.Name] = strings.Join(r.SourceRanges, ",") + " → " + strings.Join(r.TargetTags, ",")
	}
	for _, c := range d.Clusters {
		s.MAN[c.Name] = []string{}
		for _, n := range c.MasterAuthorizedNetworks {
			s.MAN[c.Name] = append(s.MAN[c.Name], n.CIDR)
		}
		s.GlobalAccess[c.Name] = c.MasterGlobalAccess
	}
	for _, n := range d.NATs {
		for _, sub := range n.Subnets {
			s.NATs[n.Router] = append(s.NATs[n.Router], sub.Name)
		}
	}
	if d.SharedVPC != nil {
		for _, p := range d.SharedVPC.ServiceProjects {
			s.ServiceProjects = append(s.ServiceProjects, p.Project)
		}
	}
	for _, a := range d.APIs {
		s.APIs[a.Project] = append(s.APIs[a.Project], strings.TrimSuffix(a.Service, ".googleapis.com"))
	}
	for _, m := range d.FleetMemberships {
		s.Memberships = append(s.Memberships, string(m.Address))
	}
	return s
}

var (
	clusterAPIs = []string{"compute", "container", "iamcredentials", "logging", "monitoring"}
	fleetAPIs   = []string{"cloudresourcemanager", "connectgateway", "gkehub", "serviceusage"}
)

func union(lists ...[]string) []string {
	seen := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			seen[s] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func memberships(fleet string, names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, fmt.Sprintf("gcp:projects/%s/locations/global/memberships/%s", fleet, n))
	}
	return out
}

func TestCompile(t *testing.T) {
	const fleet = fedtest.DefaultFleetProject
	numbers := federation.Facts{ProjectNumbers: map[string]int64{fleet: 111, "svc-a": 222, "svc-b": 333}}
	tests := []struct {
		name  string
		fed   *v1alpha1.Federation
		facts federation.Facts
		want  summary
	}{
		{
			name: "1 cluster: no peers, no mesh rules, no remote secrets",
			fed:  fedtest.Generated("solo", 1, []string{"us-west2"}, []string{fleet}).Build(),
			want: summary{
				Firewalls: map[string]string{
					"asmfed-solo--admin":    "10.0.0.0/24 → c01",
					"asmfed-solo--webhooks": "192.168.0.0/28 → c01",
				},
				MAN:          map[string][]string{"c01": {"10.0.0.0/24"}},
				GlobalAccess: map[string]bool{"c01": false},
				NATs:         map[string][]string{"asmfed-solo--router-us-west2": {"c01"}},
				APIs:         map[string][]string{fleet: union(clusterAPIs, fleetAPIs)},
				Memberships:  memberships(fleet, "c01"),
				MeshID:       "proj-<number of fleet-project, read at plan time>",
				Unresolved:   []string{fleet},
			},
		},
		{
			name:  "2 clusters in one region and project",
			fed:   fedtest.Generated("pair", 2, []string{"europe-west1"}, []string{fleet}).Build(),
			facts: numbers,
			want: summary{
				Firewalls: map[string]string{
					"asmfed-pair--admin":         "10.0.0.0/24 → c01,c02",
					"asmfed-pair--mesh-from-c01": "10.100.0.0/16 → c02",
					"asmfed-pair--mesh-from-c02": "10.101.0.0/16 → c01",
					"asmfed-pair--webhooks":      "192.168.0.0/28,192.168.1.0/28 → c01,c02",
				},
				MAN: map[string][]string{
					"c01": {"10.0.0.0/24", "10.101.0.0/16"},
					"c02": {"10.0.0.0/24", "10.100.0.0/16"},
				},
				GlobalAccess: map[string]bool{"c01": false, "c02": false},
				NATs:         map[string][]string{"asmfed-pair--router-europe-west1": {"c01", "c02"}},
				Secrets:      2,
				APIs:         map[string][]string{fleet: union(clusterAPIs, fleetAPIs)},
				Memberships:  memberships(fleet, "c01", "c02"),
				MeshID:       "proj-111",
			},
		},
		{
			name: "5 clusters across 3 regions and 3 projects (Shared VPC)",
			fed: fedtest.Generated("five", 5, []string{"us-west2", "us-east1", "europe-west1"},
				[]string{fleet, "svc-a", "svc-b"}).Build(),
			facts: numbers,
			want: summary{
				Firewalls: map[string]string{
					"asmfed-five--admin":         "10.0.0.0/24 → c01,c02,c03,c04,c05",
					"asmfed-five--mesh-from-c01": "10.100.0.0/16 → c02,c03,c04,c05",
					"asmfed-five--mesh-from-c02": "10.101.0.0/16 → c01,c03,c04,c05",
					"asmfed-five--mesh-from-c03": "10.102.0.0/16 → c01,c02,c04,c05",
					"asmfed-five--mesh-from-c04": "10.103.0.0/16 → c01,c02,c03,c05",
					"asmfed-five--mesh-from-c05": "10.104.0.0/16 → c01,c02,c03,c04",
					"asmfed-five--webhooks":      "192.168.0.0/28,192.168.1.0/28,192.168.2.0/28,192.168.3.0/28,192.168.4.0/28 → c01,c02,c03,c04,c05",
				},
				MAN: map[string][]string{
					// The peers' pod ranges merged where two are halves of one range.
					"c01": {"10.0.0.0/24", "10.101.0.0/16", "10.102.0.0/15", "10.104.0.0/16"},
					"c02": {"10.0.0.0/24", "10.100.0.0/16", "10.102.0.0/15", "10.104.0.0/16"},
					"c03": {"10.0.0.0/24", "10.100.0.0/15", "10.103.0.0/16", "10.104.0.0/16"},
					"c04": {"10.0.0.0/24", "10.100.0.0/15", "10.102.0.0/16", "10.104.0.0/16"},
					"c05": {"10.0.0.0/24", "10.100.0.0/14"},
				},
				GlobalAccess: map[string]bool{"c01": true, "c02": true, "c03": true, "c04": true, "c05": true},
				NATs: map[string][]string{
					"asmfed-five--router-europe-west1": {"c03"},
					"asmfed-five--router-us-east1":     {"c02", "c05"},
					"asmfed-five--router-us-west2":     {"c01", "c04"},
				},
				Secrets:         20,
				ServiceProjects: []string{"svc-a", "svc-b"},
				APIs: map[string][]string{
					fleet:   union(clusterAPIs, fleetAPIs),
					"svc-a": union(clusterAPIs, []string{"gkehub"}),
					"svc-b": union(clusterAPIs, []string{"gkehub"}),
				},
				Memberships: memberships(fleet, "c01", "c02", "c03", "c04", "c05"),
				MeshID:      "proj-111",
			},
		},
		{
			name: "20 clusters across 4 regions and 3 projects",
			fed: fedtest.Generated("twenty", 20, []string{"us-west2", "us-east1", "europe-west1", "asia-east1"},
				[]string{fleet, "svc-a", "svc-b"}).Build(),
			want: twentyClusters(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := federation.Compile(tt.fed, tt.facts)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(d)); diff != "" {
				t.Errorf("Compile (-want +got):\n%s", diff)
			}
			if len(d.Warnings) > 0 {
				t.Errorf("unexpected warnings: %q", d.Warnings)
			}
		})
	}
}

// twentyClusters spells out the 20-cluster case with loops: the regularity of fedtest.Generated is
// what lets the expectation be exact.
func twentyClusters() summary {
	const fleet = fedtest.DefaultFleetProject
	regions := []string{"us-west2", "us-east1", "europe-west1", "asia-east1"}
	s := summary{
		Firewalls:       map[string]string{},
		MAN:             map[string][]string{},
		GlobalAccess:    map[string]bool{},
		NATs:            map[string][]string{},
		Secrets:         20 * 19,
		ServiceProjects: []string{"svc-a", "svc-b"},
		APIs: map[string][]string{
			fleet:   union(clusterAPIs, fleetAPIs),
			"svc-a": union(clusterAPIs, []string{"gkehub"}),
			"svc-b": union(clusterAPIs, []string{"gkehub"}),
		},
		MeshID:     "proj-<number of fleet-project, read at plan time>",
		Unresolved: []string{fleet, "svc-a", "svc-b"},
	}
	var all, cps []string
	for i := 0; i < 20; i++ {
		all = append(all, fedtest.GeneratedName(i))
		cps = append(cps, fmt.Sprintf("192.168.%d.0/28", i))
	}
	s.Memberships = memberships(fleet, all...)
	s.Firewalls["asmfed-twenty--admin"] = "10.0.0.0/24 → " + strings.Join(all, ",")
	s.Firewalls["asmfed-twenty--webhooks"] = strings.Join(cps, ",") + " → " + strings.Join(all, ",")
	for i, name := range all {
		var peers []string
		for j, peer := range all {
			if j != i {
				peers = append(peers, peer)
			}
		}
		s.Firewalls["asmfed-twenty--mesh-from-"+name] = fmt.Sprintf("10.%d.0.0/16 → %s", 100+i, strings.Join(peers, ","))
		s.GlobalAccess[name] = true
		router := "asmfed-twenty--router-" + regions[i%len(regions)]
		s.NATs[router] = append(s.NATs[router], name)
	}
	// The 19 peers' pod ranges, 10.100.0.0/16 to 10.119.0.0/16 less the cluster's own, merged where
	// two are halves of one range.
	s.MAN = map[string][]string{
		"c01": {"10.0.0.0/24", "10.101.0.0/16", "10.102.0.0/15", "10.104.0.0/13", "10.112.0.0/13"},
		"c02": {"10.0.0.0/24", "10.100.0.0/16", "10.102.0.0/15", "10.104.0.0/13", "10.112.0.0/13"},
		"c03": {"10.0.0.0/24", "10.100.0.0/15", "10.103.0.0/16", "10.104.0.0/13", "10.112.0.0/13"},
		"c04": {"10.0.0.0/24", "10.100.0.0/15", "10.102.0.0/16", "10.104.0.0/13", "10.112.0.0/13"},
		"c05": {"10.0.0.0/24", "10.100.0.0/14", "10.105.0.0/16", "10.106.0.0/15", "10.108.0.0/14", "10.112.0.0/13"},
		"c06": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/16", "10.106.0.0/15", "10.108.0.0/14", "10.112.0.0/13"},
		"c07": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/15", "10.107.0.0/16", "10.108.0.0/14", "10.112.0.0/13"},
		"c08": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/15", "10.106.0.0/16", "10.108.0.0/14", "10.112.0.0/13"},
		"c09": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/14", "10.109.0.0/16", "10.110.0.0/15", "10.112.0.0/13"},
		"c10": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/14", "10.108.0.0/16", "10.110.0.0/15", "10.112.0.0/13"},
		"c11": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/14", "10.108.0.0/15", "10.111.0.0/16", "10.112.0.0/13"},
		"c12": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/14", "10.108.0.0/15", "10.110.0.0/16", "10.112.0.0/13"},
		"c13": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/13", "10.113.0.0/16", "10.114.0.0/15", "10.116.0.0/14"},
		"c14": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/13", "10.112.0.0/16", "10.114.0.0/15", "10.116.0.0/14"},
		"c15": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/13", "10.112.0.0/15", "10.115.0.0/16", "10.116.0.0/14"},
		"c16": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/13", "10.112.0.0/15", "10.114.0.0/16", "10.116.0.0/14"},
		"c17": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/13", "10.112.0.0/14", "10.117.0.0/16", "10.118.0.0/15"},
		"c18": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/13", "10.112.0.0/14", "10.116.0.0/16", "10.118.0.0/15"},
		"c19": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/13", "10.112.0.0/14", "10.116.0.0/15", "10.119.0.0/16"},
		"c20": {"10.0.0.0/24", "10.100.0.0/14", "10.104.0.0/13", "10.112.0.0/14", "10.116.0.0/15", "10.118.0.0/16"},
	}
	return s
}

// TestCompileTwentyClustersProperties checks what must hold for any size, on the largest case.
func TestCompileTwentyClustersProperties(t *testing.T) {
	b := fedtest.Generated("twenty", 20, []string{"us-west2", "us-east1", "europe-west1", "asia-east1"},
		[]string{fedtest.DefaultFleetProject, "svc-a", "svc-b"})
	d, err := federation.Compile(b.Build(), federation.Facts{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}

	t.Run("every ordered pair has exactly one remote secret", func(t *testing.T) {
		count := map[[2]string]int{}
		for _, s := range d.RemoteSecrets {
			count[[2]string{s.Holder, s.Target}]++
			if s.Name != "istio-remote-secret-"+s.Target || s.DataKey != s.Target || s.Namespace != "istio-system" {
				t.Errorf("secret %s: name %q key %q namespace %q", s.Address, s.Name, s.DataKey, s.Namespace)
			}
		}
		for _, a := range d.Clusters {
			for _, b := range d.Clusters {
				want := 1
				if a.Name == b.Name {
					want = 0
				}
				if got := count[[2]string{a.Name, b.Name}]; got != want {
					t.Errorf("secrets held by %s for %s: %d, want %d", a.Name, b.Name, got, want)
				}
			}
		}
	})

	t.Run("master authorized networks hold every peer's pod range and none of their own", func(t *testing.T) {
		for _, c := range d.Clusters {
			have := map[string]bool{}
			for _, n := range c.MasterAuthorizedNetworks {
				if have[n.CIDR] {
					t.Errorf("cluster %s: %s twice", c.Name, n.CIDR)
				}
				have[n.CIDR] = true
			}
			if have[c.PodRange] {
				t.Errorf("cluster %s: own pod range %s in its master authorized networks", c.Name, c.PodRange)
			}
			holds := func(cidr string) (inside, overlaps bool) {
				want := netip.MustParsePrefix(cidr)
				for _, n := range c.MasterAuthorizedNetworks {
					p := netip.MustParsePrefix(n.CIDR)
					inside = inside || p.Bits() <= want.Bits() && p.Contains(want.Addr())
					overlaps = overlaps || p.Overlaps(want)
				}
				return inside, overlaps
			}
			if _, overlaps := holds(c.PodRange); overlaps {
				t.Errorf("cluster %s: an entry of its master authorized networks overlaps its own pod range %s", c.Name, c.PodRange)
			}
			for _, p := range d.Clusters {
				if inside, _ := holds(p.PodRange); p.Name != c.Name && !inside {
					t.Errorf("cluster %s: peer %s's pod range %s missing", c.Name, p.Name, p.PodRange)
				}
			}
		}
	})

	t.Run("names are valid and unique", func(t *testing.T) {
		seen := map[string]bool{}
		var names []string
		for _, r := range d.FirewallRules {
			names = append(names, r.Name)
		}
		for _, n := range d.NATs {
			names = append(names, n.Router, n.Name)
		}
		for _, n := range names {
			if !federation.ValidName(n) {
				t.Errorf("invalid name %q", n)
			}
			if seen[n] {
				t.Errorf("duplicate name %q", n)
			}
			seen[n] = true
		}
		addrs := map[string]bool{}
		for _, a := range addresses(d) {
			if addrs[a] {
				t.Errorf("duplicate address %q", a)
			}
			addrs[a] = true
		}
	})

	t.Run("output does not depend on the order of the file", func(t *testing.T) {
		want := mustJSON(t, d)
		for seed := int64(1); seed <= 5; seed++ {
			f := b.Build()
			r := rand.New(rand.NewSource(seed))
			r.Shuffle(len(f.Spec.Clusters), func(i, j int) { f.Spec.Clusters[i], f.Spec.Clusters[j] = f.Spec.Clusters[j], f.Spec.Clusters[i] })
			r.Shuffle(len(f.Spec.Network.Subnets), func(i, j int) {
				f.Spec.Network.Subnets[i], f.Spec.Network.Subnets[j] = f.Spec.Network.Subnets[j], f.Spec.Network.Subnets[i]
			})
			got, err := federation.Compile(f, federation.Facts{})
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if diff := cmp.Diff(want, mustJSON(t, got)); diff != "" {
				t.Errorf("shuffle %d changed the output (-want +got):\n%s", seed, diff)
			}
		}
	})
}

func addresses(d *federation.Desired) []string {
	out := []string{string(d.Network.Address)}
	for _, s := range d.Subnets {
		out = append(out, string(s.Address))
	}
	for _, c := range d.Clusters {
		out = append(out, string(c.Address))
		for _, p := range c.NodePools {
			out = append(out, string(p.Address))
		}
		for _, o := range c.Objects {
			out = append(out, string(o.Address))
		}
	}
	if d.MeshFeature != nil {
		out = append(out, string(d.MeshFeature.Address))
	}
	for _, r := range d.FirewallRules {
		out = append(out, string(r.Address))
	}
	for _, n := range d.NATs {
		out = append(out, string(n.Address))
	}
	// A remote secret pair and the Secret object that carries it share one address.
	for _, a := range d.APIs {
		out = append(out, string(a.Address))
	}
	for _, b := range d.IAMBindings {
		out = append(out, string(b.Address))
	}
	if d.SharedVPC != nil {
		for _, b := range d.SharedVPC.Bindings {
			out = append(out, string(b.Address))
		}
		for _, p := range d.SharedVPC.ServiceProjects {
			out = append(out, string(p.Address))
		}
	}
	for _, m := range d.FleetMemberships {
		out = append(out, string(m.Address))
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep placeholders such as <number of P, ...> readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// TestCompileGoogleCloudIsCompileWithoutObjects holds the Google Cloud side's compile to the
// whole one: the same model, less the clusters' Kubernetes objects.
func TestCompileGoogleCloudIsCompileWithoutObjects(t *testing.T) {
	tests := []struct {
		name  string
		f     *v1alpha1.Federation
		facts federation.Facts
	}{
		{name: "generated, without numbers", f: fedtest.Generated("gen", 4, []string{"us-west2", "us-east1"}, []string{"service-a", "service-b"}).Build()},
		{name: "generated, with numbers", f: fedtest.Generated("gen", 4, []string{"us-west2", "us-east1"}, []string{"service-a", "service-b"}).Build(),
			facts: federation.Facts{ProjectNumbers: map[string]int64{fedtest.DefaultFleetProject: 11, "service-a": 12, "service-b": 13}}},
		{name: "reference", f: fedtest.Reference().Build()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v1alpha1.SetDefaults(tc.f)
			whole, err := federation.Compile(tc.f, tc.facts)
			if err != nil {
				t.Fatal(err)
			}
			cloud, err := federation.CompileGoogleCloud(tc.f, tc.facts)
			if err != nil {
				t.Fatal(err)
			}
			objects := 0
			for i := range whole.Clusters {
				objects += len(whole.Clusters[i].Objects)
				if n := len(cloud.Clusters[i].Objects); n != 0 {
					t.Errorf("%s: %d Kubernetes objects, want none", cloud.Clusters[i].Name, n)
				}
				whole.Clusters[i].Objects = []federation.KubeObject{}
			}
			if objects == 0 {
				t.Fatal("the whole compile has no Kubernetes objects: nothing was left out")
			}
			if diff := cmp.Diff(whole, cloud); diff != "" {
				t.Errorf("CompileGoogleCloud differs from Compile beyond the objects (-whole +cloud):\n%s", diff)
			}
		})
	}
}
