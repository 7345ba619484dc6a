package gcplayer

import (
	"fmt"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	hubv1 "google.golang.org/api/gkehub/v1"

	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// featureFields describes a fleet feature by the membership specs the federation manages.
func featureFields(f *hubv1.Feature, keys map[string]bool) map[string]any {
	specs := map[string]any{}
	for k, s := range f.MembershipSpecs {
		if keys != nil && !keys[k] {
			continue
		}
		management := ""
		if s.Mesh != nil {
			management = s.Mesh.Management
		}
		specs[k] = map[string]any{"management": management}
	}
	return map[string]any{"membershipSpecs": specs}
}

// The fields of each kind are produced by one function from the API object, for desired and live
// objects alike, so that the same meaning always yields the same fields: that is what keeps
// apply-then-plan at zero changes.

// shortLink strips a resource link to its relative name: projects/p/global/networks/n.
func shortLink(link string) string {
	if i := strings.Index(link, "projects/"); i >= 0 {
		return link[i:]
	}
	return link
}

func sortedStrings(in []string) []any {
	s := append([]string(nil), in...)
	sort.Strings(s)
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// networkFields describe a network without its description, which Compute Engine lets no one
// change after creation: whether the network is the federation's is the "mark" field, set by
// the caller (markDescription, recordMark).
func networkFields(n *computepb.Network) map[string]any {
	mode := n.GetRoutingConfig().GetRoutingMode()
	if mode == "" {
		mode = "REGIONAL"
	}
	return map[string]any{
		"autoCreateSubnetworks": n.GetAutoCreateSubnetworks(),
		"routingMode":           mode,
	}
}

// subnetworkFields describe a subnetwork without its description, set only at creation, like a
// network's.
func subnetworkFields(s *computepb.Subnetwork) map[string]any {
	var ranges []any
	sec := append([]*computepb.SubnetworkSecondaryRange(nil), s.GetSecondaryIpRanges()...)
	sort.Slice(sec, func(i, j int) bool { return sec[i].GetRangeName() < sec[j].GetRangeName() })
	for _, r := range sec {
		ranges = append(ranges, map[string]any{"rangeName": r.GetRangeName(), "ipCidrRange": r.GetIpCidrRange()})
	}
	if ranges == nil {
		ranges = []any{}
	}
	return map[string]any{
		"network":               shortLink(s.GetNetwork()),
		"ipCidrRange":           s.GetIpCidrRange(),
		"secondaryIpRanges":     ranges,
		"privateIpGoogleAccess": s.GetPrivateIpGoogleAccess(),
	}
}

func firewallFields(f *computepb.Firewall) map[string]any {
	var allowed []any
	al := append([]*computepb.Allowed(nil), f.GetAllowed()...)
	sort.Slice(al, func(i, j int) bool { return al[i].GetIPProtocol() < al[j].GetIPProtocol() })
	for _, a := range al {
		allowed = append(allowed, map[string]any{"IPProtocol": a.GetIPProtocol(), "ports": sortedStrings(a.GetPorts())})
	}
	priority := f.GetPriority()
	if f.Priority == nil {
		priority = 1000
	}
	direction := f.GetDirection()
	if direction == "" {
		direction = "INGRESS"
	}
	return map[string]any{
		"network":      shortLink(f.GetNetwork()),
		"direction":    direction,
		"priority":     priority,
		"sourceRanges": sortedStrings(f.GetSourceRanges()),
		"targetTags":   sortedStrings(f.GetTargetTags()),
		"allowed":      allowed,
		"description":  f.GetDescription(),
	}
}

// routerFields describes a router by its NATs. With only set, the NATs of other names are left
// out: a NAT added by hand to the federation's router is not the federation's to remove.
func routerFields(r *computepb.Router, only map[string]bool) map[string]any {
	var nats []any
	var ns []*computepb.RouterNat
	for _, n := range r.GetNats() {
		if only == nil || only[n.GetName()] {
			ns = append(ns, n)
		}
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i].GetName() < ns[j].GetName() })
	for _, n := range ns {
		var subs []any
		ss := append([]*computepb.RouterNatSubnetworkToNat(nil), n.GetSubnetworks()...)
		sort.Slice(ss, func(i, j int) bool { return shortLink(ss[i].GetName()) < shortLink(ss[j].GetName()) })
		for _, s := range ss {
			subs = append(subs, map[string]any{"name": shortLink(s.GetName()), "sourceIpRangesToNat": sortedStrings(s.GetSourceIpRangesToNat())})
		}
		nats = append(nats, map[string]any{
			"name":                          n.GetName(),
			"natIpAllocateOption":           n.GetNatIpAllocateOption(),
			"sourceSubnetworkIpRangesToNat": n.GetSourceSubnetworkIpRangesToNat(),
			"subnetworks":                   subs,
		})
	}
	return map[string]any{"network": shortLink(r.GetNetwork()), "nats": nats, "description": r.GetDescription()}
}

// clusterFields describes a cluster by what the tool manages. project and location qualify the
// short network names GKE returns for same-project networks.
func clusterFields(c *containerpb.Cluster, project string) map[string]any {
	network := c.GetNetworkConfig().GetNetwork()
	if network == "" {
		network = c.GetNetwork()
	}
	if network != "" && !strings.Contains(network, "/") {
		network = fmt.Sprintf("projects/%s/global/networks/%s", project, network)
	}
	subnet := c.GetNetworkConfig().GetSubnetwork()
	if subnet == "" {
		subnet = c.GetSubnetwork()
	}
	if subnet != "" && !strings.Contains(subnet, "/") {
		subnet = fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", project, regionOf(c.GetLocation()), subnet)
	}
	var man []any
	blocks := append([]*containerpb.MasterAuthorizedNetworksConfig_CidrBlock(nil), c.GetMasterAuthorizedNetworksConfig().GetCidrBlocks()...)
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].GetCidrBlock() < blocks[j].GetCidrBlock() })
	for _, b := range blocks {
		man = append(man, map[string]any{"cidrBlock": b.GetCidrBlock(), "displayName": b.GetDisplayName()})
	}
	if man == nil {
		man = []any{}
	}
	pcc := c.GetPrivateClusterConfig()
	channel := c.GetReleaseChannel().GetChannel().String()
	labels := map[string]any{}
	for k, v := range c.GetResourceLabels() {
		labels[k] = v
	}
	return map[string]any{
		"network":                  shortLink(network),
		"subnetwork":               shortLink(subnet),
		"privateNodes":             pcc.GetEnablePrivateNodes(),
		"privateEndpoint":          pcc.GetEnablePrivateEndpoint(),
		"controlPlaneRange":        pcc.GetMasterIpv4CidrBlock(),
		"masterGlobalAccess":       pcc.GetMasterGlobalAccessConfig().GetEnabled(),
		"masterAuthorizedNetworks": man,
		"podRange":                 c.GetIpAllocationPolicy().GetClusterSecondaryRangeName(),
		"serviceRange":             c.GetIpAllocationPolicy().GetServicesSecondaryRangeName(),
		"workloadPool":             c.GetWorkloadIdentityConfig().GetWorkloadPool(),
		"networkPolicy":            c.GetNetworkPolicy().GetEnabled(),
		"shieldedNodes":            c.GetShieldedNodes().GetEnabled(),
		"releaseChannel":           channel,
		"labels":                   labels,
	}
}

var clusterImmutable = []string{"network", "subnetwork", "privateNodes", "controlPlaneRange", "podRange", "serviceRange"}

func nodePoolFields(np *containerpb.NodePool) map[string]any {
	cfg := np.GetConfig()
	sa := cfg.GetServiceAccount()
	if sa == "" {
		sa = "default"
	}
	a := np.GetAutoscaling()
	labels := map[string]any{}
	for k, v := range cfg.GetResourceLabels() {
		labels[k] = v
	}
	return map[string]any{
		"labels":                      labels,
		"workloadMetadataConfig.mode": metadataMode(cfg).String(),
		"machineType":                 cfg.GetMachineType(),
		"imageType":                   strings.ToUpper(cfg.GetImageType()),
		"diskSizeGb":                  cfg.GetDiskSizeGb(),
		"diskType":                    cfg.GetDiskType(),
		"tags":                        sortedStrings(cfg.GetTags()),
		"serviceAccount":              sa,
		"autoscaling":                 map[string]any{"enabled": a.GetEnabled(), "minNodeCount": a.GetMinNodeCount(), "maxNodeCount": a.GetMaxNodeCount()},
	}
}

var nodePoolImmutable = []string{"machineType", "diskSizeGb", "diskType", "serviceAccount"}

// metadataMode is how a pool's nodes expose metadata to pods: GKE_METADATA, the GKE metadata
// server Workload Identity needs, or GCE_METADATA, the Compute Engine metadata server, which is
// also what a pool without a mode shows.
func metadataMode(cfg *containerpb.NodeConfig) containerpb.WorkloadMetadataConfig_Mode {
	if m := cfg.GetWorkloadMetadataConfig().GetMode(); m != containerpb.WorkloadMetadataConfig_MODE_UNSPECIFIED {
		return m
	}
	return containerpb.WorkloadMetadataConfig_GCE_METADATA
}

// membershipFields describes a membership by the cluster it registers, the issuer of its
// authority (none: fleet Workload Identity is off) and its labels.
func membershipFields(m *gkehubpb.Membership) map[string]any {
	labels := map[string]any{}
	for k, v := range m.GetLabels() {
		labels[k] = v
	}
	link, issuer := m.GetEndpoint().GetGkeCluster().GetResourceLink(), m.GetAuthority().GetIssuer()
	if link != "" {
		// The cluster a membership registers, and its own issuer, are compared by the cluster's
		// name: gcloud writes the container endpoint it is given into both (the sandbox's).
		cluster := clusterName(link)
		if issuer != "" && strings.HasSuffix(issuer, "/v1/"+cluster) {
			issuer = "https://container.googleapis.com/v1/" + cluster
		}
		link = "//container.googleapis.com/" + cluster
	}
	return map[string]any{
		"resourceLink":     link,
		"authority.issuer": issuer,
		"labels":           labels,
	}
}

// regionOf returns the region of a GKE location (a zone's region, or the region itself).
func regionOf(location string) string {
	parts := strings.Split(location, "-")
	if len(parts) == 3 && len(parts[2]) == 1 {
		return parts[0] + "-" + parts[1]
	}
	return location
}

// object is one resource of desired or live state: its plan view and the API object behind it.
type object struct {
	res plan.Resource
	// msg is the API object: a proto of the Cloud clients, or a type of the discovery clients.
	msg any
	// project, location and parent name the API scope of the object.
	project, location, parent string
	// recorded is set on a live network or subnetwork the adoption record makes the federation's.
	recorded bool
}
