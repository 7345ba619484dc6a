package gcplayer

import (
	"fmt"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	hubv1 "google.golang.org/api/gkehub/v1"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// desiredState turns the Google Cloud part of the model into resources, each with the API object
// that creates it. Everything it reads is in the model; the dependencies between resources are
// the layer's: what the API needs to exist first.
func desiredState(d *federation.Desired) ([]*object, error) {
	if !d.Resolved() {
		return nil, fmt.Errorf("the model still has placeholders for the numbers of projects %s", strings.Join(d.Unresolved, ", "))
	}
	var out []*object
	add := func(o *object) { out = append(out, o) }
	group := func(project string) string { return "project " + project }
	apiDep := plan.APIAddress

	for _, a := range d.APIs {
		add(&object{res: plan.Resource{Address: a.Address, Kind: plan.KindAPI, Group: group(a.Project), Reason: a.Reason,
			Fields: map[string]any{"state": "ENABLED"}}, project: a.Project, parent: a.Service})
	}

	n := d.Network
	net := &computepb.Network{Name: proto.String(n.Name), AutoCreateSubnetworks: proto.Bool(false),
		RoutingConfig: &computepb.NetworkRoutingConfig{RoutingMode: proto.String(n.RoutingMode)},
		Description:   proto.String(n.Description)}
	netFields := networkFields(net)
	netFields["mark"] = markDescription
	add(&object{res: plan.Resource{Address: n.Address, Kind: plan.KindNetwork, Group: group(n.Project), Protected: true,
		Reason: n.Reason, Fields: netFields, Immutable: []string{"autoCreateSubnetworks"}, DependsOn: []plan.Address{apiDep(n.Project, "compute.googleapis.com")}},
		msg: net, project: n.Project})

	for _, sub := range d.Subnets {
		sn := &computepb.Subnetwork{Name: proto.String(sub.Name), Network: proto.String(sub.Network), IpCidrRange: proto.String(sub.PrimaryRange),
			PrivateIpGoogleAccess: proto.Bool(sub.PrivateGoogleAccess), Region: proto.String(sub.Region), Description: proto.String(sub.Description)}
		for _, r := range sub.SecondaryRanges {
			sn.SecondaryIpRanges = append(sn.SecondaryIpRanges, &computepb.SubnetworkSecondaryRange{RangeName: proto.String(r.Name), IpCidrRange: proto.String(r.CIDR)})
		}
		snFields := subnetworkFields(sn)
		snFields["mark"] = markDescription
		add(&object{res: plan.Resource{Address: sub.Address, Kind: plan.KindSubnetwork, Group: group(sub.Project),
			Reason: sub.Reason, Fields: snFields, Immutable: []string{"network", "ipCidrRange"}, DependsOn: []plan.Address{n.Address}},
			msg: sn, project: sub.Project, location: sub.Region})
	}

	for _, r := range d.FirewallRules {
		fw := &computepb.Firewall{Name: proto.String(r.Name), Network: proto.String(fmt.Sprintf("projects/%s/global/networks/%s", r.Project, r.Network)),
			Direction: proto.String(r.Direction), Priority: proto.Int32(r.Priority), SourceRanges: r.SourceRanges, TargetTags: r.TargetTags,
			Description: proto.String(r.Description)}
		for _, a := range r.Allowed {
			fw.Allowed = append(fw.Allowed, &computepb.Allowed{IPProtocol: proto.String(a.IPProtocol), Ports: a.Ports})
		}
		add(&object{res: plan.Resource{Address: r.Address, Kind: plan.KindFirewall, Group: group(r.Project), Reason: r.Reason,
			Fields: firewallFields(fw), Immutable: []string{"network", "direction"}, DependsOn: []plan.Address{plan.NetworkAddress(r.Project, r.Network)}},
			msg: fw, project: r.Project})
	}

	for _, nat := range d.NATs {
		deps := []plan.Address{plan.NetworkAddress(nat.Project, nat.Network)}
		rn := &computepb.RouterNat{Name: proto.String(nat.Name), NatIpAllocateOption: proto.String("AUTO_ONLY"),
			SourceSubnetworkIpRangesToNat: proto.String("LIST_OF_SUBNETWORKS")}
		for _, sn := range nat.Subnets {
			rn.Subnetworks = append(rn.Subnetworks, &computepb.RouterNatSubnetworkToNat{
				Name:                proto.String(fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", nat.Project, nat.Region, sn.Name)),
				SourceIpRangesToNat: sn.Ranges})
			deps = append(deps, plan.SubnetworkAddress(nat.Project, nat.Region, sn.Name))
		}
		r := &computepb.Router{Name: proto.String(nat.Router), Network: proto.String(fmt.Sprintf("projects/%s/global/networks/%s", nat.Project, nat.Network)),
			Region: proto.String(nat.Region), Nats: []*computepb.RouterNat{rn}, Description: proto.String(federation.DescriptionMarker(d.Federation) + ": " + nat.Reason)}
		add(&object{res: plan.Resource{Address: nat.Address, Kind: plan.KindRouter, Group: group(nat.Project), Reason: nat.Reason,
			Fields: routerFields(r, nil), Immutable: []string{"network"}, DependsOn: deps}, msg: r, project: nat.Project, location: nat.Region})
	}

	var hostDeps []plan.Address
	if x := d.SharedVPC; x != nil {
		host := plan.XpnHostAddress(x.HostProject)
		add(&object{res: plan.Resource{Address: host, Kind: plan.KindXpnHost, Group: group(x.HostProject), Reason: x.HostReason,
			Fields: map[string]any{"enabled": true}, DependsOn: []plan.Address{apiDep(x.HostProject, "compute.googleapis.com")}}, project: x.HostProject})
		for _, sp := range x.ServiceProjects {
			add(&object{res: plan.Resource{Address: sp.Address, Kind: plan.KindXpnService, Group: group(x.HostProject), Reason: sp.Reason,
				Fields: map[string]any{"attached": true}, DependsOn: []plan.Address{host, apiDep(sp.Project, "compute.googleapis.com")}},
				project: x.HostProject, parent: sp.Project})
			hostDeps = append(hostDeps, sp.Address)
		}
	}
	bindings := append([]federation.IAMBinding(nil), d.IAMBindings...)
	if d.SharedVPC != nil {
		bindings = append(bindings, d.SharedVPC.Bindings...)
	}
	seenBinding := map[plan.Address]bool{}
	for _, b := range bindings {
		if seenBinding[b.Address] {
			continue
		}
		seenBinding[b.Address] = true
		var deps []plan.Address
		project, location, subnet := parseIAMResource(b.Resource)
		if subnet != "" {
			deps = append(deps, plan.SubnetworkAddress(project, location, subnet))
		}
		add(&object{res: plan.Resource{Address: b.Address, Kind: plan.KindIAMBinding, Group: group(project), Reason: b.Reason,
			Fields: map[string]any{"role": b.Role, "member": b.Member}, DependsOn: deps}, project: project, location: location, parent: subnet})
		hostDeps = append(hostDeps, b.Address)
	}

	for _, cd := range d.Clusters {
		cl, err := clusterProto(cd)
		if err != nil {
			return nil, err
		}
		deps := []plan.Address{apiDep(cd.Project, "container.googleapis.com"), cd.SubnetAddress}
		deps = append(deps, hostDeps...)
		add(&object{res: plan.Resource{Address: cd.Address, Kind: plan.KindCluster, Group: "cluster " + cd.Name, Protected: true,
			Reason: cd.Reason, Fields: clusterFields(cl, cd.Project), Immutable: clusterImmutable, DependsOn: deps},
			msg: cl, project: cd.Project, location: cd.Location})
		for i, np := range cl.NodePools {
			np.Config.ResourceLabels = map[string]string{federation.LabelManagedBy: federation.ManagedByValue, federation.LabelFederation: d.Federation}
			add(&object{res: plan.Resource{Address: cd.NodePools[i].Address, Kind: plan.KindNodePool, Group: "cluster " + cd.Name, Protected: true,
				Reason: cd.NodePools[i].Reason, Fields: nodePoolFields(np), Immutable: nodePoolImmutable, DependsOn: []plan.Address{cd.Address}},
				msg: np, project: cd.Project, location: cd.Location, parent: cd.Name})
		}
	}

	for _, m := range d.FleetMemberships {
		mem := &gkehubpb.Membership{Type: &gkehubpb.Membership_Endpoint{Endpoint: &gkehubpb.MembershipEndpoint{Type: &gkehubpb.MembershipEndpoint_GkeCluster{GkeCluster: &gkehubpb.GkeCluster{ResourceLink: m.Cluster}}}},
			Authority: &gkehubpb.Authority{Issuer: m.Issuer},
			Labels:    map[string]string{federation.LabelManagedBy: federation.ManagedByValue, federation.LabelFederation: d.Federation}}
		add(&object{res: plan.Resource{Address: m.Address, Kind: plan.KindMembership, Group: group(m.Project), Reason: m.Reason,
			Fields: membershipFields(mem), Immutable: []string{"resourceLink"}, DependsOn: []plan.Address{m.ClusterAddress, apiDep(m.Project, "gkehub.googleapis.com")}},
			msg: mem, project: m.Project, location: m.Location, parent: m.Name})
	}
	if mf := d.MeshFeature; mf != nil {
		feature := &hubv1.Feature{MembershipSpecs: map[string]hubv1.MembershipFeatureSpec{}}
		deps := []plan.Address{apiDep(mf.Project, "mesh.googleapis.com")}
		for _, key := range mf.Memberships {
			feature.MembershipSpecs[key] = hubv1.MembershipFeatureSpec{Mesh: &hubv1.ServiceMeshMembershipSpec{Management: mf.Management}}
		}
		for _, m := range d.FleetMemberships {
			deps = append(deps, m.Address)
		}
		add(&object{res: plan.Resource{Address: mf.Address, Kind: plan.KindFeature, Group: group(mf.Project), Reason: mf.Reason,
			Fields: featureFields(feature, nil), DependsOn: deps}, msg: feature, project: mf.Project})
	}
	if o := bastionObject(d); o != nil {
		add(o)
	}
	out = append(out, cloudSQLDesired(d)...)
	sort.Slice(out, func(i, j int) bool { return out[i].res.Address < out[j].res.Address })
	return out, nil
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
func clusterProto(cd federation.ClusterDesired) (*containerpb.Cluster, error) {
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
		IpAllocationPolicy:             &containerpb.IPAllocationPolicy{UseIpAliases: true, ClusterSecondaryRangeName: cd.PodRangeName, ServicesSecondaryRangeName: cd.ServiceRangeName},
		NetworkPolicy:                  &containerpb.NetworkPolicy{Enabled: cd.NetworkPolicy, Provider: containerpb.NetworkPolicy_CALICO},
		AddonsConfig:                   &containerpb.AddonsConfig{NetworkPolicyConfig: &containerpb.NetworkPolicyConfig{Disabled: !cd.NetworkPolicy}},
		ShieldedNodes:                  &containerpb.ShieldedNodes{Enabled: cd.ShieldedNodes},
		ReleaseChannel:                 &containerpb.ReleaseChannel{Channel: releaseChannels[cd.ReleaseChannel]},
		ResourceLabels:                 cd.Labels,
	}
	if cd.WorkloadPool != "" {
		cl.WorkloadIdentityConfig = &containerpb.WorkloadIdentityConfig{WorkloadPool: cd.WorkloadPool}
	}
	for _, an := range cd.MasterAuthorizedNetworks {
		cl.MasterAuthorizedNetworksConfig.CidrBlocks = append(cl.MasterAuthorizedNetworksConfig.CidrBlocks,
			&containerpb.MasterAuthorizedNetworksConfig_CidrBlock{DisplayName: an.DisplayName, CidrBlock: an.CIDR})
	}
	for _, np := range cd.NodePools {
		p := &containerpb.NodePool{
			Name:             np.Name,
			InitialNodeCount: max(1, np.MinNodes),
			Config: &containerpb.NodeConfig{MachineType: np.MachineType, ImageType: np.ImageType, DiskSizeGb: np.DiskSizeGB, DiskType: np.DiskType,
				Tags: np.Tags, ServiceAccount: np.ServiceAccount},
			Autoscaling: &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: np.MinNodes, MaxNodeCount: np.MaxNodes},
			Management:  &containerpb.NodeManagement{AutoRepair: true, AutoUpgrade: true},
		}
		if cd.WorkloadPool != "" {
			p.Config.WorkloadMetadataConfig = &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}
		}
		cl.NodePools = append(cl.NodePools, p)
	}
	return cl, nil
}
