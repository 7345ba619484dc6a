package federation_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

func TestResourceName(t *testing.T) {
	long := strings.Repeat("a", 40)
	hashed := regexp.MustCompile(`-[0-9a-f]{8}$`)
	tests := []struct {
		name   string
		fed    string
		parts  []string
		want   string // exact, when the name fits
		prefix string // readable head, when it is cut and hashed
	}{
		{name: "short", fed: "prod", parts: []string{"webhooks"}, want: "asmfed-prod--webhooks"},
		{name: "exactly 63", fed: strings.Repeat("f", 46), parts: []string{"webhooks"}, want: "asmfed-" + strings.Repeat("f", 46) + "--webhooks"},
		{name: "dashed federation", fed: "prod-eu", parts: []string{"mesh-from", "c1"}, want: "asmfed-prod-eu--mesh-from-c1"},
		{name: "too long is cut and hashed", fed: long, parts: []string{"mesh-from", long}, prefix: "asmfed-" + long + "--mesh-"},
		{name: "no dash before the hash", fed: strings.Repeat("a", 46), parts: []string{"webhooks-1"}, prefix: "asmfed-" + strings.Repeat("a", 46) + "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := federation.ResourceName(tt.fed, tt.parts...)
			if !federation.ValidName(got) {
				t.Errorf("ResourceName = %q, not a valid name", got)
			}
			if tt.want != "" {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ResourceName (-want +got):\n%s", diff)
				}
				return
			}
			if !strings.HasPrefix(got, tt.prefix) || !hashed.MatchString(got) || len(got) > federation.MaxNameLength {
				t.Errorf("ResourceName = %q (%d chars), want %q then a dash and 8 hex digits, at most 63 chars", got, len(got), tt.prefix)
			}
		})
	}

	a := federation.ResourceName(long, "mesh-from", long+"x")
	b := federation.ResourceName(long, "mesh-from", long+"y")
	if a == b {
		t.Errorf("names differing only after the cut collide: %q", a)
	}
	if again := federation.ResourceName(long, "mesh-from", long+"x"); again != a {
		t.Errorf("ResourceName is not stable: %q then %q", a, again)
	}
}

// Two federations never generate the same name, however their names and parts run together.
func TestResourceNamesOfTwoFederationsDiffer(t *testing.T) {
	tests := []struct {
		name         string
		fedA, fedB   string
		partA, partB []string
	}{
		{name: "dash moves between federation and part", fedA: "prod", partA: []string{"eu-webhooks"}, fedB: "prod-eu", partB: []string{"webhooks"}},
		{name: "router of a region", fedA: "prod", partA: []string{"router", "eu-west1"}, fedB: "prod-router", partB: []string{"eu-west1"}},
		{name: "mesh rule of a cluster", fedA: "a", partA: []string{"mesh-from", "b-c"}, fedB: "a-mesh", partB: []string{"from", "b-c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := federation.ResourceName(tt.fedA, tt.partA...), federation.ResourceName(tt.fedB, tt.partB...)
			if a == b {
				t.Errorf("federations %s and %s both generate %s", tt.fedA, tt.fedB, a)
			}
			if la, lb := federation.LegacyResourceName(tt.fedA, tt.partA...), federation.LegacyResourceName(tt.fedB, tt.partB...); la != lb {
				t.Errorf("the case does not collide under the old scheme (%s, %s), so it proves nothing", la, lb)
			}
		})
	}
}

func TestParseDescriptionMarker(t *testing.T) {
	tests := []struct {
		name        string
		description string
		want        string
		ok          bool
	}{
		{name: "mark alone", description: "managed-by=asmfed federation=prod", want: "prod", ok: true},
		{name: "mark and reason", description: "managed-by=asmfed federation=prod: the VPC", want: "prod", ok: true},
		{name: "dashed name", description: "managed-by=asmfed federation=prod-eu: the VPC", want: "prod-eu", ok: true},
		{name: "reason with colons", description: "managed-by=asmfed federation=prod: a: b", want: "prod", ok: true},
		{name: "empty", description: ""},
		{name: "no mark", description: "made by hand"},
		{name: "mark not at the start", description: "note managed-by=asmfed federation=prod"},
		{name: "other tool", description: "managed-by=terraform federation=prod"},
		{name: "empty name", description: "managed-by=asmfed federation=: x"},
		{name: "text after the name", description: "managed-by=asmfed federation=prod and more"},
		{name: "colon without space", description: "managed-by=asmfed federation=prod:x"},
		{name: "upper case", description: "managed-by=asmfed federation=Prod"},
		{name: "separator in the name", description: "managed-by=asmfed federation=prod--eu"},
		{name: "trailing dash", description: "managed-by=asmfed federation=prod-: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := federation.ParseDescriptionMarker(tt.description)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseDescriptionMarker(%q) = %q, %v; want %q, %v", tt.description, got, ok, tt.want, tt.ok)
			}
		})
	}
	for _, tt := range []struct {
		description, fed string
		want             bool
	}{
		{"managed-by=asmfed federation=prod-eu: x", "prod", false},
		{"managed-by=asmfed federation=prod: x", "prod-eu", false},
		{"managed-by=asmfed federation=prod: x", "prod", true},
		{federation.DescriptionMarker("prod-eu") + ": x", "prod-eu", true},
	} {
		if got := federation.OwnsDescription(tt.description, tt.fed); got != tt.want {
			t.Errorf("OwnsDescription(%q, %q) = %v, want %v", tt.description, tt.fed, got, tt.want)
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"asmfed-a":              true,
		"a":                     true,
		"":                      false,
		"Asmfed":                false,
		"asmfed-":               false,
		"1asmfed":               false,
		"asm_fed":               false,
		strings.Repeat("a", 63): true,
		strings.Repeat("a", 64): false,
	} {
		if got := federation.ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCompileSharedVPC(t *testing.T) {
	f := fedtest.New("shared").
		FleetProject("fleet-proj", 0).
		Network("host-proj", "shared-vpc").
		Cluster(fedtest.Cluster("a1").Project("svc-a").Location("us-west2").
			Ranges("10.1.0.0/24", "10.101.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).
		Cluster(fedtest.Cluster("a2").Project("svc-a").Location("us-east1").
			Ranges("10.2.0.0/24", "10.102.0.0/16", "172.16.2.0/24", "192.168.2.0/28")).
		Cluster(fedtest.Cluster("h1").Project("host-proj").Location("us-west2-a").
			Ranges("10.3.0.0/24", "10.103.0.0/16", "172.16.3.0/24", "192.168.3.0/28")).
		Build()
	facts := federation.Facts{ProjectNumbers: map[string]int64{"fleet-proj": 10, "svc-a": 20, "host-proj": 30}}
	d, err := federation.Compile(f, facts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	type binding struct{ Resource, Role, Member string }
	var got []binding
	for _, b := range d.SharedVPC.Bindings {
		got = append(got, binding{b.Resource, b.Role, b.Member})
		if b.Unresolved || b.Reason == "" {
			t.Errorf("binding %s: unresolved %v, reason %q", b.Address, b.Unresolved, b.Reason)
		}
	}
	const gke = "serviceAccount:service-20@container-engine-robot.iam.gserviceaccount.com"
	const apis = "serviceAccount:20@cloudservices.gserviceaccount.com"
	want := []binding{
		{"projects/host-proj", "roles/container.hostServiceAgentUser", gke},
		{"projects/host-proj/regions/us-east1/subnetworks/a2", "roles/compute.networkUser", apis},
		{"projects/host-proj/regions/us-east1/subnetworks/a2", "roles/compute.networkUser", gke},
		{"projects/host-proj/regions/us-west2/subnetworks/a1", "roles/compute.networkUser", apis},
		{"projects/host-proj/regions/us-west2/subnetworks/a1", "roles/compute.networkUser", gke},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Shared VPC bindings (-want +got):\n%s", diff)
	}
	if d.SharedVPC.HostProject != "host-proj" || len(d.SharedVPC.ServiceProjects) != 1 || d.SharedVPC.ServiceProjects[0].Project != "svc-a" {
		t.Errorf("Shared VPC: %+v", d.SharedVPC)
	}

	var gotIAM []binding
	for _, b := range d.IAMBindings {
		gotIAM = append(gotIAM, binding{b.Resource, b.Role, b.Member})
	}
	wantIAM := []binding{
		{"projects/host-proj", "roles/gkehub.crossProjectServiceAgent", "serviceAccount:service-10@gcp-sa-gkehub.iam.gserviceaccount.com"},
		{"projects/svc-a", "roles/gkehub.crossProjectServiceAgent", "serviceAccount:service-10@gcp-sa-gkehub.iam.gserviceaccount.com"},
	}
	if diff := cmp.Diff(wantIAM, gotIAM); diff != "" {
		t.Errorf("project bindings (-want +got):\n%s", diff)
	}

	apisByProject := map[string][]string{}
	for _, a := range d.APIs {
		apisByProject[a.Project] = append(apisByProject[a.Project], a.Service)
	}
	wantAPIs := map[string][]string{
		"fleet-proj": {"cloudresourcemanager.googleapis.com", "connectgateway.googleapis.com", "gkehub.googleapis.com", "serviceusage.googleapis.com"},
		"host-proj": {"compute.googleapis.com", "container.googleapis.com", "gkehub.googleapis.com", "iamcredentials.googleapis.com",
			"logging.googleapis.com", "monitoring.googleapis.com"},
		"svc-a": {"compute.googleapis.com", "container.googleapis.com", "gkehub.googleapis.com", "iamcredentials.googleapis.com",
			"logging.googleapis.com", "monitoring.googleapis.com"},
	}
	if diff := cmp.Diff(wantAPIs, apisByProject); diff != "" {
		t.Errorf("APIs (-want +got):\n%s", diff)
	}
	if d.Unresolved != nil {
		t.Errorf("Unresolved = %v with every number known", d.Unresolved)
	}
	// Every rule lives in the host project, next to the VPC.
	for _, r := range d.FirewallRules {
		if r.Project != "host-proj" || r.Network != "shared-vpc" {
			t.Errorf("rule %s in %s/%s, want host-proj/shared-vpc", r.Name, r.Project, r.Network)
		}
	}
}

func TestCompileUnresolved(t *testing.T) {
	f := fedtest.Generated("later", 2, []string{"us-west2"}, []string{fedtest.DefaultFleetProject, "svc-a"}).Build()
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if diff := cmp.Diff([]string{fedtest.DefaultFleetProject, "svc-a"}, d.Unresolved); diff != "" {
		t.Errorf("Unresolved (-want +got):\n%s", diff)
	}
	if !d.Mesh.MeshIDUnresolved || d.Mesh.MeshID != "proj-<number of fleet-project, read at plan time>" {
		t.Errorf("mesh ID %q unresolved=%v", d.Mesh.MeshID, d.Mesh.MeshIDUnresolved)
	}
	for _, c := range d.Clusters {
		if !c.LabelsUnresolved || c.Labels["mesh_id"] != d.Mesh.MeshID {
			t.Errorf("cluster %s: labels %v unresolved=%v", c.Name, c.Labels, c.LabelsUnresolved)
		}
	}
	for _, b := range d.SharedVPC.Bindings {
		if !b.Unresolved || !strings.Contains(b.Member, "<number of svc-a, read at plan time>") {
			t.Errorf("binding %s: unresolved=%v", b.Address, b.Unresolved)
		}
	}

	// The number written in the file settles the mesh ID offline.
	f = fedtest.Generated("later", 2, []string{"us-west2"}, []string{fedtest.DefaultFleetProject}).
		FleetProject(fedtest.DefaultFleetProject, 42).Build()
	d, err = federation.Compile(f, federation.Facts{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if d.Mesh.MeshID != "proj-42" || !d.Resolved() {
		t.Errorf("mesh ID %q, unresolved %v; want proj-42 and resolved", d.Mesh.MeshID, d.Unresolved)
	}
}

func TestCompileManagedControlPlane(t *testing.T) {
	f := fedtest.Generated("managed", 2, []string{"us-west2"}, []string{fedtest.DefaultFleetProject, "svc-a"}).
		Mesh(func(m *v1alpha1.Mesh) { m.ControlPlane = v1alpha1.ControlPlaneManaged }).Build()
	d, err := federation.Compile(f, federation.Facts{ProjectNumbers: map[string]int64{fedtest.DefaultFleetProject: 7, "svc-a": 8}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	var got []string
	for _, b := range d.IAMBindings {
		got = append(got, b.Resource+" "+b.Role+" "+b.Member)
	}
	want := []string{
		"projects/svc-a roles/anthosservicemesh.serviceAgent serviceAccount:service-7@gcp-sa-servicemesh.iam.gserviceaccount.com",
		"projects/svc-a roles/gkehub.crossProjectServiceAgent serviceAccount:service-7@gcp-sa-gkehub.iam.gserviceaccount.com",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IAM bindings (-want +got):\n%s", diff)
	}
	var mesh string
	for _, a := range d.APIs {
		if a.Service == "mesh.googleapis.com" {
			mesh = a.Project + ": " + a.Reason
		}
	}
	if !strings.HasPrefix(mesh, fedtest.DefaultFleetProject+": ") || !strings.Contains(mesh, "managed control plane") || !strings.Contains(mesh, "managed CA") {
		t.Errorf("mesh.googleapis.com: %q, want it in the fleet project for the managed control plane and CA", mesh)
	}
}

func TestCompileOptions(t *testing.T) {
	base := func() *fedtest.Builder {
		return fedtest.New("opt").
			Admin("vpn", "172.20.0.0/16").
			Cluster(fedtest.Cluster("west").Location("us-west2").
				Ranges("10.1.0.0/24", "10.101.0.0/16", "172.16.1.0/24", "192.168.1.0/28")).
			Cluster(fedtest.Cluster("west-b").Location("us-west2-b").
				Ranges("10.2.0.0/24", "10.102.0.0/16", "172.16.2.0/24", "192.168.2.0/28"))
	}
	tests := []struct {
		name  string
		build *fedtest.Builder
		check func(t *testing.T, d *federation.Desired)
	}{
		{
			name:  "zonal and regional clusters of one region need no global access",
			build: base(),
			check: func(t *testing.T, d *federation.Desired) {
				for _, c := range d.Clusters {
					if c.MasterGlobalAccess || c.Region != "us-west2" {
						t.Errorf("cluster %s: region %s global access %v", c.Name, c.Region, c.MasterGlobalAccess)
					}
				}
			},
		},
		{
			name:  "a bastion in another region needs global access",
			build: base().Subnet("admin", "us-east1", "10.9.0.0/24").Bastion("bastion", "us-east1-b", "admin"),
			check: func(t *testing.T, d *federation.Desired) {
				for _, c := range d.Clusters {
					if !c.MasterGlobalAccess || !strings.Contains(c.MasterGlobalAccessReason, "bastion bastion in us-east1") {
						t.Errorf("cluster %s: global access %v (%s)", c.Name, c.MasterGlobalAccess, c.MasterGlobalAccessReason)
					}
				}
			},
		},
		{
			name: "a cluster's own range equal to an admin range appears once, with both reasons",
			build: fedtest.New("opt").Admin("vpn", "172.20.0.0/16").
				Cluster(fedtest.Cluster("west").AuthorizedNetwork("vpn-again", "172.20.0.0/16").AuthorizedNetwork("ci", "10.50.0.0/24").
					Ranges("10.1.0.0/24", "10.101.0.0/16", "172.16.1.0/24", "192.168.1.0/28")),
			check: func(t *testing.T, d *federation.Desired) {
				want := []federation.AuthorizedNetwork{
					{DisplayName: "ci", CIDR: "10.50.0.0/24", Reason: "listed in the cluster's authorizedNetworks"},
					{DisplayName: "vpn", CIDR: "172.20.0.0/16", Reason: "admin network: administrators and automation run kubectl from it; listed in the cluster's authorizedNetworks"},
				}
				if diff := cmp.Diff(want, d.Clusters[0].MasterAuthorizedNetworks); diff != "" {
					t.Errorf("master authorized networks (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "cross-cluster ports and webhook ports are normalised",
			build: base().WebhookPorts(15017, 8443, 15017).CrossClusterPorts(
				v1alpha1.PortRule{Protocol: "UDP", Ports: []string{"53"}},
				v1alpha1.PortRule{Protocol: "tcp", Ports: []string{"15443", "8080-8090", "443"}}),
			check: func(t *testing.T, d *federation.Desired) {
				got := map[string][]federation.Allowed{}
				for _, r := range d.FirewallRules {
					got[r.Name] = r.Allowed
				}
				mesh := []federation.Allowed{{IPProtocol: "tcp", Ports: []string{"443", "8080-8090", "15443"}}, {IPProtocol: "udp", Ports: []string{"53"}}}
				want := map[string][]federation.Allowed{
					"asmfed-opt--admin":            {{IPProtocol: "tcp"}},
					"asmfed-opt--mesh-from-west":   mesh,
					"asmfed-opt--mesh-from-west-b": mesh,
					"asmfed-opt--webhooks":         {{IPProtocol: "tcp", Ports: []string{"8443", "15017"}}},
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("allowed (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "peer API server overrides the endpoint marker",
			build: base().Cluster(fedtest.Cluster("east").Location("us-east1").PeerAPIServer("https://10.9.9.9").Ranges("10.3.0.0/24", "10.103.0.0/16", "172.16.3.0/24", "192.168.3.0/28")),
			check: func(t *testing.T, d *federation.Desired) {
				for _, s := range d.RemoteSecrets {
					wantServer, fromEndpoint := federation.EndpointMarker(s.Target), true
					if s.Target == "east" {
						wantServer, fromEndpoint = "https://10.9.9.9", false
					}
					if s.Server != wantServer || s.ServerFromEndpoint != fromEndpoint {
						t.Errorf("secret %s: server %q (from endpoint %v), want %q", s.Address, s.Server, s.ServerFromEndpoint, wantServer)
					}
				}
			},
		},
		{
			name:  "NAT off",
			build: base().NAT(false, nil, nil),
			check: func(t *testing.T, d *federation.Desired) {
				if len(d.NATs) != 0 {
					t.Errorf("NATs = %+v, want none", d.NATs)
				}
			},
		},
		{
			name: "more node tags than a rule may target split the rule",
			build: base().Cluster(func() *fedtest.ClusterBuilder {
				c := fedtest.Cluster("many").Ranges("10.4.0.0/24", "10.104.0.0/16", "172.16.4.0/24", "192.168.4.0/28")
				var tags []string
				for i := 0; i < 80; i++ {
					tags = append(tags, fmt.Sprintf("t%02d", i))
				}
				return c.Tags(tags...)
			}()),
			check: func(t *testing.T, d *federation.Desired) {
				tags := map[string]int{}
				for _, r := range d.FirewallRules {
					tags[r.Name] = len(r.TargetTags)
				}
				want := map[string]int{
					"asmfed-opt--admin-1":            70,
					"asmfed-opt--admin-2":            12,
					"asmfed-opt--mesh-from-many":     2,
					"asmfed-opt--mesh-from-west-1":   70,
					"asmfed-opt--mesh-from-west-2":   11,
					"asmfed-opt--mesh-from-west-b-1": 70,
					"asmfed-opt--mesh-from-west-b-2": 11,
					"asmfed-opt--webhooks-1":         70,
					"asmfed-opt--webhooks-2":         12,
				}
				if diff := cmp.Diff(want, tags); diff != "" {
					t.Errorf("target tags per rule (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "a tag shared by two clusters is warned about",
			build: base().Cluster(fedtest.Cluster("east").Location("us-east1").Tags("west").Ranges("10.3.0.0/24", "10.103.0.0/16", "172.16.3.0/24", "192.168.3.0/28")),
			check: func(t *testing.T, d *federation.Desired) {
				want := []string{`network tag "west" is on nodes of clusters east and west: firewall rules cannot tell them apart, so mesh rules open more than the peers' nodes`}
				if diff := cmp.Diff(want, d.Warnings); diff != "" {
					t.Errorf("warnings (-want +got):\n%s", diff)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := federation.Compile(tt.build.Build(), federation.Facts{})
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			tt.check(t, d)
			checkReasons(t, d)
		})
	}
}

// checkReasons fails for any derived item without a reason: a plan must explain every change.
func checkReasons(t *testing.T, d *federation.Desired) {
	t.Helper()
	missing := func(what string) { t.Errorf("%s has no reason", what) }
	if d.Mesh.Reason == "" {
		missing("mesh")
	}
	if d.Network.Reason == "" {
		missing(string(d.Network.Address))
	}
	for _, s := range d.Subnets {
		if s.Reason == "" {
			missing(string(s.Address))
		}
	}
	if d.MeshFeature != nil && d.MeshFeature.Reason == "" {
		missing(string(d.MeshFeature.Address))
	}
	if d.Bastion != nil && d.Bastion.Reason == "" {
		missing(string(d.Bastion.Address))
	}
	for _, c := range d.Clusters {
		if c.Reason == "" {
			missing(string(c.Address))
		}
		for _, p := range c.NodePools {
			if p.Reason == "" {
				missing(string(p.Address))
			}
		}
		for _, o := range c.Objects {
			if o.Reason == "" {
				missing(string(o.Address))
			}
		}
		if c.MasterGlobalAccessReason == "" {
			missing(string(c.Address) + " global access")
		}
		for _, n := range c.MasterAuthorizedNetworks {
			if n.Reason == "" {
				missing(string(c.Address) + " authorized network " + n.CIDR)
			}
		}
	}
	for _, r := range d.FirewallRules {
		if r.Reason == "" {
			missing(string(r.Address))
		}
	}
	for _, n := range d.NATs {
		if n.Reason == "" {
			missing(string(n.Address))
		}
	}
	for _, s := range d.RemoteSecrets {
		if s.Reason == "" {
			missing(string(s.Address))
		}
	}
	for _, a := range d.APIs {
		if a.Reason == "" {
			missing(string(a.Address))
		}
	}
	for _, b := range d.IAMBindings {
		if b.Reason == "" {
			missing(string(b.Address))
		}
	}
	for _, m := range d.FleetMemberships {
		if m.Reason == "" {
			missing(string(m.Address))
		}
	}
	if s := d.SharedVPC; s != nil {
		if s.HostReason == "" {
			missing("shared VPC host")
		}
		for _, p := range s.ServiceProjects {
			if p.Reason == "" {
				missing(string(p.Address))
			}
		}
		for _, b := range s.Bindings {
			if b.Reason == "" {
				missing(string(b.Address))
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	two := func() *fedtest.Builder {
		return fedtest.Generated("bad", 2, []string{"us-west2"}, []string{fedtest.DefaultFleetProject})
	}
	tests := []struct {
		name  string
		fed   *v1alpha1.Federation
		facts federation.Facts
		want  string
	}{
		{name: "nil", fed: nil, want: "compile federation: nil federation"},
		{name: "no clusters", fed: fedtest.New("bad").Build(), want: "spec.clusters: no clusters (a federation needs at least one)"},
		{
			name: "unknown subnet",
			fed: func() *v1alpha1.Federation {
				f := two().Build()
				f.Spec.Clusters[1].Subnet = "nope"
				return f
			}(),
			want: `spec.clusters[1].subnet: subnet "nope" is not in spec.network.subnets`,
		},
		{
			name: "bad control-plane range",
			fed: func() *v1alpha1.Federation {
				f := two().Build()
				f.Spec.Clusters[0].ControlPlaneRange = "192.168.0.0/33"
				return f
			}(),
			want: `spec.clusters[].controlPlaneRange: "192.168.0.0/33" is not a CIDR`,
		},
		{
			name: "NAT region without subnets",
			fed:  two().NAT(true, []string{"us-west2", "us-east1"}, nil).Build(),
			want: `spec.network.cloudNAT.regions: region "us-east1" has none of spec.network.cloudNAT.subnets (add a subnet of us-east1 or remove the region)`,
		},
		{
			name:  "fleet number disagrees with Resource Manager",
			fed:   two().FleetProject(fedtest.DefaultFleetProject, 5).Build(),
			facts: federation.Facts{ProjectNumbers: map[string]int64{fedtest.DefaultFleetProject: 6}},
			want:  `spec.fleetProjectNumber: 5, but project "fleet-project" has number 6`,
		},
		{
			name: "federation name that makes invalid resource names",
			fed: func() *v1alpha1.Federation {
				f := two().Build()
				f.Metadata.Name = "Bad_Name"
				return f
			}(),
			want: `metadata.name: "Bad_Name" cannot name a federation`,
		},
		{
			name: "federation name with the separator of generated names",
			fed: func() *v1alpha1.Federation {
				f := two().Build()
				f.Metadata.Name = "prod--eu"
				return f
			}(),
			want: `metadata.name: "prod--eu" cannot name a federation`,
		},
		{
			// Cluster a's mesh rule is split in chunks a-1, a-2 (a-1 has more tags than a rule
			// holds), and cluster a-1's own mesh rule would take the first chunk's name.
			name: "generated firewall names collide",
			fed: func() *v1alpha1.Federation {
				var tags []string
				for i := range 71 {
					tags = append(tags, fmt.Sprintf("t%d", i))
				}
				return fedtest.New("prod").
					Cluster(fedtest.Cluster("a").Ranges("10.0.0.0/24", "10.100.0.0/16", "10.200.0.0/20", "172.16.0.0/28")).
					Cluster(fedtest.Cluster("a-1").Ranges("10.0.1.0/24", "10.101.0.0/16", "10.201.0.0/20", "172.16.0.16/28").Tags(tags...)).
					Build()
			}(),
			want: `spec.clusters[1].name: firewall rule name asmfed-prod--mesh-from-a-1 is generated for both`,
		},
		{
			name: "unknown cross-cluster protocol",
			fed:  two().CrossClusterPorts(v1alpha1.PortRule{Protocol: "gre"}).Build(),
			want: `spec.mesh.crossClusterPorts[0].protocol: "gre" is not tcp, udp, icmp, sctp or all`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := federation.Compile(tt.fed, tt.facts)
			if err == nil {
				t.Fatalf("Compile succeeded with %d rules, want error %q", len(d.FirewallRules), tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n got %q\nwant prefix %q", err.Error(), tt.want)
			}
		})
	}
}
