package gcplayer

import (
	"context"
	"fmt"
	"maps"
	"slices"
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
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
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
	instances   []*computepb.Instance
	xpnHost     bool
	xpnServices []string
	clusters    map[string][]*containerpb.Cluster
	memberships []*gkehubpb.Membership
	// running are the operations not done in the projects the federation touches: compute's
	// in the network's project, GKE's in the clusters' projects, Service Usage's.
	running []gcp.Operation
	// meshFeature is the fleet servicemesh feature, nil when it is not enabled.
	meshFeature *hubv1.Feature
	// policies are the IAM bindings (role → members) of the resources the federation binds
	// roles on, keyed by resource name; a resource that does not exist yet has none.
	policies map[string]map[string]map[string]bool
	// cloudSQL is what the Cloud SQL add-on reads (cloudsql.go).
	cloudSQL *cloudSQLSnapshot
	// record is the federation's adoption record (record.go), nil when it has none.
	record *adoptionRecord
}

// projectsOf lists every project a federation touches.
func projectsOf(d *federation.Desired) []string {
	seen := map[string]bool{d.FleetProject: true, d.Network.Project: true}
	for _, c := range d.Clusters {
		seen[c.Project] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

func clusterProjects(d *federation.Desired) []string {
	seen := map[string]bool{}
	for _, c := range d.Clusters {
		seen[c.Project] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// scope is what a federation's file names directly and the reads of most lists need: the
// projects, the network's project, the fleet project. It is the same taken from the file or from
// the model compiled from it (TestScopeOfFileIsScopeOfModel).
type scope struct {
	federation, fleet, network string
	// projects are every project the federation touches, clusterProjects those of its clusters.
	projects, clusterProjects []string
}

func scopeOf(d *federation.Desired) scope {
	return scope{federation: d.Federation, fleet: d.FleetProject, network: d.Network.Project, projects: projectsOf(d), clusterProjects: clusterProjects(d)}
}

// scopeOfFile is scopeOf the model of a defaulted federation, taken from the file.
func scopeOfFile(f *v1alpha1.Federation) scope {
	all := map[string]bool{f.Spec.FleetProject: true, f.Spec.Network.Project: true}
	clusters := map[string]bool{}
	for _, c := range f.Spec.Clusters {
		all[c.Project], clusters[c.Project] = true, true
	}
	return scope{federation: f.Metadata.Name, fleet: f.Spec.FleetProject, network: f.Spec.Network.Project,
		projects: slices.Sorted(maps.Keys(all)), clusterProjects: slices.Sorted(maps.Keys(clusters))}
}

// read takes the snapshot: every list runs in parallel. d may still hold placeholders for
// project numbers (which the snapshot reads): what is read does not depend on them.
func (e *Layer) read(ctx context.Context, d *federation.Desired) (*snapshot, error) {
	return e.readWith(ctx, scopeOf(d), func() (*federation.Desired, error) { return d, nil })
}

// readWith reads, in one round, the lists sc names and, as soon as model returns, what the
// model says beside them (Shared VPC, the mesh feature, Cloud SQL, the IAM policies bound): a
// model still compiling delays only those. An error of model is returned as it is.
func (e *Layer) readWith(ctx context.Context, sc scope, model func() (*federation.Desired, error)) (*snapshot, error) {
	s := &snapshot{numbers: map[string]int64{}, services: map[string][]string{}, clusters: map[string][]*containerpb.Cluster{},
		policies: map[string]map[string]map[string]bool{}}
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.ReadParallelism)
	var modelErr error
	g.Go(func() error {
		d, err := model()
		if err != nil {
			modelErr = err
			return err
		}
		// Called from within the group, Go waits for a free slot like the reads above.
		e.readModel(ctx, g, d, s, &mu)
		return nil
	})
	netProject := sc.network
	for _, p := range sc.projects {
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
	g.Go(func() (err error) { s.instances, err = e.gcp.Instances(ctx, netProject); return err })
	for _, p := range sc.clusterProjects {
		g.Go(func() error {
			cls, err := e.gcp.Clusters(ctx, p)
			mu.Lock()
			s.clusters[p] = cls
			mu.Unlock()
			return err
		})
		g.Go(func() error {
			ops, err := e.gcp.RunningContainerOperations(ctx, p)
			mu.Lock()
			s.running = append(s.running, ops...)
			mu.Unlock()
			return err
		})
	}
	// Operations an earlier apply left running: it is waited for, not started again.
	g.Go(func() error {
		ops, err := e.gcp.RunningComputeOperations(ctx, netProject)
		mu.Lock()
		s.running = append(s.running, ops...)
		mu.Unlock()
		return err
	})
	g.Go(func() error {
		ops, err := e.gcp.RunningServiceOperations(ctx)
		mu.Lock()
		s.running = append(s.running, ops...)
		mu.Unlock()
		return err
	})
	g.Go(func() (err error) { s.memberships, err = e.gcp.Memberships(ctx, sc.fleet); return err })
	g.Go(func() (err error) { s.record, err = e.readRecord(ctx, sc.fleet, sc.federation); return err })
	if err := g.Wait(); err != nil {
		if modelErr != nil {
			return nil, modelErr
		}
		return nil, fmt.Errorf("read live state: %w", err)
	}
	return s, nil
}

// readModel adds to g the reads that follow from the model rather than the file.
func (e *Layer) readModel(ctx context.Context, g *errgroup.Group, d *federation.Desired, s *snapshot, mu *sync.Mutex) {
	netProject := d.Network.Project
	if d.SharedVPC != nil {
		g.Go(func() (err error) { s.xpnHost, err = e.gcp.XpnHost(ctx, netProject); return err })
		g.Go(func() (err error) { s.xpnServices, err = e.gcp.XpnServiceProjects(ctx, netProject); return err })
	}
	if d.MeshFeature != nil {
		g.Go(func() error {
			feat, err := e.gcp.Feature(ctx, d.FleetProject, federation.MeshFeatureName)
			if isNotFound(err) {
				return nil
			}
			s.meshFeature = feat
			return err
		})
	}
	g.Go(func() (err error) { s.cloudSQL, err = e.readCloudSQL(ctx, d); return err })
	// Which resources carry IAM bindings does not depend on project numbers (only the members
	// do), so their policies are read in the same round as everything else.
	for _, res := range bindingResources(d) {
		g.Go(func() error {
			members, err := e.readPolicy(ctx, res)
			mu.Lock()
			s.policies[res] = members
			mu.Unlock()
			return err
		})
	}
}

// hasMarker reports whether a description carries fed's mark exactly: federation prod does not
// own what prod-eu marked.
func hasMarker(description, fed string) bool {
	return federation.OwnsDescription(description, fed)
}

// poolOwned decides a node pool's ownership by its own mark, not its cluster's: a pool added by
// hand or by node auto-provisioning in an owned cluster is not the federation's. A pool the file
// names in a cluster the federation owns is its own too: pools created before they carried a
// mark are adopted, and the plan adds the mark.
func poolOwned(np *containerpb.NodePool, fed string, clusterOwned, wanted bool) bool {
	return ownedLabels(np.GetConfig().GetResourceLabels(), fed) || (clusterOwned && wanted)
}

// membershipAdopted decides whether a membership the file names, without the federation's mark,
// is its own all the same: it is when it registers exactly the cluster the file wants it for and
// the federation owns that cluster (a cluster registered by hand, with gcloud, say). The plan then
// adds the mark, and the authority when fleet Workload Identity is off. A membership of another
// cluster, or of a cluster the federation does not own, stays a conflict.
func membershipAdopted(live, desired map[string]any, clusterOwned bool) bool {
	return clusterOwned && live["resourceLink"] == desired["resourceLink"]
}

// foreignPools says, for each cluster of the federation, which node pools are not its own and
// are left alone.
func foreignPools(d *federation.Desired, s *snapshot, live []*object) []string {
	seen := map[plan.Address]bool{}
	for _, o := range live {
		seen[o.res.Address] = true
	}
	var notes []string
	for _, cd := range d.Clusters {
		for _, c := range s.clusters[cd.Project] {
			if c.GetName() != cd.Name || c.GetLocation() != cd.Location || !ownedLabels(c.GetResourceLabels(), d.Federation) {
				continue
			}
			var names []string
			for _, np := range c.GetNodePools() {
				if !seen[plan.NodePoolAddress(cd.Project, cd.Location, cd.Name, np.GetName())] {
					names = append(names, np.GetName())
				}
			}
			if len(names) > 0 {
				sort.Strings(names)
				notes = append(notes, fmt.Sprintf("node pools %s of cluster %s carry no mark of federation %s (added by hand or by node auto-provisioning): left alone",
					strings.Join(names, ", "), cd.Name, d.Federation))
			}
		}
	}
	return notes
}

// unhealthyClusters turns the change of every owned cluster GKE reports in ERROR or DEGRADED into
// a replacement: such a cluster does not recover by itself, and leaving it as it is would call the
// federation converged. Replacing a cluster is protected, so apply needs --allow-destroy; the
// warning says so either way.
func unhealthyClusters(p *plan.Plan, s *snapshot, fed string) {
	status := map[plan.Address]*containerpb.Cluster{}
	for project, cls := range s.clusters {
		for _, c := range cls {
			switch c.GetStatus() {
			case containerpb.Cluster_ERROR, containerpb.Cluster_DEGRADED:
				if ownedLabels(c.GetResourceLabels(), fed) {
					status[plan.ClusterAddress(project, c.GetLocation(), c.GetName())] = c
				}
			}
		}
	}
	for i := range p.Changes {
		ch := &p.Changes[i]
		c := status[ch.Address]
		if c == nil || (ch.Action != plan.NoOp && ch.Action != plan.Update) {
			continue
		}
		msg := c.GetStatusMessage()
		if msg == "" {
			msg = "no status message"
		}
		ch.Action = plan.Replace
		ch.Protected = true
		ch.ActionReason = fmt.Sprintf("GKE reports the cluster %s (%s); it does not recover by itself", c.GetStatus(), msg)
		p.Warnings = append(p.Warnings, fmt.Sprintf("cluster %s is %s: %s", c.GetName(), c.GetStatus(), msg))
	}
	p.Recount()
}

// otherFederation names the other federation whose mark an API object carries, in its
// description or its labels (resource labels of a cluster), or "".
func otherFederation(msg any, fed string) string {
	if d, ok := msg.(interface{ GetDescription() string }); ok {
		if other, marked := federation.ParseDescriptionMarker(d.GetDescription()); marked && other != fed {
			return other
		}
	}
	var labels map[string]string
	switch m := msg.(type) {
	case interface{ GetResourceLabels() map[string]string }:
		labels = m.GetResourceLabels()
	case interface{ GetLabels() map[string]string }:
		labels = m.GetLabels()
	}
	if other := labels[federation.LabelFederation]; labels[federation.LabelManagedBy] == federation.ManagedByValue && other != "" && other != fed {
		return other
	}
	return ""
}

func ownedLabels(labels map[string]string, fed string) bool {
	return labels[federation.LabelManagedBy] == federation.ManagedByValue && labels[federation.LabelFederation] == fed
}

// liveState turns the snapshot into plan resources: the ones the federation wants, and the ones
// it owns (which it may delete). Everything else in the projects is none of its business and is
// left out, so that unrelated changes never make a saved plan stale.
func liveState(d *federation.Desired, s *snapshot, desired []*object) []*object {
	fed := d.Federation
	want := map[plan.Address]*object{}
	for _, o := range desired {
		want[o.res.Address] = o
	}
	var out []*object
	keep := func(o *object, owned bool) {
		o.res.Owned = owned
		o.res.OwnedBy = otherFederation(o.msg, fed)
		o.res.Protected = o.res.Kind == plan.KindCluster || o.res.Kind == plan.KindNetwork || o.res.Kind == plan.KindNodePool
		if _, wanted := want[o.res.Address]; wanted || owned {
			if d, ok := want[o.res.Address]; ok {
				o.res.Group, o.res.Kind = d.res.Group, d.res.Kind
				o.res.Sensitive, o.res.Protected = d.res.Sensitive, d.res.Protected
			}
			out = append(out, o)
		}
	}
	netProject := d.Network.Project

	for project, svcs := range s.services {
		for _, svc := range svcs {
			keep(&object{res: plan.Resource{Address: plan.APIAddress(project, svc), Kind: plan.KindAPI, Group: "project " + project,
				Fields: map[string]any{"state": "ENABLED"}}, project: project, parent: svc}, false)
		}
	}
	// A network or subnetwork is the federation's when its description carries the mark (it was
	// created so) or the adoption record lists it, by address and number (it was adopted).
	creationMark := func(o *object, description string) {
		mark := ""
		switch {
		case hasMarker(description, fed):
			mark = markDescription
		case s.record.has(o.res.Address, idOf(o)):
			mark, o.recorded = recordMark(d.FleetProject, fed), true
		}
		o.res.Fields["mark"] = mark
		keep(o, mark != "")
	}
	for _, n := range s.networks {
		creationMark(&object{res: plan.Resource{Address: plan.NetworkAddress(netProject, n.GetName()), Kind: plan.KindNetwork, Group: "project " + netProject,
			Fields: networkFields(n)}, msg: n, project: netProject}, n.GetDescription())
	}
	for _, sn := range s.subnetworks {
		region := lastSegment(sn.GetRegion())
		creationMark(&object{res: plan.Resource{Address: plan.SubnetworkAddress(netProject, region, sn.GetName()), Kind: plan.KindSubnetwork, Group: "project " + netProject,
			Fields: subnetworkFields(sn), DependsOn: []plan.Address{networkOf(sn.GetNetwork())}}, msg: sn, project: netProject, location: region},
			sn.GetDescription())
	}
	for _, fw := range s.firewalls {
		keep(&object{res: plan.Resource{Address: plan.FirewallAddress(netProject, fw.GetName()), Kind: plan.KindFirewall,
			Group: "project " + netProject, Fields: firewallFields(fw), DependsOn: []plan.Address{networkOf(fw.GetNetwork())}},
			msg: fw, project: netProject}, hasMarker(fw.GetDescription(), fed))
	}
	for _, r := range s.routers {
		region := lastSegment(r.GetRegion())
		deps := []plan.Address{networkOf(r.GetNetwork())}
		for _, n := range r.GetNats() {
			for _, sn := range n.GetSubnetworks() {
				deps = append(deps, subnetworkOf(sn.GetName()))
			}
		}
		addr := plan.RouterAddress(netProject, region, r.GetName())
		var only map[string]bool
		if w, ok := want[addr]; ok {
			only = map[string]bool{}
			for _, n := range w.msg.(*computepb.Router).GetNats() {
				only[n.GetName()] = true
			}
		}
		keep(&object{res: plan.Resource{Address: addr, Kind: plan.KindRouter,
			Group: "project " + netProject, Fields: routerFields(r, only), DependsOn: deps},
			msg: r, project: netProject, location: region}, hasMarker(r.GetDescription(), fed))
	}
	for _, o := range liveInstances(d, s, want) {
		keep(o, o.res.Owned)
	}
	if s.xpnHost {
		keep(&object{res: plan.Resource{Address: plan.XpnHostAddress(netProject), Kind: plan.KindXpnHost, Fields: map[string]any{"enabled": true}}, project: netProject}, false)
	}
	for _, sp := range s.xpnServices {
		keep(&object{res: plan.Resource{Address: plan.XpnServiceAddress(netProject, sp), Kind: plan.KindXpnService,
			Fields: map[string]any{"attached": true}}, project: netProject, parent: sp}, false)
	}
	cloudSQLLive := map[plan.Address]bool{}
	for _, o := range liveCloudSQL(d, s.cloudSQL, s) {
		cloudSQLLive[o.res.Address] = true
		keep(o, o.res.Owned)
	}
	for _, o := range liveBindings(s, desired) {
		if !cloudSQLLive[o.res.Address] {
			keep(o, false)
		}
	}
	if s.meshFeature != nil && d.MeshFeature != nil {
		if w, ok := want[d.MeshFeature.Address]; ok {
			keys := map[string]bool{}
			for k := range w.res.Fields["membershipSpecs"].(map[string]any) {
				keys[k] = true
			}
			// The feature is the fleet's, shared with clusters outside the federation: the
			// federation manages the specs of its own memberships only, and never deletes it.
			keep(&object{res: plan.Resource{Address: d.MeshFeature.Address, Kind: plan.KindFeature, Group: "project " + d.FleetProject,
				Fields: featureFields(s.meshFeature, keys)}, msg: s.meshFeature, project: d.FleetProject}, true)
		}
	}
	for project, cls := range s.clusters {
		for _, c := range cls {
			addr := plan.ClusterAddress(project, c.GetLocation(), c.GetName())
			fields := clusterFields(c, project)
			owned := ownedLabels(c.GetResourceLabels(), fed)
			if w, ok := want[addr]; ok {
				fields["labels"] = scopeLabels(fields["labels"].(map[string]any), w.res.Fields["labels"])
			}
			// A cluster is deleted before the subnet and network it uses.
			deps := []plan.Address{subnetworkOf(fields["subnetwork"].(string)), networkOf(fields["network"].(string))}
			keep(&object{res: plan.Resource{Address: addr, Kind: plan.KindCluster, Group: "cluster " + c.GetName(), Fields: fields, DependsOn: deps},
				msg: c, project: project, location: c.GetLocation()}, owned)
			for _, np := range c.GetNodePools() {
				paddr := plan.NodePoolAddress(project, c.GetLocation(), c.GetName(), np.GetName())
				pfields := nodePoolFields(np)
				w, wanted := want[paddr]
				if wanted {
					pfields["labels"] = scopeLabels(pfields["labels"].(map[string]any), w.res.Fields["labels"])
				}
				keep(&object{res: plan.Resource{Address: paddr, Kind: plan.KindNodePool, Group: "cluster " + c.GetName(),
					Fields: pfields, DependsOn: []plan.Address{addr}}, msg: np, project: project, location: c.GetLocation(), parent: c.GetName()},
					poolOwned(np, fed, owned, wanted))
			}
		}
	}
	ownedClusters := map[plan.Address]bool{}
	for project, cls := range s.clusters {
		for _, c := range cls {
			if ownedLabels(c.GetResourceLabels(), fed) {
				ownedClusters[plan.ClusterAddress(project, c.GetLocation(), c.GetName())] = true
			}
		}
	}
	for _, m := range s.memberships {
		name := m.GetName() // projects/p/locations/l/memberships/id
		addr := plan.MembershipAddress(d.FleetProject, segmentAfter(name, "locations"), lastSegment(name))
		var cluster plan.Address
		if link := m.GetEndpoint().GetGkeCluster().GetResourceLink(); link != "" {
			if r, err := plan.ParseAddress(plan.Address("gke:" + shortLink(link))); err == nil && r.Kind == plan.KindCluster {
				cluster = r.Address()
			}
		}
		var deps []plan.Address
		if cluster != "" {
			deps = append(deps, cluster)
		}
		fields := membershipFields(m)
		owned := ownedLabels(m.GetLabels(), fed)
		if w, ok := want[addr]; ok {
			fields["labels"] = scopeLabels(fields["labels"].(map[string]any), w.res.Fields["labels"])
			owned = owned || membershipAdopted(fields, w.res.Fields, ownedClusters[cluster])
		}
		keep(&object{res: plan.Resource{Address: addr, Kind: plan.KindMembership, Group: "project " + d.FleetProject,
			Fields: fields, DependsOn: deps}, msg: m, project: d.FleetProject, location: segmentAfter(name, "locations"), parent: lastSegment(name)},
			owned)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].res.Address < out[j].res.Address })
	return out
}

// networkOf is the address of a network from a link to it (a URL or a relative name).
func networkOf(link string) plan.Address {
	l := shortLink(link)
	return plan.NetworkAddress(segmentAfter(l, "projects"), lastSegment(l))
}

// subnetworkOf is the address of a subnetwork from a link to it.
func subnetworkOf(link string) plan.Address {
	l := shortLink(link)
	return plan.SubnetworkAddress(segmentAfter(l, "projects"), segmentAfter(l, "regions"), lastSegment(l))
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
func bindingResources(d *federation.Desired) []string {
	seen := map[string]bool{}
	bs := d.IAMBindings
	if d.SharedVPC != nil {
		bs = append(slices.Clone(bs), d.SharedVPC.Bindings...)
	}
	for _, b := range bs {
		seen[b.Resource] = true
	}
	for _, r := range cloudSQLBindingResources(d) {
		seen[r] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// readPolicy reads the bindings of one IAM policy as role → members.
func (e *Layer) readPolicy(ctx context.Context, resource string) (map[string]map[string]bool, error) {
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
		if o.res.Kind != plan.KindIAMBinding {
			continue
		}
		resource := "projects/" + o.project
		if o.parent != "" {
			resource = fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", o.project, o.location, o.parent)
		}
		role, member := o.res.Fields["role"].(string), o.res.Fields["member"].(string)
		if s.policies[resource][role][member] {
			out = append(out, &object{res: plan.Resource{Address: o.res.Address, Kind: plan.KindIAMBinding, Group: o.res.Group,
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
