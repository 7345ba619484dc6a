package plan

import (
	"fmt"
	"strings"
)

// Address names a resource uniformly across layers: gcp:projects/p/global/firewalls/x,
// gke:projects/p/locations/l/clusters/c, k8s:c1/istio-system/Secret/name. Addresses are made
// only by the constructors below and read only by ParseAddress, so that the desired and the live
// side of a diff can never spell one resource two ways.
type Address string

// Layer is the part before the colon: gcp, gke or k8s.
func (a Address) Layer() string {
	layer, _, _ := strings.Cut(string(a), ":")
	return layer
}

// Layers of addresses, in the order a federation is built.
const (
	LayerGCP = "gcp"
	LayerGKE = "gke"
	LayerK8s = "k8s"
)

// Kinds of the Google Cloud resources the tool manages, as Resource.Kind and Ref.Kind name them.
// Kubernetes objects use their own kind (Namespace, Secret, …).
const (
	KindAPI        = "api"
	KindNetwork    = "network"
	KindSubnetwork = "subnetwork"
	KindFirewall   = "firewall"
	KindRouter     = "router"
	KindInstance   = "instance"
	KindXpnHost    = "sharedVpcHost"
	KindXpnService = "sharedVpcServiceProject"
	KindIAMBinding = "iamBinding"
	// KindServiceAccount is a Google service account (IAM).
	KindServiceAccount = "serviceAccount"
	KindCluster        = "cluster"
	KindNodePool       = "nodePool"
	KindMembership     = "fleetMembership"
	KindFeature        = "fleetFeature"
)

// Ref is an address taken apart. Which fields are set depends on Kind; Address puts them back
// together, and ParseAddress(r.Address()) gives r again.
type Ref struct {
	// Layer is gcp, gke or k8s.
	Layer string
	// Kind is one of the Kind constants, or a Kubernetes kind in the k8s layer.
	Kind string
	// Project is the Google Cloud project (the host project of Shared VPC wiring).
	Project string
	// Location is a region (subnetworks, routers), a zone (instances) or a location (clusters,
	// memberships).
	Location string
	// Name is the resource's own name: the service of an API, the node pool of a node pool, the
	// service project of a Shared VPC attachment, the object name of a Kubernetes object.
	Name string
	// Cluster is the GKE cluster of a node pool, or the cluster a Kubernetes object is in.
	Cluster string
	// Namespace is a namespaced Kubernetes object's namespace.
	Namespace string
	// Resource, Role and Member describe an IAM binding: a member granted a role on a resource
	// (projects/P or projects/P/regions/R/subnetworks/S).
	Resource, Role, Member string
}

// APIAddress is a Google API enabled in a project.
func APIAddress(project, service string) Address {
	return Ref{Layer: LayerGCP, Kind: KindAPI, Project: project, Name: service}.Address()
}

// NetworkAddress is a VPC network.
func NetworkAddress(project, name string) Address {
	return Ref{Layer: LayerGCP, Kind: KindNetwork, Project: project, Name: name}.Address()
}

// SubnetworkAddress is a subnet of a region.
func SubnetworkAddress(project, region, name string) Address {
	return Ref{Layer: LayerGCP, Kind: KindSubnetwork, Project: project, Location: region, Name: name}.Address()
}

// FirewallAddress is a VPC firewall rule.
func FirewallAddress(project, name string) Address {
	return Ref{Layer: LayerGCP, Kind: KindFirewall, Project: project, Name: name}.Address()
}

// RouterAddress is a Cloud Router (with its Cloud NAT) of a region.
func RouterAddress(project, region, name string) Address {
	return Ref{Layer: LayerGCP, Kind: KindRouter, Project: project, Location: region, Name: name}.Address()
}

// InstanceAddress is a Compute Engine VM of a zone (the bastion).
func InstanceAddress(project, zone, name string) Address {
	return Ref{Layer: LayerGCP, Kind: KindInstance, Project: project, Location: zone, Name: name}.Address()
}

// XpnHostAddress is a project enabled as a Shared VPC host.
func XpnHostAddress(host string) Address {
	return Ref{Layer: LayerGCP, Kind: KindXpnHost, Project: host}.Address()
}

// XpnServiceAddress is a service project attached to a Shared VPC host.
func XpnServiceAddress(host, service string) Address {
	return Ref{Layer: LayerGCP, Kind: KindXpnService, Project: host, Name: service}.Address()
}

// IAMBindingAddress is one member granted one role on a project or a subnet.
func IAMBindingAddress(resource, role, member string) Address {
	return Ref{Layer: LayerGCP, Kind: KindIAMBinding, Resource: resource, Role: role, Member: member}.Address()
}

// ServiceAccountAddress is a Google service account, by its email.
func ServiceAccountAddress(project, email string) Address {
	return Ref{Layer: LayerGCP, Kind: KindServiceAccount, Project: project, Name: email}.Address()
}

// ClusterAddress is a GKE cluster.
func ClusterAddress(project, location, name string) Address {
	return Ref{Layer: LayerGKE, Kind: KindCluster, Project: project, Location: location, Name: name}.Address()
}

// NodePoolAddress is a node pool of a GKE cluster.
func NodePoolAddress(project, location, cluster, pool string) Address {
	return Ref{Layer: LayerGKE, Kind: KindNodePool, Project: project, Location: location, Cluster: cluster, Name: pool}.Address()
}

// MembershipAddress is a fleet membership.
func MembershipAddress(project, location, name string) Address {
	return Ref{Layer: LayerGCP, Kind: KindMembership, Project: project, Location: location, Name: name}.Address()
}

// FeatureAddress is a fleet feature (global).
func FeatureAddress(project, name string) Address {
	return Ref{Layer: LayerGCP, Kind: KindFeature, Project: project, Name: name}.Address()
}

// ObjectAddress is a Kubernetes object in a cluster; namespace is empty for cluster-scoped kinds.
func ObjectAddress(cluster, namespace, kind, name string) Address {
	return Ref{Layer: LayerK8s, Kind: kind, Cluster: cluster, Namespace: namespace, Name: name}.Address()
}

// Address spells the reference.
func (r Ref) Address() Address {
	var s string
	switch r.Kind {
	case KindAPI:
		s = fmt.Sprintf("projects/%s/services/%s", r.Project, r.Name)
	case KindNetwork:
		s = fmt.Sprintf("projects/%s/global/networks/%s", r.Project, r.Name)
	case KindSubnetwork:
		s = fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", r.Project, r.Location, r.Name)
	case KindFirewall:
		s = fmt.Sprintf("projects/%s/global/firewalls/%s", r.Project, r.Name)
	case KindRouter:
		s = fmt.Sprintf("projects/%s/regions/%s/routers/%s", r.Project, r.Location, r.Name)
	case KindInstance:
		s = fmt.Sprintf("projects/%s/zones/%s/instances/%s", r.Project, r.Location, r.Name)
	case KindXpnHost:
		s = fmt.Sprintf("projects/%s/xpnHost", r.Project)
	case KindXpnService:
		s = fmt.Sprintf("projects/%s/xpnResources/%s", r.Project, r.Name)
	case KindIAMBinding:
		s = fmt.Sprintf("%s/iam/%s/%s", r.Resource, r.Role, r.Member)
	case KindServiceAccount:
		s = fmt.Sprintf("projects/%s/serviceAccounts/%s", r.Project, r.Name)
	case KindCluster:
		s = fmt.Sprintf("projects/%s/locations/%s/clusters/%s", r.Project, r.Location, r.Name)
	case KindNodePool:
		s = fmt.Sprintf("projects/%s/locations/%s/clusters/%s/nodePools/%s", r.Project, r.Location, r.Cluster, r.Name)
	case KindMembership:
		s = fmt.Sprintf("projects/%s/locations/%s/memberships/%s", r.Project, r.Location, r.Name)
	case KindFeature:
		s = fmt.Sprintf("projects/%s/locations/global/features/%s", r.Project, r.Name)
	default:
		// Concatenated in one allocation: a large federation has tens of thousands of objects.
		if r.Namespace == "" {
			return Address(r.Layer + ":" + r.Cluster + "/" + r.Kind + "/" + r.Name)
		}
		return Address(r.Layer + ":" + r.Cluster + "/" + r.Namespace + "/" + r.Kind + "/" + r.Name)
	}
	return Address(r.Layer + ":" + s)
}

// gcpPatterns are the shapes of gcp: and gke: addresses, segment by segment: a literal, or a
// field of Ref (in braces) that takes one segment.
var gcpPatterns = []struct {
	layer, kind string
	pattern     []string
}{
	{LayerGCP, KindAPI, []string{"projects", "{project}", "services", "{name}"}},
	{LayerGCP, KindNetwork, []string{"projects", "{project}", "global", "networks", "{name}"}},
	{LayerGCP, KindSubnetwork, []string{"projects", "{project}", "regions", "{location}", "subnetworks", "{name}"}},
	{LayerGCP, KindFirewall, []string{"projects", "{project}", "global", "firewalls", "{name}"}},
	{LayerGCP, KindRouter, []string{"projects", "{project}", "regions", "{location}", "routers", "{name}"}},
	{LayerGCP, KindInstance, []string{"projects", "{project}", "zones", "{location}", "instances", "{name}"}},
	{LayerGCP, KindXpnHost, []string{"projects", "{project}", "xpnHost"}},
	{LayerGCP, KindServiceAccount, []string{"projects", "{project}", "serviceAccounts", "{name}"}},
	{LayerGCP, KindXpnService, []string{"projects", "{project}", "xpnResources", "{name}"}},
	{LayerGCP, KindMembership, []string{"projects", "{project}", "locations", "{location}", "memberships", "{name}"}},
	{LayerGCP, KindFeature, []string{"projects", "{project}", "locations", "global", "features", "{name}"}},
	{LayerGKE, KindCluster, []string{"projects", "{project}", "locations", "{location}", "clusters", "{name}"}},
	{LayerGKE, KindNodePool, []string{"projects", "{project}", "locations", "{location}", "clusters", "{cluster}", "nodePools", "{name}"}},
}

// ParseAddress takes an address apart. It accepts exactly what the constructors make.
func ParseAddress(a Address) (Ref, error) {
	layer, rest, ok := strings.Cut(string(a), ":")
	if !ok || rest == "" {
		return Ref{}, fmt.Errorf("address %q: want LAYER:PATH with layer gcp, gke or k8s", a)
	}
	parts := strings.Split(rest, "/")
	for _, p := range parts {
		if p == "" {
			return Ref{}, fmt.Errorf("address %q has an empty segment", a)
		}
	}
	switch layer {
	case LayerK8s:
		switch len(parts) {
		case 3:
			return Ref{Layer: layer, Cluster: parts[0], Kind: parts[1], Name: parts[2]}, nil
		case 4:
			return Ref{Layer: layer, Cluster: parts[0], Namespace: parts[1], Kind: parts[2], Name: parts[3]}, nil
		}
		return Ref{}, fmt.Errorf("address %q: want k8s:CLUSTER/[NAMESPACE/]KIND/NAME", a)
	case LayerGCP:
		if i := strings.Index(rest, "/iam/"); i >= 0 {
			return parseIAM(a, rest[:i], rest[i+len("/iam/"):])
		}
	case LayerGKE:
	default:
		return Ref{}, fmt.Errorf("address %q: unknown layer %q (gcp, gke or k8s)", a, layer)
	}
	for _, p := range gcpPatterns {
		if p.layer != layer || len(p.pattern) != len(parts) {
			continue
		}
		r := Ref{Layer: layer, Kind: p.kind}
		if matchSegments(p.pattern, parts, &r) {
			return r, nil
		}
	}
	return Ref{}, fmt.Errorf("address %q is not one of the shapes the tool makes", a)
}

func matchSegments(pattern, parts []string, r *Ref) bool {
	for i, want := range pattern {
		switch want {
		case "{project}":
			r.Project = parts[i]
		case "{location}":
			r.Location = parts[i]
		case "{name}":
			r.Name = parts[i]
		case "{cluster}":
			r.Cluster = parts[i]
		default:
			if parts[i] != want {
				return false
			}
		}
	}
	return true
}

// parseIAM reads RESOURCE/iam/ROLE/MEMBER, where ROLE is roles/NAME or
// projects/P/roles/NAME (a custom role) and MEMBER is the rest: a Workload Identity member
// (serviceAccount:P.svc.id.goog[NAMESPACE/KSA]) has a slash of its own.
func parseIAM(a Address, resource, binding string) (Ref, error) {
	rp := strings.Split(resource, "/")
	if !(len(rp) == 2 && rp[0] == "projects") && !(len(rp) == 6 && rp[0] == "projects" && rp[2] == "regions" && rp[4] == "subnetworks") &&
		!(len(rp) == 4 && rp[0] == "projects" && rp[2] == "serviceAccounts") {
		return Ref{}, fmt.Errorf("address %q: IAM bindings are on projects/P, projects/P/regions/R/subnetworks/S or projects/P/serviceAccounts/EMAIL", a)
	}
	segs := 2 // roles/NAME
	if strings.HasPrefix(binding, "projects/") {
		segs = 4 // projects/P/roles/NAME
	}
	bp := strings.SplitN(binding, "/", segs+1)
	if len(bp) != segs+1 || bp[segs] == "" {
		return Ref{}, fmt.Errorf("address %q: want RESOURCE/iam/ROLE/MEMBER", a)
	}
	role, member := strings.Join(bp[:segs], "/"), bp[segs]
	if !strings.HasPrefix(role, "roles/") && !strings.Contains(role, "/roles/") {
		return Ref{}, fmt.Errorf("address %q: role %q is not roles/NAME", a, role)
	}
	return Ref{Layer: LayerGCP, Kind: KindIAMBinding, Resource: resource, Role: role, Member: member}, nil
}
