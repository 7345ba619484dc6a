package gcplayer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// fleetNeighbours notes, with a managed control plane, the fleet's memberships of clusters the
// federation does not have: multicluster_mode: connected exchanges endpoints among every connected
// cluster of the fleet, so one of them whose asm-options says connected joins the federation's
// mesh, which the tool neither sets nor sees.
func fleetNeighbours(d *federation.Desired, s *snapshot) []string {
	if d.MeshFeature == nil {
		return nil
	}
	ours := map[string]bool{}
	for _, fm := range d.FleetMemberships {
		ours[clusterName(fm.Cluster)] = true
	}
	var others []string
	for _, m := range s.memberships {
		link := m.GetEndpoint().GetGkeCluster().GetResourceLink()
		if link != "" && ours[clusterName(link)] {
			continue
		}
		what := lastSegment(m.GetName())
		if link != "" {
			what += " (" + shortLink(link) + ")"
		}
		others = append(others, what)
	}
	if len(others) == 0 {
		return nil
	}
	slices.Sort(others)
	return []string{fmt.Sprintf("the fleet of project %s also has memberships outside the federation: %s; with a managed control plane, multicluster_mode: connected exchanges endpoints among every connected cluster of the fleet, so any of these whose asm-options says connected joins the federation's mesh (docs/istio.md, \"Multi-cluster endpoint discovery\")",
		d.FleetProject, strings.Join(others, ", "))}
}
