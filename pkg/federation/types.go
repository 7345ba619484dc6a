package federation

import "github.com/asmfed/kubectl-asmfed/pkg/plan"

// Facts are the live values the compiler cannot know from the file. The caller reads them (the
// Resource Manager API at plan time) and passes them in, so that the compiler stays pure and the
// offline commands (validate, render) can run with no facts at all.
type Facts struct {
	// ProjectNumbers maps project IDs to project numbers. A missing project leaves a placeholder
	// (see placeholderFor) wherever its number is needed: the default mesh ID and the service agents
	// of Shared VPC service projects.
	ProjectNumbers map[string]int64 `json:"projectNumbers,omitempty"`
	// CloudSQL are the instances of spec.addons.cloudSQL as the Cloud SQL Admin API reports them,
	// by connection name. Missing, the clusters' policies leave the instance's address out.
	CloudSQL map[string]CloudSQLFacts `json:"cloudSQL,omitempty"`
	// Memberships are the fleet memberships that already register the federation's clusters, by
	// the cluster's resource name (projects/P/locations/L/clusters/N). A GKE cluster belongs to one
	// membership, so a cluster registered already (gcloud registers it in its region) keeps that
	// membership: the model's membership takes its location and name, and the Connect Gateway
	// address, the mesh feature's keys and everything else that names the membership follow.
	// Missing, the membership is the federation's own, global/<cluster>.
	Memberships map[string]MembershipFacts `json:"memberships,omitempty"`
}

// MembershipFacts name a fleet membership of the fleet project.
type MembershipFacts struct {
	Location string `json:"location"`
	Name     string `json:"name"`
}

// Ownership marks on Google Cloud resources. Resources with labels carry LabelManagedBy and
// LabelFederation; resources without labels (firewall rules, routers) carry DescriptionMarker's
// text in their description and a name starting with namePrefix. Nothing without the mark is ever
// updated destructively or deleted.
const (
	LabelManagedBy  = "managed-by"
	ManagedByValue  = "asmfed"
	LabelFederation = "asmfed-federation"
	namePrefix      = "asmfed-"
)

// Ownership labels on Kubernetes objects, the same on every cluster so pruning can find them.
const (
	KubeLabelManagedBy  = "app.kubernetes.io/managed-by"
	KubeLabelFederation = "asmfed.io/federation"
)

// Names Istio itself reads; changing them breaks multi-cluster discovery.
const (
	// labelMeshID is the GKE resource label Cloud Service Mesh groups clusters by.
	labelMeshID = "mesh_id"
	// IstioNamespace is where istiod looks for remote secrets.
	IstioNamespace = "istio-system"
	// remoteSecretPrefix starts every remote secret's name, as istioctl create-remote-secret does.
	remoteSecretPrefix = "istio-remote-secret-"
	// LabelMultiCluster marks a Secret as a remote secret; istiod ignores secrets without it.
	LabelMultiCluster = "istio/multiCluster"
	// annotationCluster names the cluster a remote secret points at.
	annotationCluster = "networking.istio.io/cluster"
)

// Desired is everything the federation file implies, before any live state is read. Every derived
// item carries the Reason it exists, so that a plan can explain itself. All lists are sorted, so
// the same file always gives byte-identical JSON.
type Desired struct {
	// Federation is the federation's name, the value of the ownership marks.
	Federation string `json:"federation"`
	// FleetProject hosts the fleet memberships and features.
	FleetProject string `json:"fleetProject"`
	// Mesh is the identity every cluster's control plane is configured with.
	Mesh MeshIdentity `json:"mesh"`
	// Network is the VPC every cluster is attached to.
	Network Network `json:"network"`
	// Subnets are the VPC's subnets, sorted by region then name.
	Subnets []Subnet `json:"subnets"`
	// Clusters are the per-cluster derivations, sorted by name, each with its node pools and the
	// Kubernetes objects the federation wants in it.
	Clusters []ClusterDesired `json:"clusters"`
	// FirewallRules are the ingress rules in the network project, sorted by name.
	FirewallRules []FirewallRule `json:"firewallRules"`
	// NATs are the Cloud Routers with their Cloud NAT, one per region, sorted by region.
	NATs []NAT `json:"nats"`
	// RemoteSecrets are the istiod remote secrets, one per ordered pair of clusters, sorted by
	// holder then target.
	RemoteSecrets []RemoteSecret `json:"remoteSecrets"`
	// APIs are the services to enable, sorted by project then service.
	APIs []APIService `json:"apis"`
	// SharedVPC is the host/service wiring; nil when every cluster is in the network's project.
	SharedVPC *SharedVPC `json:"sharedVPC,omitempty"`
	// IAMBindings are project-level grants beside the Shared VPC ones (cross-project fleet and mesh
	// service agents), sorted by resource, role, member.
	IAMBindings []IAMBinding `json:"iamBindings"`
	// CallerRoles are the IAM roles the caller (who runs plan, apply and verify, or the service
	// account it impersonates) must hold to reach the clusters the way the file says, sorted by
	// project then role.
	CallerRoles []CallerRole `json:"callerRoles"`
	// FleetMemberships register every cluster in the fleet project, sorted by name.
	FleetMemberships []FleetMembership `json:"fleetMemberships"`
	// MeshFeature is the fleet's servicemesh feature when the control plane is managed; nil
	// otherwise.
	MeshFeature *MeshFeature `json:"meshFeature,omitempty"`
	// Bastion is the administration VM of spec.admin.bastion; nil when the file has none.
	Bastion *Bastion `json:"bastion,omitempty"`
	// CloudSQL is spec.addons.cloudSQL: per instance, the Google service account and its
	// bindings, sorted by connection name; the clusters' objects for it are in Clusters.
	CloudSQL []CloudSQLAccess `json:"cloudSQL,omitempty"`
	// Unresolved lists the projects whose numbers were not in Facts; placeholders stand for them.
	// Empty means the Desired is final.
	Unresolved []string `json:"unresolved,omitempty"`
	// Warnings are not errors but deserve a look (e.g. a limit of Google Cloud is close).
	Warnings []string `json:"warnings,omitempty"`
}

// MeshIdentity is the mesh-wide identity. Every cluster must agree on it, or cross-cluster
// mTLS and service discovery fail in ways that are hard to see.
type MeshIdentity struct {
	// MeshID is values.global.meshID and the GKE mesh_id label.
	MeshID string `json:"meshID"`
	// MeshIDUnresolved is true when MeshID is a placeholder waiting for the fleet project's number.
	MeshIDUnresolved bool `json:"meshIDUnresolved,omitempty"`
	// TrustDomain of the workload certificates.
	TrustDomain string `json:"trustDomain"`
	// TrustDomainAliases are accepted beside TrustDomain, sorted.
	TrustDomainAliases []string `json:"trustDomainAliases,omitempty"`
	// Network is the one Istio network every cluster is on.
	Network string `json:"network"`
	// ControlPlane is inCluster or managed.
	ControlPlane string `json:"controlPlane"`
	// CA is managed or plugin.
	CA string `json:"ca"`
	// Revision, Hub and Tag pin the Istio release.
	Revision string `json:"revision"`
	Hub      string `json:"hub"`
	Tag      string `json:"tag"`
	// Reason explains where the identity comes from.
	Reason string `json:"reason"`
}

// ClusterDesired is what the federation derives for one cluster.
type ClusterDesired struct {
	// Address is the cluster's plan address, gke:projects/P/locations/L/clusters/N.
	Address plan.Address `json:"address"`
	// Name is the GKE cluster name and also the Istio cluster name.
	Name string `json:"name"`
	// IstioClusterName is values.global.multiCluster.clusterName; equal to Name so that remote
	// secrets, their data keys and the cluster's own view of itself agree.
	IstioClusterName string `json:"istioClusterName"`
	Project          string `json:"project"`
	Location         string `json:"location"`
	Region           string `json:"region"`
	// Network is the Istio network (values.global.network) and the topology.istio.io/network label.
	Network string `json:"network"`
	// VPC and Subnetwork are resource names in the network project.
	VPC        string `json:"vpc"`
	Subnetwork string `json:"subnetwork"`
	// PodRange, ServiceRange and ControlPlaneRange are the cluster's CIDRs.
	PodRange     string `json:"podRange"`
	ServiceRange string `json:"serviceRange"`
	// PodRangeName and ServiceRangeName name the subnet's secondary ranges, which is how GKE
	// refers to them.
	PodRangeName      string `json:"podRangeName"`
	ServiceRangeName  string `json:"serviceRangeName"`
	ControlPlaneRange string `json:"controlPlaneRange"`
	// NodeTags are the union of the node pools' network tags, sorted; firewall rules target them.
	NodeTags []string `json:"nodeTags"`
	// WorkloadPool is <project>.svc.id.goog when Workload Identity is on.
	WorkloadPool string `json:"workloadPool,omitempty"`
	// PrivateEndpoint disables the public endpoint.
	PrivateEndpoint bool `json:"privateEndpoint"`
	// MasterAuthorizedNetworks are sorted by address and deduplicated.
	MasterAuthorizedNetworks []AuthorizedNetwork `json:"masterAuthorizedNetworks"`
	// MasterGlobalAccess lets clients in other regions reach the private endpoint.
	MasterGlobalAccess       bool   `json:"masterGlobalAccess"`
	MasterGlobalAccessReason string `json:"masterGlobalAccessReason"`
	// Labels are the GKE resource labels: the user's plus mesh_id and the ownership labels.
	Labels map[string]string `json:"labels"`
	// LabelsUnresolved is true when the mesh_id label is a placeholder.
	LabelsUnresolved bool `json:"labelsUnresolved,omitempty"`
	// SubnetAddress is the address of the subnet the nodes are on.
	SubnetAddress plan.Address `json:"subnetAddress"`
	// NetworkPolicy enforces NetworkPolicies (Calico), which the default policies need.
	NetworkPolicy bool `json:"networkPolicy"`
	// ShieldedNodes turns on shielded GKE nodes.
	ShieldedNodes bool `json:"shieldedNodes"`
	// ReleaseChannel is GKE's: RAPID, REGULAR, STABLE, EXTENDED or UNSPECIFIED.
	ReleaseChannel string `json:"releaseChannel"`
	// Access is how the tool reaches the cluster's API server for its Kubernetes objects.
	Access ClusterAccess `json:"access"`
	// NodePools are the cluster's node pools, in file order; no default pool ever exists.
	NodePools []NodePool `json:"nodePools"`
	// Revision is the managed control plane's revision on this cluster, its channel's
	// (asm-managed, asm-managed-rapid or asm-managed-stable, from the release channel); empty with
	// an in-cluster control plane, whose revision is Mesh.Revision on every cluster.
	Revision string `json:"revision,omitempty"`
	// Reason says why the cluster exists.
	Reason string `json:"reason"`
	// Objects are the Kubernetes objects the federation wants in the cluster, sorted by address.
	Objects []KubeObject `json:"objects"`
}

// ConnectGatewayURL is the Connect Gateway's base URL, in front of ClusterAccess.GatewayPath.
const ConnectGatewayURL = "https://connectgateway.googleapis.com"

// ClusterAccess is how the tool reaches a cluster's API server. istiod's remote secrets do not
// use it: peers reach each other's private endpoint from inside the VPC.
type ClusterAccess struct {
	// Via is connectGateway, privateEndpoint, publicEndpoint or kubeconfig.
	Via string `json:"via"`
	// Address is what the tool tries: the cluster's URL under the Connect Gateway, which endpoint
	// GKE reports (its value is read at plan time), or the kubeconfig context.
	Address string `json:"address"`
	// GatewayPath is the cluster's path under the Connect Gateway,
	// /v1/projects/NUMBER/locations/L/gkeMemberships/M: its fleet membership by the fleet
	// project's number (connectGateway only).
	GatewayPath string `json:"gatewayPath,omitempty"`
	// Membership is the fleet membership the gateway reaches the cluster through
	// (connectGateway only).
	Membership plan.Address `json:"membership,omitempty"`
	// Unresolved is true when GatewayPath holds a placeholder for the fleet project's number.
	Unresolved bool `json:"unresolved,omitempty"`
	// KubeconfigContext is the context of the user's kubeconfig (kubeconfig only).
	KubeconfigContext string `json:"kubeconfigContext,omitempty"`
	// Reason says why this way was chosen.
	Reason string `json:"reason"`
}

// CallerRole is an IAM role the caller must hold on a project.
type CallerRole struct {
	Project string `json:"project"`
	Role    string `json:"role"`
	Reason  string `json:"reason"`
}

// Network is the custom-mode VPC of the federation.
type Network struct {
	// Address is gcp:projects/P/global/networks/N.
	Address plan.Address `json:"address"`
	Project string       `json:"project"`
	Name    string       `json:"name"`
	// RoutingMode is REGIONAL: each region's Cloud Router advertises its own subnets.
	RoutingMode string `json:"routingMode"`
	// Description is what is written to the network: the ownership marker then the reason.
	Description string `json:"description"`
	Reason      string `json:"reason"`
}

// Subnet is one subnet of the VPC with its pod and service secondary ranges.
type Subnet struct {
	// Address is gcp:projects/P/regions/R/subnetworks/S.
	Address plan.Address `json:"address"`
	Project string       `json:"project"`
	Region  string       `json:"region"`
	Name    string       `json:"name"`
	// Network is the VPC's relative name, projects/P/global/networks/N.
	Network      string `json:"network"`
	PrimaryRange string `json:"primaryRange"`
	// SecondaryRanges are the pod and service ranges, sorted by name.
	SecondaryRanges     []SecondaryRange `json:"secondaryRanges"`
	PrivateGoogleAccess bool             `json:"privateGoogleAccess"`
	// Description is what is written to the subnet: the ownership marker then the reason.
	Description string `json:"description"`
	Reason      string `json:"reason"`
}

// SecondaryRange is a named alias range of a subnet.
type SecondaryRange struct {
	Name string `json:"name"`
	CIDR string `json:"cidr"`
}

// NodePool is one node pool of a cluster.
type NodePool struct {
	// Address is gke:projects/P/locations/L/clusters/C/nodePools/N.
	Address        plan.Address `json:"address"`
	Name           string       `json:"name"`
	MachineType    string       `json:"machineType"`
	ImageType      string       `json:"imageType"`
	DiskSizeGB     int32        `json:"diskSizeGB"`
	DiskType       string       `json:"diskType"`
	Tags           []string     `json:"tags"`
	ServiceAccount string       `json:"serviceAccount,omitempty"`
	// MinNodes and MaxNodes bound autoscaling, per zone.
	MinNodes int32  `json:"minNodes"`
	MaxNodes int32  `json:"maxNodes"`
	Reason   string `json:"reason"`
}

// MeshFeature is the fleet's servicemesh feature with automatic management for every member.
type MeshFeature struct {
	// Address is gcp:projects/FLEET/locations/global/features/servicemesh.
	Address plan.Address `json:"address"`
	Project string       `json:"project"`
	Name    string       `json:"name"`
	// Memberships are the member keys, projects/NUMBER/locations/L/memberships/M, sorted.
	Memberships []string `json:"memberships"`
	// Management is MANAGEMENT_AUTOMATIC.
	Management string `json:"management"`
	Reason     string `json:"reason"`
}

// AuthorizedNetwork is one entry of a cluster's master authorized networks.
type AuthorizedNetwork struct {
	DisplayName string `json:"displayName"`
	CIDR        string `json:"cidr"`
	Reason      string `json:"reason"`
}

// Bastion is the administration VM inside the VPC: no external IP, a shielded VM with OS Login,
// reached over SSH through Identity-Aware Proxy. It has labels, so it carries the ownership labels.
type Bastion struct {
	// Address is gcp:projects/P/zones/Z/instances/N.
	Address plan.Address `json:"address"`
	// Project is the network's project: the VM sits in the VPC it administers.
	Project string `json:"project"`
	Zone    string `json:"zone"`
	Region  string `json:"region"`
	Name    string `json:"name"`
	// Network and Subnetwork are the relative names of the VPC and of the subnet the VM is on.
	Network       string       `json:"network"`
	Subnetwork    string       `json:"subnetwork"`
	SubnetAddress plan.Address `json:"subnetAddress"`
	MachineType   string       `json:"machineType"`
	// InternalIP is the static internal address; empty lets Compute Engine pick one in the subnet.
	InternalIP string `json:"internalIP,omitempty"`
	// AuthorizedRange is what admits the VM to the clusters' control planes: InternalIP/32, or the
	// subnet's primary range when the address is not fixed.
	AuthorizedRange string `json:"authorizedRange"`
	// Tag is the network tag the IAP SSH firewall rule targets.
	Tag string `json:"tag"`
	// ServiceAccount is the email the VM runs as (cloud-platform scope); empty: none.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Image is the boot disk's source image, a family: the current image at creation.
	Image string `json:"image"`
	// Labels are the ownership labels.
	Labels map[string]string `json:"labels"`
	// SSHRule is the address of the firewall rule that lets IAP reach port 22.
	SSHRule plan.Address `json:"sshRule"`
	// SSHCommand is how administrators reach the VM.
	SSHCommand string `json:"sshCommand"`
	Reason     string `json:"reason"`
}

// FirewallRule is a VPC ingress allow rule. Firewall rules have no labels, so ownership is the
// name prefix and the description marker.
type FirewallRule struct {
	// Address is gcp:projects/P/global/firewalls/NAME.
	Address plan.Address `json:"address"`
	// Name starts with asmfed-<federation>- (see firewallName).
	Name string `json:"name"`
	// Project is the network project: firewall rules belong to the VPC, even in a Shared VPC.
	Project string `json:"project"`
	// Network is the VPC name.
	Network string `json:"network"`
	// Direction is always INGRESS; egress stays open at the VPC level and is controlled by the
	// mesh's REGISTRY_ONLY policy.
	Direction string `json:"direction"`
	// Priority is FirewallPriority.
	Priority int32 `json:"priority"`
	// SourceRanges are sorted by address and deduplicated.
	SourceRanges []string `json:"sourceRanges"`
	// TargetTags are node network tags, sorted, at most maxTargetTags.
	TargetTags []string `json:"targetTags"`
	// Allowed are sorted by protocol, each protocol's ports by first port.
	Allowed []Allowed `json:"allowed"`
	// Description is what is written to the rule: the ownership marker then the reason.
	Description string `json:"description"`
	Reason      string `json:"reason"`
}

// Allowed is a protocol and optional ports of a firewall rule, as the Compute API spells them.
type Allowed struct {
	// IPProtocol is tcp, udp, icmp, sctp or all.
	IPProtocol string `json:"ipProtocol"`
	// Ports are numbers or ranges (8080-8090); empty means every port of the protocol.
	Ports []string `json:"ports,omitempty"`
}

// NAT is a Cloud Router and its Cloud NAT in one region: private nodes have no external IPs and
// need it to pull images and reach the internet.
type NAT struct {
	// Address is gcp:projects/P/regions/R/routers/ROUTER.
	Address plan.Address `json:"address"`
	Project string       `json:"project"`
	Region  string       `json:"region"`
	Network string       `json:"network"`
	// Router is the Cloud Router's name (see routerName) and Name the NAT's inside it (natName).
	Router string `json:"router"`
	Name   string `json:"name"`
	// Subnets are the NATed subnets of this region, sorted, each with its primary range only.
	Subnets []NATSubnet `json:"subnets"`
	Reason  string      `json:"reason"`
}

// NATSubnet is a subnet a NAT serves and which of its ranges.
type NATSubnet struct {
	Name   string   `json:"name"`
	Ranges []string `json:"ranges"`
}

// RemoteSecret lets the holder's istiod watch the target's API server.
type RemoteSecret struct {
	// Address is k8s:HOLDER/istio-system/Secret/NAME.
	Address plan.Address `json:"address"`
	// Holder is the cluster the Secret is written to; Target the cluster it gives access to.
	Holder    string `json:"holder"`
	Target    string `json:"target"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// DataKey is the target's cluster name: istiod uses the key as the remote cluster's ID.
	DataKey string `json:"dataKey"`
	// Server is the target's API server as the holder's pods reach it; ServerFromEndpoint says it
	// is a marker to be replaced with the target's private endpoint read at plan time.
	Server             string `json:"server"`
	ServerFromEndpoint bool   `json:"serverFromEndpoint,omitempty"`
	// ServiceAccount is the target's account whose token the secret carries, namespace/name:
	// one per holder (ReaderAccount), so each peer's credentials can be revoked alone.
	ServiceAccount string `json:"serviceAccount"`
	// TokenSecret is that account's token Secret in the target's Namespace.
	TokenSecret string            `json:"tokenSecret"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Reason      string            `json:"reason"`
}

// TokenAddress is the address of the token Secret the remote secret carries the token of.
func (rs *RemoteSecret) TokenAddress() plan.Address {
	return plan.ObjectAddress(rs.Target, rs.Namespace, "Secret", rs.TokenSecret)
}

// APIService is one Google API to enable in one project.
type APIService struct {
	// Address is gcp:projects/P/services/S.
	Address plan.Address `json:"address"`
	Project string       `json:"project"`
	Service string       `json:"service"`
	Reason  string       `json:"reason"`
}

// SharedVPC is the host and service project wiring of a Shared VPC.
type SharedVPC struct {
	// HostProject is network.project, enabled as a Shared VPC host.
	HostProject string `json:"hostProject"`
	HostReason  string `json:"hostReason"`
	// ServiceProjects are the cluster projects other than the host, sorted.
	ServiceProjects []ServiceProject `json:"serviceProjects"`
	// Bindings are the grants GKE needs on the host's subnets and project, sorted.
	Bindings []IAMBinding `json:"bindings"`
}

// ServiceProject is a project attached to the Shared VPC host.
type ServiceProject struct {
	// Address is gcp:projects/HOST/xpnResources/P.
	Address plan.Address `json:"address"`
	Project string       `json:"project"`
	Reason  string       `json:"reason"`
}

// IAMBinding is one non-authoritative grant (a member added to a role): other members of the
// role are left alone.
type IAMBinding struct {
	// Address is gcp:RESOURCE/iam/ROLE/MEMBER.
	Address plan.Address `json:"address"`
	// Resource is projects/P or projects/P/regions/R/subnetworks/S.
	Resource string `json:"resource"`
	Role     string `json:"role"`
	Member   string `json:"member"`
	// Unresolved is true when Member holds a project-number placeholder.
	Unresolved bool   `json:"unresolved,omitempty"`
	Reason     string `json:"reason"`
}

// FleetMembership registers a cluster in the fleet project.
type FleetMembership struct {
	// Address is gcp:projects/FLEET/locations/L/memberships/NAME: global and the cluster's name,
	// or the location and name of the membership that registers the cluster already (Facts).
	Address  plan.Address `json:"address"`
	Project  string       `json:"project"`
	Location string       `json:"location"`
	Name     string       `json:"name"`
	// Cluster is the full resource name of the GKE cluster,
	// //container.googleapis.com/projects/P/locations/L/clusters/N.
	Cluster string `json:"cluster"`
	// ClusterAddress is the cluster's plan address, which the membership waits for.
	ClusterAddress plan.Address `json:"clusterAddress"`
	// Issuer is the cluster's OIDC issuer,
	// https://container.googleapis.com/v1/projects/P/locations/L/clusters/N: set as the
	// membership's authority, it turns on fleet Workload Identity for the cluster, whose service
	// account tokens Google then accepts in the fleet's workload identity pool.
	Issuer string `json:"issuer"`
	// WorkloadIdentityPool is that pool, <fleet project>.svc.id.goog; GKE Hub sets it.
	WorkloadIdentityPool string `json:"workloadIdentityPool"`
	Reason               string `json:"reason"`
}

// ObjectRole says how the cluster layer treats an object beyond applying it as it is.
type ObjectRole string

// Roles of Kubernetes objects. Objects without a role are applied as they are.
const (
	// RoleNamespace objects are protected: deleting one deletes everything in it.
	RoleNamespace ObjectRole = "namespace"
	// RoleReaderToken is the reader account's long-lived token Secret; the API server fills it in.
	RoleReaderToken ObjectRole = "readerToken"
	// RoleRemoteSecret carries a peer's kubeconfig, made from the peer's live token.
	RoleRemoteSecret ObjectRole = "remoteSecret"
	// RoleCACerts carries an intermediate of the plug-in root, issued at apply time.
	RoleCACerts ObjectRole = "cacerts"
	// RoleIngressCredential carries the gateway certificate read from the files the file names.
	RoleIngressCredential ObjectRole = "ingressCredential"
	// RoleCRD is a CustomResourceDefinition of the control plane, waited on until established.
	RoleCRD ObjectRole = "crd"
	// RoleWorkload is a Deployment of the control plane, waited on until available.
	RoleWorkload ObjectRole = "workload"
	// RoleMeshConfig is the managed control plane's mesh ConfigMap, which the control plane
	// creates and reads: the tool writes only its own keys into data.mesh, keeps the others, and
	// never deletes it.
	RoleMeshConfig ObjectRole = "meshConfig"
	// RoleAddonSecret is a Secret of an add-on whose data the files hold (the Prisma Cloud token,
	// the Defender manifest's keys): the model leaves the data out, the cluster layer fills it in
	// from the files, and plans show only its hash.
	RoleAddonSecret ObjectRole = "addonSecret"
	// RoleDaemonSet is an add-on's DaemonSet, waited on until a pod runs on every node it wants.
	RoleDaemonSet ObjectRole = "daemonSet"
)

// KubeObject is one Kubernetes object the federation wants in one cluster.
type KubeObject struct {
	// Address is k8s:CLUSTER/[NAMESPACE/]KIND/NAME.
	Address   plan.Address `json:"address"`
	Cluster   string       `json:"cluster"`
	Namespace string       `json:"namespace,omitempty"`
	Kind      string       `json:"kind"`
	Name      string       `json:"name"`
	Role      ObjectRole   `json:"role,omitempty"`
	// Shared objects belong to a managed control plane, which creates them (istio-system, its
	// mesh ConfigMaps): the tool sets its fields in them whoever created them, and never deletes
	// them.
	Shared bool `json:"shared,omitempty"`
	// Object is the manifest with the ownership labels. Values only known live (a remote
	// secret's kubeconfig, cacerts, the gateway certificate) are absent; Pending says which.
	Object map[string]any `json:"object"`
	// Pending names the values the cluster layer fills in at plan time, and from what.
	Pending string `json:"pending,omitempty"`
	// DependsOn are objects that must exist first: the namespace, the CRD of the kind, the
	// peer's reader token.
	DependsOn []plan.Address `json:"dependsOn,omitempty"`
	Reason    string         `json:"reason"`
}
