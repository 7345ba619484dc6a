package gcplayer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// PlanOptions tune one plan of the layer.
type PlanOptions struct {
	// Adopt takes what the file wants and exists without the federation's mark into its
	// ownership when nothing that forces replacement differs (docs/migrate.md).
	Adopt bool
}

// adopt carries out an Adopt change: the other fields that differ change in place, with the
// calls an update makes, and the federation's mark is added the way the kind carries it: labels
// or a description written by that update, or, for a network or subnetwork, whose description
// Compute Engine sets only at creation, an entry of the adoption record.
func (e *Layer) adopt(ctx context.Context, r *CloudPlan, c plan.Change, d, l *object, progress gcp.Progress) error {
	if !markOnlyAtCreation[d.res.Kind] {
		return e.update(ctx, c, d, l, progress)
	}
	if len(nonMarkPaths(c)) > 0 {
		if err := e.update(ctx, c, d, l, progress); err != nil {
			return err
		}
	}
	progress("recording the adoption in " + recordMark(r.fleetProject, r.federation))
	return e.record(ctx, r, l)
}

// markInRecord sets, on each network and subnetwork the federation wants that exists without its
// description's mark, where its mark goes: the adoption record. The plan then shows the record
// as the mark an adoption adds, and one the record already lists as no change.
func markInRecord(desired, live []*object, d *federation.Desired) {
	liveBy := map[plan.Address]*object{}
	for _, o := range live {
		liveBy[o.res.Address] = o
	}
	for _, o := range desired {
		if l := liveBy[o.res.Address]; markOnlyAtCreation[o.res.Kind] && l != nil && l.res.Fields["mark"] != markDescription {
			o.res.Fields["mark"] = recordMark(d.FleetProject, d.Federation)
		}
	}
}

// staleNotes say which entries of the adoption record name nothing live, and that apply drops
// them.
func staleNotes(r *CloudPlan) []string {
	var out []string
	for _, en := range r.stale {
		out = append(out, fmt.Sprintf("the adoption record (%s) lists %s (number %s), which no longer exists: apply drops it",
			recordMark(r.fleetProject, r.federation), en.Address, en.ID))
	}
	return out
}

func nonMarkPaths(c plan.Change) []string {
	var out []string
	for _, f := range c.Fields {
		if f.Path != "mark" {
			out = append(out, f.Path)
		}
	}
	return out
}

// sameFunctionRouters lets the federation use a router and NAT that already NAT its subnets,
// under their own names, instead of creating its own: Cloud NAT allows one NAT per subnet range,
// so a second NAT for subnets another one covers would be refused. For each router the model
// wants in a region where no router of its name exists, a live router of the same network and
// region with one NAT covering the subnets the model's NAT serves takes its place in desired
// state: its address, its name and its NAT's name. The diff then adopts it (--adopt), updates it
// (already the federation's), or reports a conflict naming it. It returns notes saying which
// router stands in for which, and warnings when the subnets are split between NATs, which the
// federation cannot take over as one.
func sameFunctionRouters(desired []*object, s *snapshot) (notes, warnings []string) {
	exists := map[plan.Address]bool{}
	for _, r := range s.routers {
		exists[plan.RouterAddress(projectOfLink(r.GetSelfLink(), r.GetNetwork()), lastSegment(r.GetRegion()), r.GetName())] = true
	}
	for _, o := range desired {
		if o.res.Kind != plan.KindRouter || exists[o.res.Address] {
			continue
		}
		want := o.msg.(*computepb.Router)
		if len(want.GetNats()) != 1 {
			continue
		}
		wantNat := want.GetNats()[0]
		var subnets []string
		for _, sn := range wantNat.GetSubnetworks() {
			subnets = append(subnets, shortLink(sn.GetName()))
		}
		type cover struct {
			router *computepb.Router
			nat    *computepb.RouterNat
		}
		var covers []cover
		for _, lr := range s.routers {
			if lastSegment(lr.GetRegion()) != o.location || shortLink(lr.GetNetwork()) != shortLink(want.GetNetwork()) {
				continue
			}
			for _, n := range lr.GetNats() {
				if natCovers(n, subnets) {
					covers = append(covers, cover{lr, n})
				}
			}
		}
		switch len(covers) {
		case 0:
			continue
		case 1:
		default:
			var names []string
			for _, c := range covers {
				names = append(names, fmt.Sprintf("NAT %s of router %s", c.nat.GetName(), c.router.GetName()))
			}
			warnings = append(warnings, fmt.Sprintf("the subnets %s in %s are NATed by %s; Cloud NAT allows one NAT per subnet range, so %s cannot be created or adopted as one: move the subnets to one NAT by hand, then plan again",
				strings.Join(lastSegments(subnets), ", "), o.location, strings.Join(names, " and "), o.res.Address))
			continue
		}
		c := covers[0]
		stand := proto.Clone(want).(*computepb.Router)
		stand.Name = c.router.Name
		stand.Nats[0].Name = c.nat.Name
		addr := plan.RouterAddress(o.project, o.location, c.router.GetName())
		notes = append(notes, fmt.Sprintf("router %s and its NAT %s already NAT %s in %s: the federation uses them instead of creating %s (Cloud NAT allows one NAT per subnet range)",
			c.router.GetName(), c.nat.GetName(), strings.Join(lastSegments(subnets), ", "), o.location, want.GetName()))
		o.msg = stand
		o.res.Address = addr
		o.res.Fields = routerFields(stand, nil)
	}
	return notes, warnings
}

// natCovers reports whether a NAT covers any of subnets (relative names).
func natCovers(n *computepb.RouterNat, subnets []string) bool {
	if strings.HasPrefix(n.GetSourceSubnetworkIpRangesToNat(), "ALL_SUBNETWORKS_") {
		return true
	}
	for _, sn := range n.GetSubnetworks() {
		if slices.Contains(subnets, shortLink(sn.GetName())) {
			return true
		}
	}
	return false
}

// projectOfLink is the project of a resource from its self link, else from another link of it.
func projectOfLink(links ...string) string {
	for _, l := range links {
		if p := projectOf(l); p != "" {
			return p
		}
	}
	return ""
}

func lastSegments(links []string) []string {
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = lastSegment(l)
	}
	return out
}

// registeredMemberships finds, for each cluster of the federation, the membership of the fleet
// project that registers it already, wherever it is and whatever its name (gcloud container fleet
// memberships register puts a GKE cluster in its region; the federation's own are global). GKE
// Hub refuses a second membership for a cluster, so the model takes that one (Facts.Memberships).
// Of several, the federation's own name in global wins, then one that carries the federation's
// mark, then the first by name.
func registeredMemberships(offline *federation.Desired, s *snapshot) map[string]federation.MembershipFacts {
	out := map[string]federation.MembershipFacts{}
	defaults := map[string]string{} // the federation's own membership names → the cluster
	for _, fm := range offline.FleetMemberships {
		defaults["projects/"+fm.Project+"/locations/"+fm.Location+"/memberships/"+fm.Name] = clusterName(fm.Cluster)
	}
	for _, fm := range offline.FleetMemberships {
		cluster := clusterName(fm.Cluster)
		var found []*gkehubpb.Membership
		for _, m := range s.memberships {
			if c, ok := defaults[m.GetName()]; ok && c != cluster {
				// Another cluster's own membership: taking it would give two clusters one
				// address; it stays the conflict it is.
				continue
			}
			if link := m.GetEndpoint().GetGkeCluster().GetResourceLink(); link != "" && clusterName(link) == cluster {
				found = append(found, m)
			}
		}
		if len(found) == 0 {
			continue
		}
		rank := func(m *gkehubpb.Membership) int {
			switch {
			case segmentAfter(m.GetName(), "locations") == fm.Location && lastSegment(m.GetName()) == fm.Name:
				return 0
			case ownedLabels(m.GetLabels(), offline.Federation):
				return 1
			}
			return 2
		}
		slices.SortFunc(found, func(a, b *gkehubpb.Membership) int {
			if ra, rb := rank(a), rank(b); ra != rb {
				return ra - rb
			}
			return strings.Compare(a.GetName(), b.GetName())
		})
		out[cluster] = federation.MembershipFacts{Location: segmentAfter(found[0].GetName(), "locations"), Name: lastSegment(found[0].GetName())}
	}
	return out
}

// clusterName is a GKE cluster's resource name, projects/P/locations/L/clusters/N, from a link
// to it in any form (//container.googleapis.com/..., a URL, zones for locations).
func clusterName(link string) string {
	return strings.Replace(shortLink(link), "/zones/", "/locations/", 1)
}

// takenMemberships says which memberships registered before the federation it takes in place of
// its own.
func takenMemberships(offline, derived *federation.Desired) []string {
	own := map[plan.Address]plan.Address{}
	for _, m := range offline.FleetMemberships {
		own[m.ClusterAddress] = m.Address
	}
	var notes []string
	for _, m := range derived.FleetMemberships {
		if o, ok := own[m.ClusterAddress]; ok && o != m.Address {
			notes = append(notes, fmt.Sprintf("membership %s already registers %s: the federation uses it instead of registering %s (a GKE cluster belongs to one membership); the Connect Gateway reaches the cluster through it",
				m.Address, clusterName(m.Cluster), o))
		}
	}
	return notes
}

// otherMemberships warns of fleet memberships that register a cluster of the federation besides
// the one the model takes (registeredMemberships): GKE Hub allows one per cluster, so such a state
// was not made on Google Cloud as it is now, and the others should go.
func otherMemberships(desired []*object, s *snapshot) []string {
	var out []string
	for _, o := range desired {
		if o.res.Kind != plan.KindMembership {
			continue
		}
		link, _ := o.res.Fields["resourceLink"].(string)
		for _, m := range s.memberships {
			live := m.GetEndpoint().GetGkeCluster().GetResourceLink()
			name := m.GetName()
			if live == "" || clusterName(live) != clusterName(link) {
				continue
			}
			if o.location == segmentAfter(name, "locations") && o.parent == lastSegment(name) {
				continue
			}
			out = append(out, fmt.Sprintf("membership %s already registers %s, which the federation registers as %s: unregister the old one once the federation's exists (gcloud container fleet memberships unregister %s --location %s)",
				name, shortLink(link), o.res.Address, lastSegment(name), segmentAfter(name, "locations")))
		}
	}
	return out
}
