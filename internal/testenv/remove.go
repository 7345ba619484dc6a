package testenv

import (
	"slices"
	"strings"
	"sync"
)

// RemoveCluster stops the servers of cluster name (controller manager, then
// API server; SIGTERM, SIGKILL after 5 s), waits until they are reaped and
// forgets the cluster, so that deleting a simulated cluster leaves nothing
// running. It also cleans up after an AddClusters of name that failed or was
// cancelled, whose servers stay up otherwise; call it once that AddClusters
// has returned. The name stays taken: its objects are still in etcd under
// its prefix, and a cluster added under it would see them. The state
// directory stays too, with the logs, and Processes still lists the stopped
// servers. Removing an unknown name does nothing.
func (e *Environment) RemoveCluster(name string) {
	prefix := name + "/"
	e.mu.Lock()
	var stop []*tracked
	for _, t := range e.procs {
		if strings.HasPrefix(t.p.name, prefix) {
			stop = append(stop, t)
		}
	}
	e.clusters = slices.DeleteFunc(e.clusters, func(c *Cluster) bool { return c.Name == name })
	e.mu.Unlock()
	for tier := range tiers {
		var wg sync.WaitGroup
		for _, t := range stop {
			if t.tier == tier {
				wg.Go(func() { t.p.stop(stopGrace) })
			}
		}
		wg.Wait()
	}
}
