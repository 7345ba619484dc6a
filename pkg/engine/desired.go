package engine

import (
	"fmt"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	hubv1 "google.golang.org/api/gkehub/v1"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

func apiAddr(project, service string) plan.Address {
	return plan.Address(fmt.Sprintf("gcp:projects/%s/services/%s", project, service))
}

func networkAddr(project, name string) plan.Address {
	return plan.Address(fmt.Sprintf("gcp:projects/%s/global/networks/%s", project, name))
}

func subnetAddr(project, region, name string) plan.Address {
	return plan.Address(fmt.Sprintf("gcp:projects/%s/regions/%s/subnetworks/%s", project, region, name))
}

func xpnHostAddr(project string) plan.Address {
	return plan.Address(fmt.Sprintf("gcp:projects/%s/xpnHost", project))
}

func nodePoolAddr(cluster plan.Address, pool string) plan.Address {
	return plan.Address(fmt.Sprintf("%s/nodePools/%s", cluster, pool))
}

// desiredState turns the file and what the compiler derived from it into the resources the
// federation wants, each with the API object that creates it.
func desiredState(f *v1alpha1.Federation, d *federation.Desired, numbers map[string]int64) ([]*object, error) {
	s := &f.Spec
	marker := federation.DescriptionMarker(f.Metadata.Name)
	var out []*object
	add := func(o *object) { out = append(out, o) }
	group := func(project string) string { return "project " + project }
	apiDep := func(project, service string) plan.Address { return apiAddr(project, service) }

	for _, a := range d.APIs {
		add(&object{res: plan.Resource{Address: plan.Address(a.Address), Kind: kindAPI, Group: group(a.Project), Reason: a.Reason,
			Fields: map[string]any{"state": "ENABLED"}}, project: a.Project, parent: a.Service})
	}

	netProject := s.Network.Project
	net := &computepb.Network{Name: proto.String(s.Network.Name), AutoCreateSubnetworks: proto.Bool(false),
		RoutingConfig: &computepb.NetworkRoutingConfig{RoutingMode: proto.String("REGIONAL")},
		Description:   proto.String(marker + ": the VPC every cluster of the federation is attached to")}
	netAddr := networkAddr(netProject, s.Network.Name)
	add(&object{res: plan.Resource{Address: netAddr, Kind: kindNetwork, Group: group(netProject), Protected: true,
		Reason: "the custom-mode VPC of spec.network; every cluster's nodes, pods and services live on it",
		Fields: networkFields(net), Immutable: []string{"autoCreateSubnetworks"}, DependsOn: []plan.Address{apiDep(netProject, "compute.googleapis.com")}},
		msg: net, project: netProject})
	netLink := fmt.Sprintf("projects/%s/global/networks/%s", netProject, s.Network.Name)

	usedBy := map[string][]string{}
	for _, c := range s.Clusters {
		usedBy[c.Subnet] = append(usedBy[c.Subnet], c.Name)
	}
	for _, sub := range s.Network.Subnets {
		sn := &computepb.Subnetwork{Name: proto.String(sub.Name), Network: proto.String(netLink), IpCidrRange: proto.String(sub.PrimaryRange),
			PrivateIpGoogleAccess: proto.Bool(v1alpha1.Bool(sub.PrivateGoogleAccess)), Region: proto.String(sub.Region)}
		for _, r := range []*v1alpha1.SecondaryRange{sub.PodRange, sub.ServiceRange} {
			if r != nil {
				sn.SecondaryIpRanges = append(sn.SecondaryIpRanges, &computepb.SubnetworkSecondaryRange{RangeName: proto.String(r.Name), IpCidrRange: proto.String(r.CIDR)})
			}
		}
		reason := fmt.Sprintf("subnet %s of spec.network in %s", sub.Name, sub.Region)
		if users := usedBy[sub.Name]; len(users) > 0 {
			reason += fmt.Sprintf(": nodes of %s, with pod and service secondary ranges", strings.Join(users, ", "))
		}
		sn.Description = proto.String(marker + ": " + reason)
		add(&object{res: plan.Resource{Address: subnetAddr(netProject, sub.Region, sub.Name), Kind: kindSubnetwork, Group: group(netProject),
			Reason: reason, Fields: subnetworkFields(sn), Immutable: []string{"network", "ipCidrRange"}, DependsOn: []plan.Address{netAddr}},
			msg: sn, project: netProject, location: sub.Region})
	}

	for _, r := range d.FirewallRules {
		fw := &computepb.Firewall{Name: proto.String(r.Name), Network: proto.String(fmt.Sprintf("projects/%s/global/networks/%s", r.Project, r.Network)),
			Direction: proto.String(r.Direction), Priority: proto.Int32(r.Priority), SourceRanges: r.SourceRanges, TargetTags: r.TargetTags,
			Description: proto.String(r.Description)}
		for _, a := range r.Allowed {
			fw.Allowed = append(fw.Allowed, &computepb.Allowed{IPProtocol: proto.String(a.IPProtocol), Ports: a.Ports})
		}
		add(&object{res: plan.Resource{Address: plan.Address(r.Address), Kind: kindFirewall, Group: group(r.Project), Reason: r.Reason,
			Fields: firewallFields(fw), Immutable: []string{"network", "direction"}, DependsOn: []plan.Address{networkAddr(r.Project, r.Network)}},
			msg: fw, project: r.Project})
	}

	for _, n := range d.NATs {
		deps := []plan.Address{networkAddr(n.Project, n.Network)}
		nat := &computepb.RouterNat{Name: proto.String(n.Name), NatIpAllocateOption: proto.String("AUTO_ONLY"),
			SourceSubnetworkIpRangesToNat: proto.String("LIST_OF_SUBNETWORKS")}
		for _, sn := range n.Subnets {
			nat.Subnetworks = append(nat.Subnetworks, &computepb.RouterNatSubnetworkToNat{
				Name:                proto.String(fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", n.Project, n.Region, sn.Name)),
				SourceIpRangesToNat: sn.Ranges})
			deps = append(deps, subnetAddr(n.Project, n.Region, sn.Name))
		}
		r := &computepb.Router{Name: proto.String(n.Router), Network: proto.String(fmt.Sprintf("projects/%s/global/networks/%s", n.Project, n.Network)),
			Region: proto.String(n.Region), Nats: []*computepb.RouterNat{nat}, Description: proto.String(federation.DescriptionMarker(f.Metadata.Name) + ": " + n.Reason)}
		add(&object{res: plan.Resource{Address: plan.Address(n.Address), Kind: kindRouter, Group: group(n.Project), Reason: n.Reason,
			Fields: routerFields(r), Immutable: []string{"network"}, DependsOn: deps}, msg: r, project: n.Project, location: n.Region})
	}

	var hostDeps []plan.Address
	if x := d.SharedVPC; x != nil {
		host := xpnHostAddr(x.HostProject)
		add(&object{res: plan.Resource{Address: host, Kind: kindXpnHost, Group: group(x.HostProject), Reason: x.HostReason,
			Fields: map[string]any{"enabled": true}, DependsOn: []plan.Address{apiDep(x.HostProject, "compute.googleapis.com")}}, project: x.HostProject})
		for _, sp := range x.ServiceProjects {
			add(&object{res: plan.Resource{Address: plan.Address(sp.Address), Kind: kindXpnService, Group: group(x.HostProject), Reason: sp.Reason,
				Fields: map[string]any{"attached": true}, DependsOn: []plan.Address{host, apiDep(sp.Project, "compute.googleapis.com")}},
				project: x.HostProject, parent: sp.Project})
			hostDeps = append(hostDeps, plan.Address(sp.Address))
		}
	}
	bindings := append([]federation.IAMBinding(nil), d.IAMBindings...)
	if d.SharedVPC != nil {
		bindings = append(bindings, d.SharedVPC.Bindings...)
	}
	seenBinding := map[string]bool{}
	for _, b := range bindings {
		if seenBinding[b.Address] {
			continue
		}
		seenBinding[b.Address] = true
		var deps []plan.Address
		project, location, subnet := parseIAMResource(b.Resource)
		if subnet != "" {
			deps = append(deps, subnetAddr(project, location, subnet))
		}
		add(&object{res: plan.Resource{Address: plan.Address(b.Address), Kind: kindIAM, Group: group(project), Reason: b.Reason,
			Fields: map[string]any{"role": b.Role, "member": b.Member}, DependsOn: deps}, project: project, location: location, parent: subnet})
		hostDeps = append(hostDeps, plan.Address(b.Address))
	}

	byName := map[string]v1alpha1.Cluster{}
	for _, c := range s.Clusters {
		byName[c.Name] = c
	}
	for _, cd := range d.Clusters {
		spec := byName[cd.Name]
		cl, err := clusterProto(cd, spec)
		if err != nil {
			return nil, err
		}
		addr := plan.Address(cd.Address)
		deps := []plan.Address{apiDep(cd.Project, "container.googleapis.com"), subnetAddr(netProject, cd.Region, spec.Subnet)}
		deps = append(deps, hostDeps...)
		add(&object{res: plan.Resource{Address: addr, Kind: kindCluster, Group: "cluster " + cd.Name, Protected: true,
			Reason: fmt.Sprintf("private cluster %s of the federation in %s", cd.Name, cd.Location),
			Fields: clusterFields(cl, cd.Project), Immutable: clusterImmutable, DependsOn: deps},
			msg: cl, project: cd.Project, location: cd.Location})
		for _, np := range cl.NodePools {
			add(&object{res: plan.Resource{Address: nodePoolAddr(addr, np.GetName()), Kind: kindNodePool, Group: "cluster " + cd.Name,
				Reason: fmt.Sprintf("node pool %s of %s (the default node pool is never created)", np.GetName(), cd.Name),
				Fields: nodePoolFields(np), Immutable: nodePoolImmutable, DependsOn: []plan.Address{addr}},
				msg: np, project: cd.Project, location: cd.Location, parent: cd.Name})
		}
	}

	for _, m := range d.FleetMemberships {
		mem := &gkehubpb.Membership{Type: &gkehubpb.Membership_Endpoint{Endpoint: &gkehubpb.MembershipEndpoint{Type: &gkehubpb.MembershipEndpoint_GkeCluster{GkeCluster: &gkehubpb.GkeCluster{ResourceLink: m.Cluster}}}},
			Labels: map[string]string{federation.LabelManagedBy: federation.ManagedByValue, federation.LabelFederation: f.Metadata.Name}}
		clusterAddr := plan.Address("gke:" + strings.TrimPrefix(m.Cluster, "//container.googleapis.com/"))
		add(&object{res: plan.Resource{Address: plan.Address(m.Address), Kind: kindMembership, Group: group(m.Project), Reason: m.Reason,
			Fields: membershipFields(mem), Immutable: []string{"resourceLink"}, DependsOn: []plan.Address{clusterAddr, apiDep(m.Project, "gkehub.googleapis.com")}},
			msg: mem, project: m.Project, location: m.Location, parent: m.Name})
	}
	if f.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged && len(d.FleetMemberships) > 0 {
		fleet := f.Spec.FleetProject
		feature := &hubv1.Feature{MembershipSpecs: map[string]hubv1.MembershipFeatureSpec{}}
		deps := []plan.Address{apiDep(fleet, "mesh.googleapis.com")}
		var names []string
		for _, m := range d.FleetMemberships {
			key := fmt.Sprintf("projects/%d/locations/%s/memberships/%s", numbers[m.Project], m.Location, m.Name)
			feature.MembershipSpecs[key] = hubv1.MembershipFeatureSpec{Mesh: &hubv1.ServiceMeshMembershipSpec{Management: "MANAGEMENT_AUTOMATIC"}}
			deps = append(deps, plan.Address(m.Address))
			names = append(names, m.Name)
		}
		add(&object{res: plan.Resource{Address: featureAddr(fleet), Kind: kindFeature, Group: group(fleet),
			Reason: fmt.Sprintf("mesh.controlPlane is managed: Google runs the control plane of %s through the fleet's servicemesh feature with automatic management (no in-cluster istiod)", strings.Join(names, ", ")),
			Fields: featureFields(feature, nil), DependsOn: deps}, msg: feature, project: fleet})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].res.Address < out[j].res.Address })
	return out, nil
}

func featureAddr(project string) plan.Address {
	return plan.Address(fmt.Sprintf("gcp:projects/%s/locations/global/features/%s", project, meshFeature))
}

// parseIAMResource splits projects/p or projects/p/regions/r/subnetworks/s.
func parseIAMResource(resource string) (project, region, subnet string) {
	parts := strings.Split(resource, "/")
	if len(parts) >= 2 {
		project = parts[1]
	}
	if len(parts) == 6 && parts[2] == "regions" && parts[4] == "subnetworks" {
		region, subnet = parts[3], parts[5]
	}
	return project, region, subnet
}

var releaseChannels = map[string]containerpb.ReleaseChannel_Channel{
	"RAPID": containerpb.ReleaseChannel_RAPID, "REGULAR": containerpb.ReleaseChannel_REGULAR,
	"STABLE": containerpb.ReleaseChannel_STABLE, "EXTENDED": containerpb.ReleaseChannel_EXTENDED,
	"UNSPECIFIED": containerpb.ReleaseChannel_UNSPECIFIED,
}

// clusterProto builds the GKE cluster a federation cluster is: private nodes, the control-plane
// range, authorized networks, VPC-native ranges from the subnet, Workload Identity, and exactly
// the node pools of the file (so no default node pool ever exists).
func clusterProto(cd federation.ClusterDesired, spec v1alpha1.Cluster) (*containerpb.Cluster, error) {
	if strings.Contains(cd.PodRange, "<") {
		return nil, fmt.Errorf("cluster %s: unresolved pod range", cd.Name)
	}
	cl := &containerpb.Cluster{
		Name:          cd.Name,
		Location:      cd.Location,
		Network:       cd.VPC,
		Subnetwork:    cd.Subnetwork,
		NetworkConfig: &containerpb.NetworkConfig{Network: cd.VPC, Subnetwork: cd.Subnetwork},
		PrivateClusterConfig: &containerpb.PrivateClusterConfig{EnablePrivateNodes: true, EnablePrivateEndpoint: cd.PrivateEndpoint,
			MasterIpv4CidrBlock: cd.ControlPlaneRange, MasterGlobalAccessConfig: &containerpb.PrivateClusterMasterGlobalAccessConfig{Enabled: cd.MasterGlobalAccess}},
		MasterAuthorizedNetworksConfig: &containerpb.MasterAuthorizedNetworksConfig{Enabled: true},
		IpAllocationPolicy:             &containerpb.IPAllocationPolicy{UseIpAliases: true},
		NetworkPolicy:                  &containerpb.NetworkPolicy{Enabled: v1alpha1.Bool(spec.NetworkPolicy), Provider: containerpb.NetworkPolicy_CALICO},
		AddonsConfig:                   &containerpb.AddonsConfig{NetworkPolicyConfig: &containerpb.NetworkPolicyConfig{Disabled: !v1alpha1.Bool(spec.NetworkPolicy)}},
		ShieldedNodes:                  &containerpb.ShieldedNodes{Enabled: v1alpha1.Bool(spec.ShieldedNodes)},
		ReleaseChannel:                 &containerpb.ReleaseChannel{Channel: releaseChannels[spec.ReleaseChannel]},
		ResourceLabels:                 cd.Labels,
	}
	if cd.WorkloadPool != "" {
		cl.WorkloadIdentityConfig = &containerpb.WorkloadIdentityConfig{WorkloadPool: cd.WorkloadPool}
	}
	for _, an := range cd.MasterAuthorizedNetworks {
		cl.MasterAuthorizedNetworksConfig.CidrBlocks = append(cl.MasterAuthorizedNetworksConfig.CidrBlocks,
			&containerpb.MasterAuthorizedNetworksConfig_CidrBlock{DisplayName: an.DisplayName, CidrBlock: an.CIDR})
	}
	cl.IpAllocationPolicy.ClusterSecondaryRangeName = cd.PodRangeName
	cl.IpAllocationPolicy.ServicesSecondaryRangeName = cd.ServiceRangeName
	for _, np := range spec.NodePools {
		p := &containerpb.NodePool{
			Name:             np.Name,
			InitialNodeCount: max(1, np.Autoscaling.Min),
			Config: &containerpb.NodeConfig{MachineType: np.MachineType, ImageType: np.ImageType, DiskSizeGb: np.DiskSizeGB, DiskType: np.DiskType,
				Tags: np.Tags, ServiceAccount: np.ServiceAccount},
			Autoscaling: &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: np.Autoscaling.Min, MaxNodeCount: np.Autoscaling.Max},
			Management:  &containerpb.NodeManagement{AutoRepair: true, AutoUpgrade: true},
		}
		if cd.WorkloadPool != "" {
			p.Config.WorkloadMetadataConfig = &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}
		}
		cl.NodePools = append(cl.NodePools, p)
	}
	return cl, nil
}
