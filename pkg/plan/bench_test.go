package plan

import (
	"fmt"
	"testing"
)

// BenchmarkDiff diffs the live state of a converged federation of 100 clusters' size against
// itself: 100 clusters, each with the pod ranges of its 99 peers as authorized networks, and 600
// smaller resources.
func BenchmarkDiff(b *testing.B) {
	var desired, live []Resource
	for i := range 100 {
		var networks []any
		for j := range 100 {
			if j != i {
				networks = append(networks, map[string]any{"cidrBlock": fmt.Sprintf("10.%d.0.0/16", j), "displayName": fmt.Sprintf("c%03d-pods", j)})
			}
		}
		addr := fmt.Sprintf("gke:projects/p/locations/us-west2/clusters/c%03d", i)
		fields := func() map[string]any {
			return map[string]any{"masterAuthorizedNetworks": networks, "labels": map[string]string{"mesh_id": "proj-1", "managed-by": "asmfed"},
				"nodeTags": []string{fmt.Sprintf("c%03d", i)}, "controlPlaneRange": "172.16.0.0/28", "privateEndpoint": true, "nodes": int32(3)}
		}
		desired = append(desired, Resource{Address: Address(addr), Kind: "cluster", Fields: fields()})
		live = append(live, Resource{Address: Address(addr), Kind: "cluster", Fields: fields(), Owned: true})
		for k := range 6 {
			addr := fmt.Sprintf("gcp:projects/p/global/firewalls/r%03d-%d", i, k)
			fields := map[string]any{"priority": int32(1000), "sourceRanges": []string{"10.0.0.0/16"}, "description": "asmfed"}
			desired = append(desired, Resource{Address: Address(addr), Kind: "firewall", Fields: fields})
			live = append(live, Resource{Address: Address(addr), Kind: "firewall", Fields: fields, Owned: true})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := Diff(desired, live, DiffOptions{Federation: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if p.HasChanges() {
			b.Fatal("changes in a diff of a state against itself")
		}
	}
}
