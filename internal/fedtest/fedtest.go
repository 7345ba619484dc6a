// Package fedtest builds Federation values for tests, so that test cases say only what matters to
// them (how many clusters, which regions and projects) instead of copying long literals. It is
// imported by tests only.
package fedtest

import (
	"encoding/json"
	"fmt"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// Defaults of the builder, chosen to be valid Google Cloud names.
const (
	DefaultFleetProject = "fleet-project"
	DefaultNetwork      = "mesh-vpc"
)

// Builder accumulates a Federation. Its methods change the builder and return it, so cases read as
// one chain.
type Builder struct {
	f v1alpha1.Federation
}

// New starts a federation with one network in the fleet project and no clusters.
func New(name string) *Builder {
	return &Builder{f: v1alpha1.Federation{
		APIVersion: v1alpha1.APIVersion,
		Kind:       v1alpha1.Kind,
		Metadata:   v1alpha1.ObjectMeta{Name: name},
		Spec: v1alpha1.FederationSpec{
			FleetProject: DefaultFleetProject,
			Network:      v1alpha1.Network{Name: DefaultNetwork},
		},
	}}
}

// FleetProject sets the fleet project and, when number > 0, its number (which lets defaults
// derive the mesh ID offline).
func (b *Builder) FleetProject(id string, number int64) *Builder {
	b.f.Spec.FleetProject = id
	b.f.Spec.FleetProjectNumber = number
	return b
}

// Network sets the VPC's project (the Shared VPC host when it differs from clusters' projects) and
// name.
func (b *Builder) Network(project, name string) *Builder {
	b.f.Spec.Network.Project = project
	b.f.Spec.Network.Name = name
	return b
}

// Subnet adds a subnet without secondary ranges, e.g. for a bastion.
func (b *Builder) Subnet(name, region, primary string) *Builder {
	b.f.Spec.Network.Subnets = append(b.f.Spec.Network.Subnets, v1alpha1.Subnet{Name: name, Region: region, PrimaryRange: primary})
	return b
}

// Admin adds an admin authorized network.
func (b *Builder) Admin(name, cidr string) *Builder {
	b.f.Spec.Admin.AuthorizedNetworks = append(b.f.Spec.Admin.AuthorizedNetworks, v1alpha1.NamedCIDR{Name: name, CIDR: cidr})
	return b
}

// Bastion sets the admin VM.
func (b *Builder) Bastion(name, zone, subnet string) *Builder {
	b.f.Spec.Admin.Bastion = &v1alpha1.Bastion{Name: name, Zone: zone, Subnet: subnet}
	return b
}

// NAT sets the Cloud NAT regions and subnets; empty lists keep the defaults.
func (b *Builder) NAT(enabled bool, regions, subnets []string) *Builder {
	b.f.Spec.Network.CloudNAT = v1alpha1.CloudNAT{Enabled: &enabled, Regions: regions, Subnets: subnets}
	return b
}

// Mesh lets a case change mesh settings the builder has no method for.
func (b *Builder) Mesh(change func(m *v1alpha1.Mesh)) *Builder {
	change(&b.f.Spec.Mesh)
	return b
}

// WebhookPorts sets mesh.webhookPorts.
func (b *Builder) WebhookPorts(ports ...int32) *Builder {
	b.f.Spec.Mesh.WebhookPorts = ports
	return b
}

// CrossClusterPorts sets mesh.crossClusterPorts.
func (b *Builder) CrossClusterPorts(rules ...v1alpha1.PortRule) *Builder {
	b.f.Spec.Mesh.CrossClusterPorts = rules
	return b
}

// Access sets how the tool reaches the clusters (spec.access.via).
func (b *Builder) Access(via string) *Builder {
	b.f.Spec.Access.Via = via
	return b
}

// Cluster adds a cluster and the subnet it owns.
func (b *Builder) Cluster(c *ClusterBuilder) *Builder {
	b.f.Spec.Network.Subnets = append(b.f.Spec.Network.Subnets, c.subnet)
	b.f.Spec.Clusters = append(b.f.Spec.Clusters, c.c)
	return b
}

// Raw returns a copy of the federation as written, without defaults.
func (b *Builder) Raw() *v1alpha1.Federation {
	var out v1alpha1.Federation
	data, err := json.Marshal(b.f)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		panic(err)
	}
	return &out
}

// Build returns a defaulted copy, the input the compiler expects. The builder stays usable.
func (b *Builder) Build() *v1alpha1.Federation {
	f := b.Raw()
	v1alpha1.SetDefaults(f)
	return f
}

// ClusterBuilder accumulates one cluster and its subnet (named after the cluster).
type ClusterBuilder struct {
	c      v1alpha1.Cluster
	subnet v1alpha1.Subnet
}

// Cluster starts a cluster in us-west2 with one node pool; set its ranges with Ranges.
func Cluster(name string) *ClusterBuilder {
	cb := &ClusterBuilder{
		c: v1alpha1.Cluster{
			Name:      name,
			Subnet:    name,
			NodePools: []v1alpha1.NodePool{{Name: name + "-node-pool"}},
		},
		subnet: v1alpha1.Subnet{Name: name},
	}
	return cb.Location("us-west2")
}

// Project puts the cluster in a project (a service project when it differs from the network's).
func (c *ClusterBuilder) Project(p string) *ClusterBuilder {
	c.c.Project = p
	return c
}

// Location sets the cluster's region or zone and its subnet's region.
func (c *ClusterBuilder) Location(loc string) *ClusterBuilder {
	c.c.Location = loc
	c.subnet.Region = v1alpha1.RegionOf(loc)
	return c
}

// Ranges sets the subnet's primary, pod and service ranges and the control-plane /28.
func (c *ClusterBuilder) Ranges(primary, pods, services, controlPlane string) *ClusterBuilder {
	c.subnet.PrimaryRange = primary
	c.subnet.PodRange = &v1alpha1.SecondaryRange{Name: c.c.Name + "-pod-cidr", CIDR: pods}
	c.subnet.ServiceRange = &v1alpha1.SecondaryRange{Name: c.c.Name + "-services-cidr", CIDR: services}
	c.c.ControlPlaneRange = controlPlane
	return c
}

// ReleaseChannel sets the cluster's GKE release channel.
func (c *ClusterBuilder) ReleaseChannel(ch string) *ClusterBuilder {
	c.c.ReleaseChannel = ch
	return c
}

// AuthorizedNetwork adds a cluster-specific master authorized network.
func (c *ClusterBuilder) AuthorizedNetwork(name, cidr string) *ClusterBuilder {
	c.c.AuthorizedNetworks = append(c.c.AuthorizedNetworks, v1alpha1.NamedCIDR{Name: name, CIDR: cidr})
	return c
}

// PeerAPIServer sets the address peers use in their remote secrets.
func (c *ClusterBuilder) PeerAPIServer(s string) *ClusterBuilder {
	c.c.PeerAPIServer = s
	return c
}

// Access sets how the tool reaches this cluster (access.via).
func (c *ClusterBuilder) Access(via string) *ClusterBuilder {
	c.c.Access.Via = via
	return c
}

// KubeconfigContext names the kubeconfig context the tool reaches this cluster through.
func (c *ClusterBuilder) KubeconfigContext(name string) *ClusterBuilder {
	c.c.KubeconfigContext = name
	return c
}

// PrivateEndpoint sets whether the control plane has only a private endpoint.
func (c *ClusterBuilder) PrivateEndpoint(only bool) *ClusterBuilder {
	c.c.PrivateEndpoint = &only
	return c
}

// Tags sets the network tags of the first node pool.
func (c *ClusterBuilder) Tags(tags ...string) *ClusterBuilder {
	c.c.NodePools[0].Tags = tags
	return c
}

// NodePool adds a node pool with tags.
func (c *ClusterBuilder) NodePool(name string, tags ...string) *ClusterBuilder {
	c.c.NodePools = append(c.c.NodePools, v1alpha1.NodePool{Name: name, Tags: tags})
	return c
}

// Label adds a GKE resource label.
func (c *ClusterBuilder) Label(k, v string) *ClusterBuilder {
	if c.c.Labels == nil {
		c.c.Labels = map[string]string{}
	}
	c.c.Labels[k] = v
	return c
}

// MaxGenerated is the most clusters Generated can give non-overlapping ranges.
const MaxGenerated = 150

// GeneratedName is the name of the i-th (0-based) cluster of Generated.
func GeneratedName(i int) string { return fmt.Sprintf("c%02d", i+1) }

// Generated builds a federation of n clusters spread round-robin over regions and projects, with
// non-overlapping ranges: cluster i has nodes 10.10.i.0/24, pods 10.(100+i).0.0/16, services
// 172.16.i.0/24 and control plane 192.168.i.0/28. The network is in the fleet project and one admin
// range, 10.0.0.0/24, is set.
func Generated(name string, n int, regions, projects []string) *Builder {
	if n > MaxGenerated || len(regions) == 0 || len(projects) == 0 {
		panic(fmt.Sprintf("fedtest.Generated: %d clusters over %d regions and %d projects", n, len(regions), len(projects)))
	}
	b := New(name).Network(DefaultFleetProject, DefaultNetwork).Admin("admin", "10.0.0.0/24")
	for i := 0; i < n; i++ {
		b.Cluster(Cluster(GeneratedName(i)).
			Project(projects[i%len(projects)]).
			Location(regions[i%len(regions)]).
			Ranges(fmt.Sprintf("10.10.%d.0/24", i), fmt.Sprintf("10.%d.0.0/16", 100+i), fmt.Sprintf("172.16.%d.0/24", i), fmt.Sprintf("192.168.%d.0/28", i)))
	}
	return b
}

// Reference project and numbers used by Reference.
const (
	ReferenceProject       = "asm-seed"
	ReferenceProjectNumber = 123456789012
)

// Reference is the two-cluster topology of the reference Terraform sample: project asm-seed, VPC
// asm-vpc-3, bastion subnet 10.0.0.0/24 (bastion-admin), cluster3 and cluster4 as private regional
// clusters in us-west2 with the sample's CIDRs, webhook ports 15017, 9443 and 8443.
func Reference() *Builder {
	return New("asm").
		FleetProject(ReferenceProject, 0).
		Network(ReferenceProject, "asm-vpc-3").
		Subnet("bastion-subnet", "us-west2", "10.0.0.0/24").
		Admin("bastion-admin", "10.0.0.0/24").
		Bastion("bastion-instance", "us-west2-a", "bastion-subnet").
		WebhookPorts(15017, 9443, 8443).
		Cluster(Cluster("cluster3").Ranges("10.184.19.0/24", "10.185.128.0/18", "172.16.2.0/24", "192.168.2.0/28")).
		Cluster(Cluster("cluster4").Ranges("10.184.20.0/24", "10.185.192.0/18", "172.16.3.0/24", "192.168.3.0/28"))
}
