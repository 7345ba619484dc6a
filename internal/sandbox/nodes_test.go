package sandbox

import (
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// Capacity and allocatable of machine types, against GKE's documented reservations (GKE's
// "Standard cluster architecture" page, allocatable resources): e2-standard-4 keeps 3920m of its
// 4 CPUs and reserves 2.6 GiB plus the 100 MiB eviction threshold of its 16 GiB.
func TestMachineResources(t *testing.T) {
	tests := []struct {
		machine               string
		cpu, memory           string
		allocCPU, allocMemory string
	}{
		{machine: "e2-standard-4", cpu: "4", memory: "16Gi", allocCPU: "3920m", allocMemory: "13622Mi"},
		{machine: "e2-medium", cpu: "2", memory: "4Gi", allocCPU: "1930m", allocMemory: "2972Mi"},
		{machine: "n2-highmem-8", cpu: "8", memory: "64Gi", allocCPU: "7910m", allocMemory: "59824Mi"},
		{machine: "n1-standard-2", cpu: "2", memory: "7680Mi", allocCPU: "1930m", allocMemory: "5839Mi"},
		{machine: "e2-custom-6-12288", cpu: "6", memory: "12Gi", allocCPU: "5915m", allocMemory: "9935Mi"},
	}
	for _, tt := range tests {
		t.Run(tt.machine, func(t *testing.T) {
			capacity, alloc := machineResources(tt.machine)
			got := []string{capacity.Cpu().String(), capacity.Memory().String(), alloc.Cpu().String(), alloc.Memory().String(), capacity.Pods().String()}
			want := []string{tt.cpu, tt.memory, tt.allocCPU, tt.allocMemory, "110"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cpu, memory, allocatable cpu, allocatable memory, pods (-want +got):\n%s", diff)
			}
		})
	}
}

// A regional cluster's pool gets a node in each of its zones, labelled as GKE labels them.
func TestGKENodes(t *testing.T) {
	c := &containerpb.Cluster{
		Name:                 "cluster3",
		Location:             "us-west2",
		PrivateClusterConfig: &containerpb.PrivateClusterConfig{EnablePrivateNodes: true},
		NodePools: []*containerpb.NodePool{{
			Name:      "cluster3-node-pool",
			Locations: []string{"us-west2-a", "us-west2-b", "us-west2-c"},
			Config: &containerpb.NodeConfig{MachineType: "e2-standard-4", ImageType: "COS_CONTAINERD", DiskType: "pd-balanced",
				Tags: []string{"mesh"}, Labels: map[string]string{"team": "payments"},
				WorkloadMetadataConfig: &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}},
		}},
	}
	nodes := gkeNodes("demo", c)
	if len(nodes) != 3 {
		t.Fatalf("%d nodes, want one per zone (3)", len(nodes))
	}
	names := map[string]bool{}
	for i, n := range nodes {
		zone := c.NodePools[0].Locations[i]
		names[n.Name] = true
		if !strings.HasPrefix(n.Name, "gke-cluster3-cluster3-node-") || len(n.Name) > 63 {
			t.Errorf("node name %q, want gke-<cluster>-<pool>-… of at most 63 characters", n.Name)
		}
		for k, v := range map[string]string{
			"cloud.google.com/gke-nodepool":          "cluster3-node-pool",
			"topology.kubernetes.io/zone":            zone,
			"topology.kubernetes.io/region":          "us-west2",
			"node.kubernetes.io/instance-type":       "e2-standard-4",
			"cloud.google.com/gke-os-distribution":   "cos",
			"cloud.google.com/private-node":          "true",
			"iam.gke.io/gke-metadata-server-enabled": "true",
			"kubernetes.io/hostname":                 n.Name,
			"team":                                   "payments",
		} {
			if got := n.Labels[k]; got != v {
				t.Errorf("node %s label %s = %q, want %q", n.Name, k, got, v)
			}
		}
		for k, v := range n.Labels {
			if strings.Contains(k, "mesh") || v == "mesh" {
				t.Errorf("node %s carries the pool's network tag as label %s=%s", n.Name, k, v)
			}
		}
		if n.Spec.ProviderID != "gce://demo/"+zone+"/"+n.Name {
			t.Errorf("providerID %q", n.Spec.ProviderID)
		}
		if a := n.Status.Allocatable[corev1.ResourceCPU]; a.String() != "3920m" {
			t.Errorf("allocatable CPU %s, want 3920m", a.String())
		}
	}
	if len(names) != 3 {
		t.Errorf("node names %v are not distinct", names)
	}
	if again := gkeNodes("demo", c); again[0].Name != nodes[0].Name {
		t.Errorf("node names change between calls: %s, %s", nodes[0].Name, again[0].Name)
	}
}
