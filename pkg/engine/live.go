package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"golang.org/x/sync/errgroup"
	hubv1 "google.golang.org/api/gkehub/v1"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// snapshot is everything read from Google Cloud for one plan, in a few wide calls per project.
type snapshot struct {
	numbers     map[string]int64
	services    map[string][]string
	networks    []*computepb.Network
	subnetworks []*computepb.Subnetwork
	firewalls   []*computepb.Firewall
	routers     []*computepb.Router
	xpnHost     bool
	xpnServices []string
	clusters    map[string][]*containerpb.Cluster
	memberships []*gkehubpb.Membership
	// meshFeature is the fleet servicemesh feature, nil when it is not enabled.
	meshFeature *hubv1.Feature
	// policies are the IAM bindings (role → members) of the resources the federation binds
	// roles on, keyed by resource name; a resource that does not exist yet has none.
	policies map[string]map[string]map[string]bool
}

// projectsOf lists every project a federation touches.
func projectsOf(f *v1alpha1.Federation) []string {
	seen := map[string]bool{f.Spec.FleetProject: true, f.Spec.Network.Project: true}
	for _, c := range f.Spec.Clusters {
		seen[c.Project] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func clusterProjects(f *v1alpha1.Federation) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range f.Spec.Clusters {
		if !seen[c.Project] {
			seen[c.Project] = true
			out = append(out, c.Project)
		}
	}
	sort.Strings(out)
	return out
}

// read takes the snapshot: every list runs in parallel.
func (e *Engine) read(ctx context.Context, f *v1alpha1.Federation) (*snapshot, error) {
	s := &snapshot{numbers: map[string]int64{}, services: map[string][]string{}, clusters: map[string][]*containerpb.Cluster{},
		policies: map[string]map[string]map[string]bool{}}
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.ReadParallelism)
	netProject := f.Spec.Network.Project
	for _, p := range projectsOf(f) {
		g.Go(func() error {
			n, err := e.gcp.ProjectNumber(ctx, p)
			mu.Lock()
			s.numbers[p] = n
			mu.Unlock()
			return err
		})
		g.Go(func() error {
			svcs, err := e.gcp.EnabledServices(ctx, p)
			mu.Lock()
			s.services[p] = svcs
			mu.Unlock()
			return err
		})
	}
	g.Go(func() (err error) { s.networks, err = e.gcp.Networks(ctx, netProject); return err })
	g.Go(func() (err error) { s.subnetworks, err = e.gcp.Subnetworks(ctx, netProject); return err })
	g.Go(func() (err error) { s.firewalls, err = e.gcp.Firewalls(ctx, netProject); return err })
	g.Go(func() (err error) { s.routers, err = e.gcp.Routers(ctx, netProject); return err })
	if sharedVPC(f) {
		g.Go(func() (err error) { s.xpnHost, err = e.gcp.XpnHost(ctx, netProject); return err })
		g.Go(func() (err error) { s.xpnServices, err = e.gcp.XpnServiceProjects(ctx, netProject); return err })
	}
	for _, p := range clusterProjects(f) {
		g.Go(func() error {
			cls, err := e.gcp.Clusters(ctx, p)
			mu.Lock()
			s.clusters[p] = cls
			mu.Unlock()
			return err
		})
	}
	g.Go(func() (err error) { s.memberships, err = e.gcp.Memberships(ctx, f.Spec.FleetProject); return err })
	if f.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
		g.Go(func() error {
			feat, err := e.gcp.Feature(ctx, f.Spec.FleetProject, meshFeature)
			if isNotFound(err) {
				return nil
			}
			s.meshFeature = feat
			return err
		})
	}
	// Which resources carry IAM bindings does not depend on project numbers (only the members
	// do), so their policies are read in the same round as everything else.
	for _, res := range bindingResources(f) {
		g.Go(func() error {
			members, err := e.readPolicy(ctx, res)
			mu.Lock()
			s.policies[res] = members
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("read live state: %w", err)
	}
	return s, nil
}

func sharedVPC(f *v1alpha1.Federation) bool {
	for _, c := range f.Spec.Clusters {
		if c.Project != f.Spec.Network.Project {
			return true
		}
	}
	return false
}

func hasMarker(description, fed string) bool {
	return strings.HasPrefix(description, federation.DescriptionMarker(fed))
}

func ownedLabels(labels map[string]string, fed string) bool {
	return labels[federation.LabelManagedBy] == federation.ManagedByValue && labels[federation.LabelFederation] == fed
}

// liveState turns the snapshot into plan resources: the ones the federation wants, and the ones
// it owns (which it may delete). Everything else in the projects is none of its business and is
// left out, so that unrelated changes never make a saved plan stale.
func (e *Engine) liveState(f *v1alpha1.Federation, s *snapshot, desired []*object) ([]*object, error) {
	fed := f.Metadata.Name
	want := map[plan.Address]*object{}
	for _, o := range desired {
		want[o.res.Address] = o
	}
	var out []*object
	keep := func(o *object, owned bool) {
		o.res.Owned = owned
		o.res.Protected = o.res.Kind == kindCluster || o.res.Kind == kindNetwork
		if _, wanted := want[o.res.Address]; wanted || owned {
			if d, ok := want[o.res.Address]; ok {
				o.res.Group, o.res.Kind = d.res.Group, d.res.Kind
				o.res.Sensitive, o.res.Protected = d.res.Sensitive, d.res.Protected
			}
			out = append(out, o)
		}
	}
	netProject := f.Spec.Network.Project

	for project, svcs := range s.services {
		for _, svc := range svcs {
			keep(&object{res: plan.Resource{Address: apiAddr(project, svc), Kind: kindAPI, Group: "project " + project,
				Fields: map[string]any{"state": "ENABLED"}}, project: project, parent: svc}, false)
		}
	}
	for _, n := range s.networks {
		keep(&object{res: plan.Resource{Address: networkAddr(netProject, n.GetName()), Kind: kindNetwork, Group: "project " + netProject,
			Fields: networkFields(n)}, msg: n, project: netProject}, hasMarker(n.GetDescription(), fed))
	}
	for _, sn := range s.subnetworks {
		region := lastSegment(sn.GetRegion())
		keep(&object{res: plan.Resource{Address: subnetAddr(netProject, region, sn.GetName()), Kind: kindSubnetwork, Group: "project " + netProject,
			Fields: subnetworkFields(sn), DependsOn: []plan.Address{plan.Address("gcp:" + shortLink(sn.GetNetwork()))}}, msg: sn, project: netProject, location: region},
			hasMarker(sn.GetDescription(), fed))
	}
	for _, fw := range s.firewalls {
		keep(&object{res: plan.Resource{Address: plan.Address(fmt.Sprintf("gcp:projects/%s/global/firewalls/%s", netProject, fw.GetName())), Kind: kindFirewall,
			Group: "project " + netProject, Fields: firewallFields(fw), DependsOn: []plan.Address{plan.Address("gcp:" + shortLink(fw.GetNetwork()))}},
			msg: fw, project: netProject}, hasMarker(fw.GetDescription(), fed))
	}
	for _, r := range s.routers {
		region := lastSegment(r.GetRegion())
		deps := []plan.Address{plan.Address("gcp:" + shortLink(r.GetNetwork()))}
		for _, n := range r.GetNats() {
			for _, sn := range n.GetSubnetworks() {
				deps = append(deps, plan.Address("gcp:"+shortLink(sn.GetName())))
			}
		}
		keep(&object{res: plan.Resource{Address: plan.Address(fmt.Sprintf("gcp:projects/%s/regions/%s/routers/%s", netProject, region, r.GetName())), Kind: kindRouter,
			Group: "project " + netProject, Fields: routerFields(r), DependsOn: deps},
			msg: r, project: netProject, location: region}, hasMarker(r.GetDescription(), fed))
	}
	if s.xpnHost {
		keep(&object{res: plan.Resource{Address: xpnHostAddr(netProject), Kind: kindXpnHost, Fields: map[string]any{"enabled": true}}, project: netProject}, false)
	}
	for _, sp := range s.xpnServices {
		keep(&object{res: plan.Resource{Address: plan.Address(fmt.Sprintf("gcp:projects/%s/xpnResources/%s", netProject, sp)), Kind: kindXpnService,
			Fields: map[string]any{"attached": true}}, project: netProject, parent: sp}, false)
	}
	for _, o := range liveBindings(s, desired) {
		keep(o, false)
	}
	if s.meshFeature != nil {
		if d, ok := want[featureAddr(f.Spec.FleetProject)]; ok {
			keys := map[string]bool{}
			for k := range d.res.Fields["membershipSpecs"].(map[string]any) {
				keys[k] = true
			}
			// The feature is the fleet's, shared with clusters outside the federation: the
			// federation manages the specs of its own memberships only, and never deletes it.
			keep(&object{res: plan.Resource{Address: featureAddr(f.Spec.FleetProject), Kind: kindFeature, Group: "project " + f.Spec.FleetProject,
				Fields: featureFields(s.meshFeature, keys)}, msg: s.meshFeature, project: f.Spec.FleetProject}, true)
		}
	}
	for project, cls := range s.clusters {
		for _, c := range cls {
			addr := plan.Address(fmt.Sprintf("gke:projects/%s/locations/%s/clusters/%s", project, c.GetLocation(), c.GetName()))
			fields := clusterFields(c, project)
			owned := ownedLabels(c.GetResourceLabels(), fed)
			if d, ok := want[addr]; ok {
				fields["labels"] = scopeLabels(fields["labels"].(map[string]any), d.res.Fields["labels"])
			}
			// A cluster is deleted before the subnet and network it uses.
			deps := []plan.Address{plan.Address("gcp:" + fields["subnetwork"].(string)), plan.Address("gcp:" + fields["network"].(string))}
			keep(&object{res: plan.Resource{Address: addr, Kind: kindCluster, Group: "cluster " + c.GetName(), Fields: fields, DependsOn: deps},
				msg: c, project: project, location: c.GetLocation()}, owned)
			for _, np := range c.GetNodePools() {
				keep(&object{res: plan.Resource{Address: nodePoolAddr(addr, np.GetName()), Kind: kindNodePool, Group: "cluster " + c.GetName(),
					Fields: nodePoolFields(np), DependsOn: []plan.Address{addr}}, msg: np, project: project, location: c.GetLocation(), parent: c.GetName()}, owned)
			}
		}
	}
	for _, m := range s.memberships {
		name := m.GetName() // projects/p/locations/l/memberships/id
		var deps []plan.Address
		if link := m.GetEndpoint().GetGkeCluster().GetResourceLink(); link != "" {
			deps = append(deps, plan.Address("gke:"+shortLink(link)))
		}
		keep(&object{res: plan.Resource{Address: plan.Address("gcp:" + name), Kind: kindMembership, Group: "project " + f.Spec.FleetProject,
			Fields: membershipFields(m), DependsOn: deps}, msg: m, project: f.Spec.FleetProject, location: segmentAfter(name, "locations"), parent: lastSegment(name)},
			ownedLabels(m.GetLabels(), fed))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].res.Address < out[j].res.Address })
	return out, nil
}

// scopeLabels keeps the live labels the federation manages: the keys it sets. Labels others add
// (billing, GKE's own) are not the federation's to remove.
func scopeLabels(live map[string]any, desired any) map[string]any {
	want, _ := desired.(map[string]any)
	if want == nil {
		if m, ok := desired.(map[string]string); ok {
			want = map[string]any{}
			for k, v := range m {
				want[k] = v
			}
		}
	}
	out := map[string]any{}
	for k := range want {
		if v, ok := live[k]; ok {
			out[k] = v
		}
	}
	return out
}

// bindingResources lists the resources (projects/p, projects/p/regions/r/subnetworks/s) on
// which the federation binds IAM roles.
func bindingResources(f *v1alpha1.Federation) []string {
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(bs []federation.IAMBinding) {
		for _, b := range bs {
			if !seen[b.Resource] {
				seen[b.Resource] = true
				out = append(out, b.Resource)
			}
		}
	}
	add(d.IAMBindings)
	if d.SharedVPC != nil {
		add(d.SharedVPC.Bindings)
	}
	sort.Strings(out)
	return out
}

// readPolicy reads the bindings of one IAM policy as role → members.
func (e *Engine) readPolicy(ctx context.Context, resource string) (map[string]map[string]bool, error) {
	members := map[string]map[string]bool{}
	project, region, subnet := parseIAMResource(resource)
	if subnet != "" {
		p, err := e.gcp.SubnetworkIAMPolicy(ctx, project, region, subnet)
		if isNotFound(err) {
			return members, nil // the subnet does not exist yet
		}
		if err != nil {
			return nil, err
		}
		for _, b := range p.GetBindings() {
			members[b.GetRole()] = setOf(b.GetMembers())
		}
		return members, nil
	}
	p, err := e.gcp.ProjectIAMPolicy(ctx, project)
	if err != nil {
		return nil, err
	}
	for _, b := range p.GetBindings() {
		members[b.GetRole()] = setOf(b.GetMembers())
	}
	return members, nil
}

// liveBindings finds the desired bindings that already exist in the policies read.
func liveBindings(s *snapshot, desired []*object) []*object {
	var out []*object
	for _, o := range desired {
		if o.res.Kind != kindIAM {
			continue
		}
		resource := "projects/" + o.project
		if o.parent != "" {
			resource = fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", o.project, o.location, o.parent)
		}
		role, member := o.res.Fields["role"].(string), o.res.Fields["member"].(string)
		if s.policies[resource][role][member] {
			out = append(out, &object{res: plan.Resource{Address: o.res.Address, Kind: kindIAM, Group: o.res.Group,
				Fields: map[string]any{"role": role, "member": member}}, project: o.project, location: o.location, parent: o.parent})
		}
	}
	return out
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

func lastSegment(link string) string {
	return link[strings.LastIndex(link, "/")+1:]
}

func segmentAfter(name, key string) string {
	parts := strings.Split(name, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == key {
			return parts[i+1]
		}
	}
	return ""
}
