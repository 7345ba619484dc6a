package gcplayer

import (
	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// liveClusters are the federation's clusters that exist, by name, as GKE reports them.
func liveClusters(d *federation.Desired, s *snapshot) map[string]*containerpb.Cluster {
	out := map[string]*containerpb.Cluster{}
	for _, c := range d.Clusters {
		for _, live := range s.clusters[c.Project] {
			if live.GetName() == c.Name && live.GetLocation() == c.Location {
				out[c.Name] = live
			}
		}
	}
	return out
}
