package gcplayer

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	hubv1 "google.golang.org/api/gkehub/v1"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

func isNotFound(err error) bool { return gcp.IsKind(err, gcp.KindNotFound) }
func isConflict(err error) bool { return gcp.IsKind(err, gcp.KindConflict) }

// change carries out one change. Every branch is idempotent: a create that finds the resource
// already there is resumed (resumeCreate), a delete that finds it gone counts as done, so that
// apply can always be run again.
func (e *Layer) change(ctx context.Context, r *CloudPlan, c plan.Change, d, l *object, progress gcp.Progress) error {
	switch c.Action {
	case plan.Create:
		return e.createOrResume(ctx, r, d, progress)
	case plan.Update:
		return e.update(ctx, c, d, l, progress)
	case plan.Adopt:
		return e.adopt(ctx, r, c, d, l, progress)
	case plan.Replace:
		if err := e.delete(ctx, l, progress); err != nil {
			return err
		}
		return e.createOrResume(ctx, r, d, progress)
	case plan.Delete:
		if err := e.delete(ctx, l, progress); err != nil {
			return err
		}
		if l != nil && l.recorded {
			// Adopted, then deleted like a created one: its entry goes with it.
			return e.forget(ctx, r, []recordEntry{{Address: l.res.Address, ID: strconv.FormatUint(idOf(l), 10)}})
		}
	}
	return nil
}

func (e *Layer) create(ctx context.Context, d *object, progress gcp.Progress) error {
	if d == nil {
		return fmt.Errorf("no desired state")
	}
	var err error
	switch d.res.Kind {
	case plan.KindAPI:
		err = e.gcp.EnableServices(ctx, d.project, []string{d.parent}, progress)
	case plan.KindNetwork:
		err = e.gcp.InsertNetwork(ctx, d.project, d.msg.(*computepb.Network), progress)
	case plan.KindSubnetwork:
		err = e.gcp.InsertSubnetwork(ctx, d.project, d.location, d.msg.(*computepb.Subnetwork), progress)
	case plan.KindFirewall:
		err = e.gcp.InsertFirewall(ctx, d.project, d.msg.(*computepb.Firewall), progress)
	case plan.KindRouter:
		err = e.gcp.InsertRouter(ctx, d.project, d.location, d.msg.(*computepb.Router), progress)
	case plan.KindInstance:
		err = e.gcp.InsertInstance(ctx, d.project, d.location, d.msg.(*computepb.Instance), progress)
	case plan.KindXpnHost:
		err = e.gcp.EnableXpnHost(ctx, d.project, progress)
	case plan.KindXpnService:
		err = e.gcp.AttachXpnServiceProject(ctx, d.project, d.parent, progress)
	case plan.KindIAMBinding:
		if ref, ok := d.msg.(saPolicyRef); ok {
			err = e.addSABinding(ctx, ref, d.res.Fields["role"].(string), d.res.Fields["member"].(string))
		} else {
			err = e.addBinding(ctx, d)
		}
	case plan.KindServiceAccount:
		err = e.createServiceAccount(ctx, d)
	case plan.KindCluster:
		err = e.gcp.CreateCluster(ctx, d.project, d.location, d.msg.(*containerpb.Cluster), progress)
	case plan.KindNodePool:
		// Node pools are created with their cluster; this creates one added later.
		err = e.gcp.CreateNodePool(ctx, d.project, d.location, d.parent, d.msg.(*containerpb.NodePool), progress)
	case plan.KindMembership:
		err = e.gcp.CreateMembership(ctx, d.project, d.location, d.parent, d.msg.(*gkehubpb.Membership), progress)
	case plan.KindFeature:
		err = e.gcp.CreateFeature(ctx, d.project, federation.MeshFeatureName, d.msg.(*hubv1.Feature), progress)
		if isConflict(err) {
			// Enabled meanwhile, by someone else: set the federation's memberships on it.
			return e.updateFeature(ctx, d, progress)
		}
	default:
		return fmt.Errorf("cannot create a %s", d.res.Kind)
	}
	return err
}

// createOrResume creates, and takes ALREADY_EXISTS for what it is: the resource was created
// meanwhile, maybe by an earlier apply that did not see its create finish. It is resumed only
// when it carries the federation's mark and is what the file wants.
func (e *Layer) createOrResume(ctx context.Context, r *CloudPlan, d *object, progress gcp.Progress) error {
	err := e.create(ctx, d, progress)
	if !isConflict(err) {
		return err
	}
	switch d.res.Kind {
	case plan.KindAPI, plan.KindXpnHost, plan.KindXpnService, plan.KindIAMBinding, plan.KindFeature:
		// No mark to check: these are the project's, and enabling them twice is harmless.
		return nil
	case plan.KindMembership:
		if other := registeredAs(err); other != "" {
			return fmt.Errorf("%s: cluster %s is registered already, as membership %s, and GKE Hub allows one membership per cluster (%w); hint: run plan again: the federation takes that membership instead of registering its own",
				d.res.Address, lastSegment(d.res.Fields["resourceLink"].(string)), other, err)
		}
	}
	return e.resumeCreate(ctx, r, d, err, progress)
}

// registeredAs is the membership GKE Hub names when it refuses to register a cluster that a
// membership registers already, or "".
func registeredAs(err error) string {
	const marker = "already registered with resource: //gkehub.googleapis.com/"
	msg := err.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return ""
	}
	name := msg[i+len(marker):]
	if j := strings.IndexAny(name, " ,;)"); j >= 0 {
		name = name[:j]
	}
	return name
}

// resumeCreate reads again a resource whose create answered ALREADY_EXISTS: still being created
// (an operation running, a cluster provisioning), it is waited for; then it counts as created
// when it carries the federation's mark and matches what the file wants, and fails otherwise.
func (e *Layer) resumeCreate(ctx context.Context, r *CloudPlan, d *object, conflict error, progress gcp.Progress) error {
	addr := d.res.Address
	var desired []*object
	for _, o := range r.desired {
		desired = append(desired, o)
	}
	for attempt := 0; ; attempt++ {
		snap, err := e.read(ctx, r.Derived)
		if err != nil {
			return err
		}
		live := liveState(r.Derived, snap, desired)
		var have *object
		for _, o := range live {
			if o.res.Address == addr {
				have = o
			}
		}
		pending := pendingWork(r.Derived, snap, desired, live)
		var wait *Pending
		for i := range pending {
			if pending[i].Address == addr {
				wait = &pending[i]
			}
		}
		if have != nil && !have.res.Owned {
			return fmt.Errorf("%s exists without the federation's mark (%w): it was not created by federation %s, which leaves it alone; delete or rename it, or change the name in the file", addr, conflict, r.Derived.Federation)
		}
		if wait != nil && attempt < 3 {
			progress("resuming: " + wait.String())
			if err := e.waitPending(ctx, *wait, ResumeOptions{PollInterval: 2 * time.Second}, progress); err != nil {
				return err
			}
			continue
		}
		if have == nil {
			return fmt.Errorf("%s: the create answered that it exists, but it cannot be read and nothing is creating it (%w); run plan to see it", addr, conflict)
		}
		p, err := plan.Diff([]plan.Resource{d.res}, []plan.Resource{have.res}, plan.DiffOptions{Federation: r.Derived.Federation})
		if err != nil {
			return err
		}
		if p.HasChanges() {
			return fmt.Errorf("%s exists with the federation's mark but not as the file wants it (%s): run plan and apply again", addr, fieldPaths(p.Changes[0]))
		}
		progress("resumed: created by an earlier apply")
		return nil
	}
}

func (e *Layer) delete(ctx context.Context, l *object, progress gcp.Progress) error {
	if l == nil {
		return nil
	}
	var err error
	switch l.res.Kind {
	case plan.KindNetwork:
		err = e.gcp.DeleteNetwork(ctx, l.project, l.msg.(*computepb.Network).GetName(), progress)
	case plan.KindSubnetwork:
		err = e.gcp.DeleteSubnetwork(ctx, l.project, l.location, l.msg.(*computepb.Subnetwork).GetName(), progress)
	case plan.KindFirewall:
		err = e.gcp.DeleteFirewall(ctx, l.project, l.msg.(*computepb.Firewall).GetName(), progress)
	case plan.KindRouter:
		err = e.gcp.DeleteRouter(ctx, l.project, l.location, l.msg.(*computepb.Router).GetName(), progress)
	case plan.KindInstance:
		err = e.gcp.DeleteInstance(ctx, l.project, l.location, l.msg.(*computepb.Instance).GetName(), progress)
	case plan.KindCluster:
		err = e.gcp.DeleteCluster(ctx, l.project, l.location, l.msg.(*containerpb.Cluster).GetName(), progress)
	case plan.KindNodePool:
		err = e.gcp.DeleteNodePool(ctx, l.project, l.location, l.parent, l.msg.(*containerpb.NodePool).GetName(), progress)
	case plan.KindMembership:
		err = e.gcp.DeleteMembership(ctx, l.project, l.location, l.parent, progress)
	case plan.KindServiceAccount:
		err = e.gcp.DeleteServiceAccount(ctx, l.project, l.res.Fields["email"].(string))
	case plan.KindIAMBinding:
		// Only bindings the federation owns are planned for deletion: those of its service accounts.
		err = e.removeBinding(ctx, l)
	default:
		return fmt.Errorf("the tool never deletes a %s", l.res.Kind)
	}
	if isNotFound(err) {
		return nil
	}
	return err
}

func (e *Layer) update(ctx context.Context, c plan.Change, d, l *object, progress gcp.Progress) error {
	switch d.res.Kind {
	case plan.KindFirewall:
		return e.updateFirewall(ctx, c, d, progress)
	case plan.KindRouter:
		want := d.msg.(*computepb.Router)
		// The router is read fresh: PATCH replaces the NAT list whole, so it carries every NAT the
		// router has, each with the fields the tool does not manage as they are.
		cur, err := e.gcp.Router(ctx, d.project, d.location, want.GetName())
		if err != nil {
			return err
		}
		patch := &computepb.Router{Name: want.Name, Description: want.Description, Nats: mergeNats(cur.GetNats(), want.GetNats())}
		return e.gcp.PatchRouter(ctx, d.project, d.location, patch, progress)
	case plan.KindNetwork:
		// networks.patch modifies the routing configuration and nothing the tool manages besides.
		if c.Changed("routingMode") {
			want := d.msg.(*computepb.Network)
			return e.gcp.PatchNetwork(ctx, d.project, &computepb.Network{Name: want.Name, RoutingConfig: want.RoutingConfig}, progress)
		}
		return nil
	case plan.KindSubnetwork:
		want, have := d.msg.(*computepb.Subnetwork), l.msg.(*computepb.Subnetwork)
		// The description is set only at creation: the patch carries the secondary ranges alone.
		if c.Changed("secondaryIpRanges") {
			patch := &computepb.Subnetwork{Name: want.Name, SecondaryIpRanges: want.SecondaryIpRanges, Fingerprint: have.Fingerprint}
			if err := e.gcp.PatchSubnetwork(ctx, d.project, d.location, patch, progress); err != nil {
				return err
			}
		}
		if c.Changed("privateIpGoogleAccess") {
			return e.gcp.SetPrivateGoogleAccess(ctx, d.project, d.location, want.GetName(), want.GetPrivateIpGoogleAccess(), progress)
		}
		return nil
	case plan.KindCluster:
		return e.updateCluster(ctx, c, d, l, progress)
	case plan.KindFeature:
		return e.updateFeature(ctx, d, progress)
	case plan.KindInstance:
		return e.updateInstance(ctx, c, d, progress)
	case plan.KindNodePool:
		want := d.msg.(*containerpb.NodePool)
		if c.Changed("autoscaling") {
			if err := e.gcp.SetNodePoolAutoscaling(ctx, d.project, d.location, d.parent, want.GetName(), want.GetAutoscaling(), progress); err != nil {
				return err
			}
		}
		if c.Changed("workloadMetadataConfig.mode") {
			if err := e.gcp.SetNodePoolWorkloadMetadata(ctx, d.project, d.location, d.parent, want.GetName(), metadataMode(want.GetConfig()), progress); err != nil {
				return err
			}
		}
		if c.Changed("imageType") || c.Changed("tags") || c.Changed("labels") {
			return e.gcp.UpdateNodePool(ctx, d.project, d.location, d.parent, withLiveLabels(want, l.msg.(*containerpb.NodePool)), progress)
		}
		return nil
	case plan.KindMembership:
		return e.updateMembership(ctx, c, d, l, progress)
	}
	return fmt.Errorf("%s cannot be updated in place (fields %v)", c.Address, fieldPaths(c))
}

// updateFirewall sends the fields the tool manages, and only those, as a PATCH, so that logging,
// disabled and whatever else was set by hand are kept (an UPDATE resets them to their defaults).
// PATCH cannot clear a list (an empty one is not sent): when the target tags must go, the rule is
// read fresh and replaced with the fields the tool does not manage copied from it.
func (e *Layer) updateFirewall(ctx context.Context, c plan.Change, d *object, progress gcp.Progress) error {
	want := d.msg.(*computepb.Firewall)
	if c.Changed("targetTags") && len(want.GetTargetTags()) == 0 {
		cur, err := e.gcp.Firewall(ctx, d.project, want.GetName())
		if err != nil {
			return err
		}
		put := proto.Clone(cur).(*computepb.Firewall)
		put.Priority, put.SourceRanges, put.TargetTags, put.Allowed, put.Denied, put.Description = want.Priority, want.SourceRanges, nil, want.Allowed, nil, want.Description
		return e.gcp.UpdateFirewall(ctx, d.project, put, progress)
	}
	patch := &computepb.Firewall{Name: want.Name, Priority: want.Priority, SourceRanges: want.SourceRanges, TargetTags: want.TargetTags,
		Allowed: want.Allowed, Description: want.Description}
	return e.gcp.PatchFirewall(ctx, d.project, patch, progress)
}

// mergeNats is the NAT list a router keeps after an update: NATs the tool does not manage as they
// are, and each of the tool's NATs with its managed fields set on the live one, so that logging,
// port allocation, timeouts and the like set by hand survive.
func mergeNats(live, want []*computepb.RouterNat) []*computepb.RouterNat {
	byName := map[string]*computepb.RouterNat{}
	for _, n := range want {
		byName[n.GetName()] = n
	}
	var out []*computepb.RouterNat
	seen := map[string]bool{}
	for _, n := range live {
		w, ok := byName[n.GetName()]
		if !ok {
			out = append(out, n)
			continue
		}
		m := proto.Clone(n).(*computepb.RouterNat)
		m.NatIpAllocateOption, m.SourceSubnetworkIpRangesToNat, m.Subnetworks = w.NatIpAllocateOption, w.SourceSubnetworkIpRangesToNat, w.Subnetworks
		out = append(out, m)
		seen[n.GetName()] = true
	}
	for _, w := range want {
		if !seen[w.GetName()] {
			out = append(out, w)
		}
	}
	return out
}

// updateFeature merges the federation's membership specs into the fleet feature's, read fresh, so
// the specs of clusters outside the federation are kept.
func (e *Layer) updateFeature(ctx context.Context, d *object, progress gcp.Progress) error {
	cur, err := e.gcp.Feature(ctx, d.project, federation.MeshFeatureName)
	if err != nil {
		return err
	}
	specs := map[string]hubv1.MembershipFeatureSpec{}
	for k, v := range cur.MembershipSpecs {
		specs[k] = v
	}
	for k, v := range d.msg.(*hubv1.Feature).MembershipSpecs {
		specs[k] = v
	}
	return e.gcp.UpdateFeatureMemberships(ctx, d.project, federation.MeshFeatureName, specs, progress)
}

// updateMembership sets the federation's labels, the live ones others set kept, and the
// authority: the cluster's issuer, which turns fleet Workload Identity on for it. GKE Hub takes no
// other issuer for a GKE cluster than the cluster's own, so the live one is either none or the one
// wanted, and setting it is one update (an issuer that is set is never changed directly).
func (e *Layer) updateMembership(ctx context.Context, c plan.Change, d, l *object, progress gcp.Progress) error {
	want, have := d.msg.(*gkehubpb.Membership), l.msg.(*gkehubpb.Membership)
	upd := &gkehubpb.Membership{}
	var paths []string
	if c.Changed("labels") {
		upd.Labels = map[string]string{}
		for k, v := range have.GetLabels() {
			upd.Labels[k] = v
		}
		for k, v := range want.GetLabels() {
			upd.Labels[k] = v
		}
		paths = append(paths, "labels")
	}
	if c.Changed("authority.issuer") {
		upd.Authority = &gkehubpb.Authority{Issuer: want.GetAuthority().GetIssuer()}
		paths = append(paths, "authority")
	}
	if len(paths) == 0 {
		return fmt.Errorf("%s cannot be updated in place (fields %v)", c.Address, fieldPaths(c))
	}
	return e.gcp.UpdateMembership(ctx, d.project, d.location, d.parent, upd, paths, progress)
}

func fieldPaths(c plan.Change) []string {
	var out []string
	for _, f := range c.Fields {
		out = append(out, f.Path)
	}
	return out
}

// updateCluster applies each changed field with the call GKE has for it, one at a time (GKE
// refuses concurrent operations on a cluster).
func (e *Layer) updateCluster(ctx context.Context, c plan.Change, d, l *object, progress gcp.Progress) error {
	want, have := d.msg.(*containerpb.Cluster), l.msg.(*containerpb.Cluster)
	name := want.GetName()
	var updates []*containerpb.ClusterUpdate
	if c.Changed("masterAuthorizedNetworks") {
		updates = append(updates, &containerpb.ClusterUpdate{DesiredMasterAuthorizedNetworksConfig: want.GetMasterAuthorizedNetworksConfig()})
	}
	if c.Changed("masterGlobalAccess") || c.Changed("privateEndpoint") {
		updates = append(updates, &containerpb.ClusterUpdate{DesiredPrivateClusterConfig: &containerpb.PrivateClusterConfig{
			EnablePrivateEndpoint:    want.GetPrivateClusterConfig().GetEnablePrivateEndpoint(),
			MasterGlobalAccessConfig: want.GetPrivateClusterConfig().GetMasterGlobalAccessConfig()}})
	}
	if c.Changed("workloadPool") {
		wi := want.GetWorkloadIdentityConfig()
		if wi == nil {
			wi = &containerpb.WorkloadIdentityConfig{}
		}
		updates = append(updates, &containerpb.ClusterUpdate{DesiredWorkloadIdentityConfig: wi})
	}
	if c.Changed("shieldedNodes") {
		updates = append(updates, &containerpb.ClusterUpdate{DesiredShieldedNodes: want.GetShieldedNodes()})
	}
	if c.Changed("releaseChannel") {
		updates = append(updates, &containerpb.ClusterUpdate{DesiredReleaseChannel: want.GetReleaseChannel()})
	}
	if c.Changed("networkPolicy") {
		updates = append(updates, &containerpb.ClusterUpdate{DesiredAddonsConfig: &containerpb.AddonsConfig{NetworkPolicyConfig: want.GetAddonsConfig().GetNetworkPolicyConfig()}})
	}
	for _, u := range updates {
		if err := e.gcp.UpdateCluster(ctx, d.project, d.location, name, u, progress); err != nil {
			return err
		}
	}
	if c.Changed("networkPolicy") {
		if err := e.gcp.SetNetworkPolicy(ctx, d.project, d.location, name, want.GetNetworkPolicy().GetEnabled(), progress); err != nil {
			return err
		}
	}
	if c.Changed("labels") {
		// Keep labels others set; set every label the federation manages.
		labels := map[string]string{}
		for k, v := range have.GetResourceLabels() {
			labels[k] = v
		}
		for k, v := range want.GetResourceLabels() {
			labels[k] = v
		}
		if err := e.gcp.SetClusterLabels(ctx, d.project, d.location, name, labels, have.GetLabelFingerprint(), progress); err != nil {
			return err
		}
	}
	return nil
}

// addBinding adds a member to a role in an IAM policy, read-modify-write with the policy's etag;
// a concurrent change makes the write fail, and the binding is retried on the fresh policy.
func (e *Layer) addBinding(ctx context.Context, d *object) error {
	role, member := d.res.Fields["role"].(string), d.res.Fields["member"].(string)
	return e.retryPolicy(func() error {
		if d.parent != "" {
			return e.addSubnetBinding(ctx, d.project, d.location, d.parent, role, member)
		}
		return e.addProjectBinding(ctx, d.project, role, member)
	})
}

// retryPolicy runs a read-modify-write of an IAM policy again when a concurrent change made its
// etag stale.
func (e *Layer) retryPolicy(rmw func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = rmw()
		if err == nil || !(gcp.IsKind(err, gcp.KindPrecondition) || gcp.IsKind(err, gcp.KindAborted) || isConflict(err)) {
			return err
		}
	}
	return err
}

// withMember adds member to role in bindings; it reports false when the member was already
// there, so the policy need not be written.
func withMember[B any](bindings []B, role, member string, roleOf func(B) string, members func(B) *[]string, newBinding func() B) ([]B, bool) {
	for _, b := range bindings {
		if roleOf(b) != role {
			continue
		}
		ms := members(b)
		for _, m := range *ms {
			if m == member {
				return bindings, false
			}
		}
		*ms = append(*ms, member)
		sort.Strings(*ms)
		return bindings, true
	}
	return append(bindings, newBinding()), true
}

// withoutMember takes member out of every binding of role, and says whether one had it.
func withoutMember[B any](bindings []B, role, member string, roleOf func(B) string, members func(B) *[]string) bool {
	var changed bool
	for _, b := range bindings {
		if roleOf(b) != role {
			continue
		}
		ms := members(b)
		kept := (*ms)[:0:0]
		for _, m := range *ms {
			if m != member {
				kept = append(kept, m)
			}
		}
		changed = changed || len(kept) != len(*ms)
		*ms = kept
	}
	return changed
}

func (e *Layer) addSubnetBinding(ctx context.Context, project, region, subnet, role, member string) error {
	p, err := e.gcp.SubnetworkIAMPolicy(ctx, project, region, subnet)
	if err != nil {
		return err
	}
	var changed bool
	p.Bindings, changed = withMember(p.Bindings, role, member, (*computepb.Binding).GetRole,
		func(b *computepb.Binding) *[]string { return &b.Members },
		func() *computepb.Binding {
			return &computepb.Binding{Role: proto.String(role), Members: []string{member}}
		})
	if !changed {
		return nil
	}
	return e.gcp.SetSubnetworkIAMPolicy(ctx, project, region, subnet, p)
}

func (e *Layer) addProjectBinding(ctx context.Context, project, role, member string) error {
	p, err := e.gcp.ProjectIAMPolicy(ctx, project)
	if err != nil {
		return err
	}
	var changed bool
	p.Bindings, changed = withMember(p.Bindings, role, member, (*iampb.Binding).GetRole,
		func(b *iampb.Binding) *[]string { return &b.Members },
		func() *iampb.Binding { return &iampb.Binding{Role: role, Members: []string{member}} })
	if !changed {
		return nil
	}
	return e.gcp.SetProjectIAMPolicy(ctx, project, p)
}

// withLiveLabels is the desired pool with the resource labels others set on the live one kept:
// GKE replaces a pool's resource labels as a whole.
func withLiveLabels(want, have *containerpb.NodePool) *containerpb.NodePool {
	out := proto.Clone(want).(*containerpb.NodePool)
	labels := map[string]string{}
	for k, v := range have.GetConfig().GetResourceLabels() {
		labels[k] = v
	}
	for k, v := range want.GetConfig().GetResourceLabels() {
		labels[k] = v
	}
	out.Config.ResourceLabels = labels
	return out
}
