package sandbox

import (
	"fmt"
	"hash/fnv"
	"math"
	"regexp"
	"strconv"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxPodsPerNode is GKE's default for a node pool.
const maxPodsPerNode = 110

// gkeNodes are the nodes of a cluster's node pools, named and labelled as GKE names and labels
// them: one per zone of each pool (GKE runs the pool's node count in every zone; one is enough to
// schedule a control plane and gateways), with the capacity of the pool's machine type and what
// GKE leaves allocatable of it. Network tags are a Compute Engine notion and do not appear on
// nodes. kwok runs them; their InternalIP is loopback, where kwok serves as their kubelet.
func gkeNodes(project string, c *containerpb.Cluster) []*corev1.Node {
	region := c.GetLocation()
	if isZone(region) {
		region = region[:strings.LastIndex(region, "-")]
	}
	var nodes []*corev1.Node
	for _, np := range c.GetNodePools() {
		cfg := np.GetConfig()
		machine := cfg.GetMachineType()
		capacity, allocatable := machineResources(machine)
		zones := np.GetLocations()
		if len(zones) == 0 {
			zones = []string{c.GetLocation()}
		}
		for _, zone := range zones {
			name := nodeName(project, c.GetName(), np.GetName(), zone)
			labels := map[string]string{
				"kubernetes.io/hostname":                   name,
				"kubernetes.io/os":                         "linux",
				"kubernetes.io/arch":                       "amd64",
				"beta.kubernetes.io/os":                    "linux",
				"beta.kubernetes.io/arch":                  "amd64",
				"node.kubernetes.io/instance-type":         machine,
				"beta.kubernetes.io/instance-type":         machine,
				"topology.kubernetes.io/region":            region,
				"topology.kubernetes.io/zone":              zone,
				"failure-domain.beta.kubernetes.io/region": region,
				"failure-domain.beta.kubernetes.io/zone":   zone,
				"topology.gke.io/zone":                     zone,
				"cloud.google.com/gke-nodepool":            np.GetName(),
				"cloud.google.com/machine-family":          strings.SplitN(machine, "-", 2)[0],
				"cloud.google.com/gke-boot-disk":           cfg.GetDiskType(),
				"cloud.google.com/gke-container-runtime":   "containerd",
				"cloud.google.com/gke-os-distribution":     osDistribution(cfg.GetImageType()),
				"cloud.google.com/gke-max-pods-per-node":   strconv.Itoa(maxPodsPerNode),
				"cloud.google.com/gke-provisioning":        "standard",
				"cloud.google.com/gke-stack-type":          "IPV4",
			}
			if c.GetPrivateClusterConfig().GetEnablePrivateNodes() {
				labels["cloud.google.com/private-node"] = "true"
			}
			if cfg.GetWorkloadMetadataConfig().GetMode() == containerpb.WorkloadMetadataConfig_GKE_METADATA {
				labels["iam.gke.io/gke-metadata-server-enabled"] = "true"
			}
			for k, v := range cfg.GetLabels() {
				labels[k] = v
			}
			nodes = append(nodes, &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
				Spec:       corev1.NodeSpec{ProviderID: fmt.Sprintf("gce://%s/%s/%s", project, zone, name)},
				Status: corev1.NodeStatus{
					Capacity:    capacity,
					Allocatable: allocatable,
					Addresses:   []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}},
				},
			})
		}
	}
	return nodes
}

// isZone tells a zone (us-west2-a) from a region (us-west2).
func isZone(location string) bool { return strings.Count(location, "-") == 2 }

func osDistribution(imageType string) string {
	if strings.HasPrefix(strings.ToUpper(imageType), "UBUNTU") {
		return "ubuntu"
	}
	return "cos"
}

// nodeName is GKE's node name: gke-<cluster>-<pool>-<8 hex of the pool's instance group>-<4
// characters of the instance>, the cluster and pool names cut short, stable for a cluster, pool
// and zone.
func nodeName(project, cluster, pool, zone string) string {
	cut := func(s string, n int) string { return strings.TrimRight(s[:min(len(s), n)], "-") }
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%s/%s", project, cluster, pool, zone)
	sum := h.Sum64()
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	suffix := make([]byte, 4)
	for i := range suffix {
		suffix[i] = alphabet[(sum>>(32+8*i))%uint64(len(alphabet))]
	}
	return fmt.Sprintf("gke-%s-%s-%08x-%s", cut(cluster, 14), cut(pool, 14), uint32(sum), suffix)
}

var (
	predefinedMachine = regexp.MustCompile(`^([a-z0-9]+)-(standard|highmem|highcpu)-(\d+)$`)
	customMachine     = regexp.MustCompile(`^(?:[a-z0-9]+-)?custom-(\d+)-(\d+)$`)
)

// machineResources are a Compute Engine machine type's capacity (CPUs, memory, GKE's 110 pods)
// and what GKE leaves allocatable of it: CPU less 6% of the first core, 1% of the second, 0.5%
// of the next two and 0.25% of the rest; memory less 25% of the first 4 GiB, 20% of the next 4,
// 10% of the next 8, 6% of the next 112 and 2% of the rest, and 100 MiB for eviction. Unknown
// types count as 4 CPUs and 16 GiB.
func machineResources(machine string) (capacity, allocatable corev1.ResourceList) {
	cpus, memMiB := 4, 16*1024
	switch m := predefinedMachine.FindStringSubmatch(machine); {
	case machine == "e2-micro":
		cpus, memMiB = 2, 1024
	case machine == "e2-small":
		cpus, memMiB = 2, 2*1024
	case machine == "e2-medium":
		cpus, memMiB = 2, 4*1024
	case m != nil:
		cpus, _ = strconv.Atoi(m[3])
		perCPU := map[string]float64{"standard": 4, "highmem": 8, "highcpu": 1}[m[2]]
		if m[1] == "n1" {
			perCPU = map[string]float64{"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}[m[2]]
		}
		memMiB = int(float64(cpus) * perCPU * 1024)
	default:
		if m := customMachine.FindStringSubmatch(machine); m != nil {
			cpus, _ = strconv.Atoi(m[1])
			memMiB, _ = strconv.Atoi(m[2])
		}
	}
	// GKE's reservations, by tiers of the machine's cores and of its memory in MiB.
	reserve := func(amount float64, tiers []struct{ from, to, share float64 }) float64 {
		r := 0.0
		for _, t := range tiers {
			if amount > t.from {
				r += (min(amount, t.to) - t.from) * t.share
			}
		}
		return r
	}
	reservedMilliCPU := 1000 * reserve(float64(cpus), []struct{ from, to, share float64 }{
		{0, 1, 0.06}, {1, 2, 0.01}, {2, 4, 0.005}, {4, math.Inf(1), 0.0025}})
	reservedMiB := 100 + reserve(float64(memMiB), []struct{ from, to, share float64 }{
		{0, 4096, 0.25}, {4096, 8192, 0.20}, {8192, 16384, 0.10}, {16384, 131072, 0.06}, {131072, math.Inf(1), 0.02}})
	capacity = corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(cpus), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(memMiB)<<20, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(maxPodsPerNode, resource.DecimalSI),
	}
	allocatable = corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(cpus)*1000-int64(math.Round(reservedMilliCPU)), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity((int64(memMiB)-int64(math.Round(reservedMiB)))<<20, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(maxPodsPerNode, resource.DecimalSI),
	}
	return capacity, allocatable
}
