package v1alpha1

// Group, Version and Kind identify a federation file.
const (
	Group      = "asmfed.io"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
	Kind       = "Federation"
)

// Federation describes one service mesh spanning several private GKE clusters that share one VPC,
// possibly across several Google Cloud projects (Shared VPC). It is the only input of the tool:
// everything else (firewall rules, authorized networks, remote secrets, IstioOperator overlays) is
// derived from it.
type Federation struct {
	// APIVersion must be asmfed.io/v1alpha1.
	APIVersion string `json:"apiVersion"`
	// Kind must be Federation.
	Kind string `json:"kind"`
	// Metadata names the federation.
	Metadata ObjectMeta `json:"metadata"`
	// Spec is the desired federation.
	Spec FederationSpec `json:"spec"`
}

// ObjectMeta names a federation.
type ObjectMeta struct {
	// Name of the federation. It is written into the ownership marks of everything the tool creates
	// (the asmfed-federation label on Google Cloud resources, asmfed.io/federation in Kubernetes),
	// so it must be a valid label value: lower-case letters, digits and dashes, at most 63
	// characters, starting with a letter.
	Name string `json:"name"`
}

// FederationSpec is the desired state of a federation.
type FederationSpec struct {
	// FleetProject is the project that hosts the fleet (GKE Hub memberships) and the mesh. Its
	// project number gives the default mesh ID (proj-<number>) and its ID the default trust domain
	// (<fleetProject>.svc.id.goog).
	FleetProject string `json:"fleetProject"`
	// FleetProjectNumber is the number of FleetProject. Optional: when empty it is read from the
	// Resource Manager API at plan time. Setting it lets offline commands (validate, render) show
	// the final mesh ID.
	FleetProjectNumber int64 `json:"fleetProjectNumber,omitempty"`
	// Network is the VPC every cluster is attached to.
	Network Network `json:"network"`
	// Admin describes where administrators reach the clusters from.
	Admin Admin `json:"admin,omitempty"`
	// Access says how the tool reaches the clusters' API servers for their Kubernetes objects
	// (plan, apply and verify), for every cluster that names no kubeconfigContext and no access
	// of its own. Default: via connectGateway, so that a first run from outside the VPC works.
	Access Access `json:"access,omitempty"`
	// Clusters are the private GKE clusters that form the mesh. Each name must be unique across the
	// federation: it is the Istio cluster name and the remote secret's data key.
	Clusters []Cluster `json:"clusters"`
	// Mesh configures the service mesh installed across the clusters.
	Mesh Mesh `json:"mesh,omitempty"`
	// Namespaces are application namespaces created in every cluster and enrolled in the mesh.
	Namespaces []Namespace `json:"namespaces,omitempty"`
	// Addons are the reference architecture's optional integrations (docs/addons.md).
	Addons Addons `json:"addons,omitempty"`
}

// Network is a custom-mode VPC, possibly the host network of a Shared VPC.
type Network struct {
	// Project holds the VPC. When it differs from a cluster's project, the VPC is shared: this
	// project becomes the Shared VPC host and the cluster projects its service projects.
	// Default: fleetProject.
	Project string `json:"project,omitempty"`
	// Name of the VPC network (custom subnet mode).
	Name string `json:"name"`
	// Subnets of the VPC. Every cluster names one of them.
	Subnets []Subnet `json:"subnets"`
	// CloudNAT gives private nodes outbound internet access through a Cloud Router and Cloud NAT in
	// each region that has a cluster.
	CloudNAT CloudNAT `json:"cloudNAT,omitempty"`
}

// Subnet is a regional subnetwork with the secondary ranges GKE uses for pods and services.
type Subnet struct {
	// Name of the subnetwork.
	Name string `json:"name"`
	// Region of the subnetwork, e.g. us-west2.
	Region string `json:"region"`
	// PrimaryRange is the IPv4 range of the nodes, e.g. 10.184.19.0/24.
	PrimaryRange string `json:"primaryRange"`
	// PodRange is the secondary range for pod IPs. Required when a cluster uses this subnet.
	PodRange *SecondaryRange `json:"podRange,omitempty"`
	// ServiceRange is the secondary range for Service cluster IPs. Required when a cluster uses this
	// subnet.
	ServiceRange *SecondaryRange `json:"serviceRange,omitempty"`
	// PrivateGoogleAccess lets VMs without external IPs reach Google APIs. Default: true.
	PrivateGoogleAccess *bool `json:"privateGoogleAccess,omitempty"`
}

// SecondaryRange is a named secondary IPv4 range of a subnet.
type SecondaryRange struct {
	// Name of the secondary range, e.g. cluster3-pod-cidr.
	Name string `json:"name"`
	// CIDR of the secondary range, e.g. 10.185.128.0/18.
	CIDR string `json:"cidr"`
}

// CloudNAT configures a Cloud Router and Cloud NAT per region.
type CloudNAT struct {
	// Enabled creates the router and NAT. Default: true (private nodes have no external IPs).
	Enabled *bool `json:"enabled,omitempty"`
	// Regions that get a NAT. Default: every region that has a cluster.
	Regions []string `json:"regions,omitempty"`
	// Subnets that are NATed. Default: the subnets that hold clusters (the primary range only, as
	// pods reach the internet through the nodes' IP masquerading).
	Subnets []string `json:"subnets,omitempty"`
}

// Admin describes the networks administrators and automation use to reach the clusters.
type Admin struct {
	// AuthorizedNetworks may reach every cluster's control plane and nodes, e.g. a bastion subnet.
	// They are added to every cluster's master authorized networks and to a firewall rule towards
	// the nodes.
	AuthorizedNetworks []NamedCIDR `json:"authorizedNetworks,omitempty"`
	// Bastion is an optional VM without an external IP inside the VPC, from which administrators
	// run kubectl against private endpoints.
	Bastion *Bastion `json:"bastion,omitempty"`
}

// NamedCIDR is an IPv4 range with a display name.
type NamedCIDR struct {
	// Name shown in the console and in plans, e.g. bastion-admin.
	Name string `json:"name"`
	// CIDR of the range, e.g. 10.0.0.0/24.
	CIDR string `json:"cidr"`
}

// Bastion is an administration VM inside the VPC, created in network.project: a shielded VM with
// OS Login and no external IP, reached over SSH through Identity-Aware Proxy (a firewall rule lets
// IAP's range 35.235.240.0/20 reach its port 22), whose address is in every cluster's master
// authorized networks.
type Bastion struct {
	// Name of the VM instance.
	Name string `json:"name"`
	// Zone of the VM, e.g. us-west2-a.
	Zone string `json:"zone"`
	// Subnet the VM is attached to; it must be one of network.subnets, in the zone's region.
	Subnet string `json:"subnet"`
	// MachineType of the VM. Default: e2-small. Changing it stops the VM, sets the type and starts
	// it again: its boot disk and address are kept.
	MachineType string `json:"machineType,omitempty"`
	// InternalIP is an optional static internal address inside the subnet's primary range. Every
	// cluster's master authorized networks admit it (without it, the subnet's primary range, as the
	// VM's address is only known once it exists), unless an admin network already holds it.
	InternalIP string `json:"internalIP,omitempty"`
	// ServiceAccount is the email of the Google service account the VM runs as, with the
	// cloud-platform scope (its IAM roles decide what it may do). Without one the VM holds no
	// Google credentials of its own: administrators sign in on it (gcloud auth login) and act as
	// themselves. Default: none.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// NAT gives the VM outbound internet access (to download tools) by adding its subnet's
	// primary range to the Cloud NAT of its region, which is created for it when no cluster needs
	// one there, even with network.cloudNAT disabled. Default: false.
	NAT bool `json:"nat,omitempty"`
}

// Cluster is a private GKE cluster that joins the mesh.
type Cluster struct {
	// Name of the GKE cluster. It is also the Istio cluster name (multiCluster.clusterName), the
	// name of the remote secret peers hold for it, and that secret's data key.
	Name string `json:"name"`
	// Project that holds the cluster. When it differs from network.project the cluster is in a
	// Shared VPC service project. Default: network.project.
	Project string `json:"project,omitempty"`
	// Location is a region (regional cluster) or a zone (zonal cluster), e.g. us-west2.
	Location string `json:"location"`
	// Subnet is the name of one of network.subnets, in the cluster's region. Its pod and service
	// secondary ranges are the cluster's pod and service ranges.
	Subnet string `json:"subnet"`
	// ControlPlaneRange is the /28 the private control plane uses, e.g. 192.168.2.0/28. It must
	// not overlap any other range of the federation.
	ControlPlaneRange string `json:"controlPlaneRange"`
	// PrivateEndpoint disables the control plane's public endpoint. Default: true.
	PrivateEndpoint *bool `json:"privateEndpoint,omitempty"`
	// AuthorizedNetworks are extra ranges allowed to reach this cluster's control plane, beside
	// admin.authorizedNetworks and the peers' pod ranges (which are added automatically).
	AuthorizedNetworks []NamedCIDR `json:"authorizedNetworks,omitempty"`
	// ReleaseChannel is RAPID, REGULAR, STABLE, EXTENDED or UNSPECIFIED. Default: REGULAR.
	ReleaseChannel string `json:"releaseChannel,omitempty"`
	// WorkloadIdentity enables the <project>.svc.id.goog workload pool on the cluster and the
	// GKE metadata server (GKE_METADATA) on its node pools. Fleet Workload Identity, the cluster's
	// issuer as its membership's authority, is on either way. Default: true.
	WorkloadIdentity *bool `json:"workloadIdentity,omitempty"`
	// NetworkPolicy enables NetworkPolicy enforcement, which application namespaces' default
	// policies need. Default: true.
	NetworkPolicy *bool `json:"networkPolicy,omitempty"`
	// ShieldedNodes enables shielded GKE nodes. Default: true.
	ShieldedNodes *bool `json:"shieldedNodes,omitempty"`
	// Labels are GKE resource labels. The tool adds mesh_id and its ownership labels.
	Labels map[string]string `json:"labels,omitempty"`
	// NodePools of the cluster. The default node pool is always removed. At least one is required.
	NodePools []NodePool `json:"nodePools"`
	// KubeconfigContext, when set, is the kubeconfig context used to reach this cluster instead of
	// credentials built from the GKE API (endpoint, CA and a Google OAuth token): access.via is then
	// kubeconfig unless the cluster sets it otherwise, which is refused.
	KubeconfigContext string `json:"kubeconfigContext,omitempty"`
	// Access says how the tool reaches this cluster's API server, over spec.access. Default:
	// kubeconfig when kubeconfigContext is set, spec.access otherwise.
	Access Access `json:"access,omitempty"`
	// PeerAPIServer is the address peers' istiod uses to reach this cluster's API server, written
	// into the remote secrets. Default: the cluster's private endpoint.
	PeerAPIServer string `json:"peerAPIServer,omitempty"`
}

// Ways of reaching a cluster's API server (Access.Via).
const (
	AccessConnectGateway  = "connectGateway"
	AccessPrivateEndpoint = "privateEndpoint"
	AccessPublicEndpoint  = "publicEndpoint"
	AccessKubeconfig      = "kubeconfig"
)

// Access says how the tool reaches a cluster's API server. istiod's remote secrets are not
// concerned: peers always reach each other's private endpoint from inside the VPC.
type Access struct {
	// Via is connectGateway (the fleet's Connect Gateway, connectgateway.googleapis.com, with the
	// caller's Google credentials: works from anywhere, needs roles/gkehub.gatewayEditor on the
	// fleet project), privateEndpoint (the control plane's private address: only from inside the
	// VPC, from a range in the master authorized networks), publicEndpoint (the public address of
	// a cluster with privateEndpoint: false, from a range in the master authorized networks) or
	// kubeconfig (the cluster's kubeconfigContext).
	Via string `json:"via,omitempty"`
}

// NodePool is a GKE node pool.
type NodePool struct {
	// Name of the node pool.
	Name string `json:"name"`
	// MachineType of the nodes. Default: e2-standard-4.
	MachineType string `json:"machineType,omitempty"`
	// Autoscaling bounds, per zone. Default: min 1, max 5.
	Autoscaling *Autoscaling `json:"autoscaling,omitempty"`
	// ImageType of the nodes. Default: COS_CONTAINERD.
	ImageType string `json:"imageType,omitempty"`
	// DiskSizeGB of each node's boot disk. Default: 100.
	DiskSizeGB int32 `json:"diskSizeGB,omitempty"`
	// DiskType of each node's boot disk: pd-standard, pd-balanced or pd-ssd. Default: pd-balanced.
	DiskType string `json:"diskType,omitempty"`
	// Tags are the nodes' network tags; firewall rules target them. Default: the cluster's name.
	Tags []string `json:"tags,omitempty"`
	// ServiceAccount is the email of the nodes' Google service account. Default: the project's
	// Compute Engine default service account.
	ServiceAccount string `json:"serviceAccount,omitempty"`
}

// Autoscaling bounds a node pool's size.
type Autoscaling struct {
	// Min nodes per zone.
	Min int32 `json:"min"`
	// Max nodes per zone.
	Max int32 `json:"max"`
}

// Control-plane modes.
const (
	ControlPlaneInCluster = "inCluster"
	ControlPlaneManaged   = "managed"
)

// CA modes.
const (
	CAManaged = "managed"
	CAPlugin  = "plugin"
)

// Mesh configures Istio / Cloud Service Mesh across the federation.
type Mesh struct {
	// ControlPlane is inCluster (an istiod per cluster, rendered from IstioOperator overlays) or
	// managed (the fleet servicemesh feature with automatic management; the fields that only
	// configure an in-cluster control plane are refused with it). Default: inCluster.
	ControlPlane string `json:"controlPlane,omitempty"`
	// Revision is the Istio revision installed and the istio.io/rev label of enrolled namespaces.
	// Default: derived from the tag, e.g. 1-31-0. Not with a managed control plane, whose revision
	// is each cluster's channel's: asm-managed-rapid, asm-managed or asm-managed-stable for the
	// RAPID, REGULAR (or no) and STABLE release channels.
	Revision string `json:"revision,omitempty"`
	// Hub is the registry of Istio images. Default: docker.io/istio. Use an ASM hub, e.g.
	// gcr.io/gke-release/asm, for Anthos Service Mesh images. Not with a managed control plane.
	Hub string `json:"hub,omitempty"`
	// Tag of the Istio images. Default: the Istio release the tool renders with. Not with a
	// managed control plane.
	Tag string `json:"tag,omitempty"`
	// MeshID is values.global.meshID and the GKE mesh_id label. Default: proj-<fleet project number>.
	MeshID string `json:"meshID,omitempty"`
	// TrustDomain of workload identities. Default: <fleetProject>.svc.id.goog.
	TrustDomain string `json:"trustDomain,omitempty"`
	// TrustDomainAliases are other trust domains whose identities are accepted, e.g. during a
	// migration between projects.
	TrustDomainAliases []string `json:"trustDomainAliases,omitempty"`
	// Network is the Istio network name of every cluster. All clusters share one VPC, so they are
	// on one Istio network and talk pod to pod. Default: the VPC name.
	Network string `json:"network,omitempty"`
	// CA is the root of trust every cluster shares.
	CA CA `json:"ca,omitempty"`
	// MTLS is the mesh-wide PeerAuthentication mode: STRICT or PERMISSIVE. Default: STRICT.
	MTLS string `json:"mtls,omitempty"`
	// Egress controls traffic leaving the mesh.
	Egress Egress `json:"egress,omitempty"`
	// Ingress configures the ingress gateway.
	Ingress Ingress `json:"ingress,omitempty"`
	// AccessLogging writes Envoy access logs to stdout. Default: true.
	AccessLogging *bool `json:"accessLogging,omitempty"`
	// WebhookPorts are the node ports the private control plane must reach for admission webhooks:
	// 15017 for istiod, 9443 and 8443 for other webhooks (e.g. Policy Controller). Default: [15017].
	// With a managed control plane 15017 is not opened: Google serves its injection webhook.
	WebhookPorts []int32 `json:"webhookPorts,omitempty"`
	// CrossClusterPorts are the ports pods of one cluster may use towards the nodes and pods of
	// another. Default: all TCP, UDP and ICMP traffic.
	CrossClusterPorts []PortRule `json:"crossClusterPorts,omitempty"`
	// Overlays are custom IstioOperator overlays merged, in order, over the one the tool builds:
	// the equivalent of install_asm --custom_overlay. Not with a managed control plane.
	Overlays []Overlay `json:"overlays,omitempty"`
}

// CA is the shared root of trust of the mesh: every cluster's control plane issues workload
// certificates that chain to one root, so mTLS works between clusters. With an in-cluster control
// plane the tool installs upstream Istio's istiod, which signs with a self-signed root of its own
// unless it is given cacerts; so the root is the plug-in CA's, a root the user holds, and apply
// gives every cluster an intermediate of it. A managed CA (Mesh CA or CA Service) would need
// Google's distribution of istiod, configured with the CA's address, the trust domain
// <fleet project>.svc.id.goog and fleet Workload Identity, which the tool does not install: with an
// in-cluster control plane it is a validation error. With a managed control plane Google's CA
// issues every certificate and there is nothing to configure.
type CA struct {
	// Mode is plugin (a root the user holds; the tool issues a per-cluster intermediate and
	// installs it as cacerts) or managed (Mesh CA / Certificate Authority Service, with a managed
	// control plane only). Default: managed for a managed control plane, plugin otherwise.
	Mode string `json:"mode,omitempty"`
	// RootCertFile is the PEM root certificate (plugin mode), relative to this file. Default:
	// ca/root-cert.pem, what kubectl asmfed ca init writes when run in this file's directory.
	RootCertFile string `json:"rootCertFile,omitempty"`
	// RootKeyFile is the PEM private key of the root (plugin mode), relative to this file. It is
	// read only to sign intermediates and never printed. Default: ca/root-key.pem, what
	// kubectl asmfed ca init writes when run in this file's directory.
	RootKeyFile string `json:"rootKeyFile,omitempty"`
}

// Egress controls traffic leaving the mesh.
type Egress struct {
	// Mode is meshConfig.outboundTrafficPolicy.mode: REGISTRY_ONLY (only hosts in the service
	// registry or the allow-list are reachable) or ALLOW_ANY. Default: REGISTRY_ONLY.
	Mode string `json:"mode,omitempty"`
	// Allow lists external destinations reachable under REGISTRY_ONLY; each becomes a ServiceEntry.
	Allow []EgressRule `json:"allow,omitempty"`
	// Gateway routes the allow-list through an egress gateway: application pods reach the
	// allow-listed hosts only through it. It needs REGISTRY_ONLY and hosts without wildcards.
	// Default: false.
	Gateway bool `json:"gateway,omitempty"`
}

// EgressRule is one allowed external destination.
type EgressRule struct {
	// Name of the ServiceEntry. Default: derived from the first host.
	Name string `json:"name,omitempty"`
	// Hosts are DNS names, optionally with a leading wildcard, e.g. *.googleapis.com.
	Hosts []string `json:"hosts"`
	// Ports reachable on those hosts.
	Ports []EgressPort `json:"ports"`
	// Addresses are optional IPv4 addresses or CIDRs of the destination (needed for TCP without SNI).
	Addresses []string `json:"addresses,omitempty"`
}

// EgressPort is a port of an external destination.
type EgressPort struct {
	// Number of the port.
	Number int32 `json:"number"`
	// Protocol: HTTP, HTTPS, HTTP2, GRPC, TLS, TCP or MONGO. Default: TLS for 443, TCP otherwise.
	Protocol string `json:"protocol,omitempty"`
}

// Ingress configures the ingress gateway.
type Ingress struct {
	// Enabled installs the ingress gateway. Default: true.
	Enabled *bool `json:"enabled,omitempty"`
	// Name of the gateway deployment and service. Default: istio-ingressgateway.
	Name string `json:"name,omitempty"`
	// InternalLoadBalancer puts the gateway behind an internal passthrough load balancer. Default:
	// true.
	InternalLoadBalancer *bool `json:"internalLoadBalancer,omitempty"`
	// GlobalAccess lets clients in other regions reach the internal load balancer. Default: true
	// when clusters span several regions and the load balancer is internal.
	GlobalAccess *bool `json:"globalAccess,omitempty"`
	// Hosts served by the Gateway. Default: ["*"].
	Hosts []string `json:"hosts,omitempty"`
	// TLS terminates TLS at the gateway. Absent: plain HTTP on port 80 only.
	TLS *IngressTLS `json:"tls,omitempty"`
}

// TLS modes of the ingress gateway.
const (
	TLSSimple      = "SIMPLE"
	TLSMutual      = "MUTUAL"
	TLSPassthrough = "PASSTHROUGH"
)

// IngressTLS configures TLS at the ingress gateway.
type IngressTLS struct {
	// Mode is SIMPLE (server TLS), MUTUAL (client certificates required) or PASSTHROUGH (the
	// workload terminates TLS; no credential at the gateway).
	Mode string `json:"mode"`
	// CredentialName is an existing Secret in the gateway's namespace holding the certificate.
	// Exclusive with certFile/keyFile.
	CredentialName string `json:"credentialName,omitempty"`
	// CertFile is the PEM server certificate chain, relative to this file; the tool creates the
	// credential Secret from it.
	CertFile string `json:"certFile,omitempty"`
	// KeyFile is the PEM private key of certFile, relative to this file. Never printed.
	KeyFile string `json:"keyFile,omitempty"`
	// CACertFile is the PEM bundle that client certificates must chain to (MUTUAL only).
	CACertFile string `json:"caCertFile,omitempty"`
	// MinProtocolVersion is TLSV1_2 or TLSV1_3. Default: TLSV1_2.
	MinProtocolVersion string `json:"minProtocolVersion,omitempty"`
}

// PortRule allows a protocol and optionally some ports.
type PortRule struct {
	// Protocol: tcp, udp, icmp, sctp or all.
	Protocol string `json:"protocol"`
	// Ports are port numbers or ranges such as 8080-8090. Empty: every port of the protocol.
	Ports []string `json:"ports,omitempty"`
}

// Overlay is a custom IstioOperator overlay, given as a file or inline. Exactly one of file and
// inline is set.
type Overlay struct {
	// File is the path of an IstioOperator YAML file, relative to this file.
	File string `json:"file,omitempty"`
	// Inline is an IstioOperator written in place.
	Inline map[string]any `json:"inline,omitempty"`
}

// Pod Security Standards levels.
const (
	PodSecurityPrivileged = "privileged"
	PodSecurityBaseline   = "baseline"
	PodSecurityRestricted = "restricted"
)

// Namespace is an application namespace enrolled in the mesh in every cluster.
type Namespace struct {
	// Name of the namespace.
	Name string `json:"name"`
	// Injection labels the namespace with the mesh revision so sidecars are injected. Default: true.
	Injection *bool `json:"injection,omitempty"`
	// PodSecurity is the Pod Security Standards level enforced: privileged, baseline or
	// restricted. Default: baseline (restricted rejects the istio-init container).
	PodSecurity string `json:"podSecurity,omitempty"`
	// DefaultNetworkPolicy installs deny-by-default NetworkPolicies that allow DNS, istiod and the
	// mesh ports. Default: true.
	DefaultNetworkPolicy *bool `json:"defaultNetworkPolicy,omitempty"`
}

// Addons are the reference architecture's optional integrations, planned, owned, diffed,
// destroyed and verified like the rest of the federation (docs/addons.md).
type Addons struct {
	// CloudSQL gives workloads access to Cloud SQL for PostgreSQL through the Cloud SQL Auth Proxy
	// (the approach that works in a mesh: PostgreSQL negotiates TLS inside its own protocol, which an
	// Istio sidecar cannot originate).
	CloudSQL *CloudSQL `json:"cloudSQL,omitempty"`
	// PrismaCloud deploys Prisma Cloud (Twistlock) Defenders connected to a SaaS console.
	PrismaCloud *PrismaCloud `json:"prismaCloud,omitempty"`
}

// CloudSQL configures Cloud SQL for PostgreSQL clients. For each instance the tool creates the
// Google service account with roles/cloudsql.client on the instance's project and
// roles/iam.workloadIdentityUser for each client's Kubernetes service account, and in every cluster
// the annotated Kubernetes service accounts, the NetworkPolicy egress to the instance and the
// ServiceEntries the proxy needs under REGISTRY_ONLY. The application's Deployment stays the
// team's: `kubectl asmfed render --addon cloudsql` prints the proxy to add to it.
type CloudSQL struct {
	// Instances reachable from the mesh.
	Instances []CloudSQLInstance `json:"instances"`
}

// CloudSQLInstance is one Cloud SQL for PostgreSQL instance and the workloads that use it. The
// instance itself is not the tool's: it is read (its addresses and IP settings) through the Cloud
// SQL Admin API, never created or changed.
type CloudSQLInstance struct {
	// ConnectionName is project:region:instance, as gcloud sql instances describe shows it.
	ConnectionName string `json:"connectionName"`
	// GoogleServiceAccount is the email of the Google service account the proxy runs as, which the
	// tool creates (with the federation's mark in its description) and grants roles/cloudsql.client
	// on the instance's project. A service account of that name the federation did not create is a
	// conflict, never taken over.
	GoogleServiceAccount string `json:"googleServiceAccount"`
	// Clients are the Kubernetes service accounts that may connect, each bound to
	// GoogleServiceAccount through Workload Identity in every cluster.
	Clients []CloudSQLClient `json:"clients"`
	// PrivateIP connects to the instance's private IP on the federation's VPC (recommended);
	// false connects to its public IP through the clusters' Cloud NAT (the Auth Proxy is authorised
	// by IAM and needs no authorized network). Default: true.
	PrivateIP *bool `json:"privateIP,omitempty"`
	// Port the proxy listens on inside the pod, where the application connects. Default: 5432.
	Port int32 `json:"port,omitempty"`
}

// CloudSQLClient is a Kubernetes service account whose pods connect to a Cloud SQL instance.
type CloudSQLClient struct {
	// Namespace of the client workloads; it must be one of namespaces.
	Namespace string `json:"namespace"`
	// KubernetesServiceAccount the clients run as, created and annotated
	// iam.gke.io/gcp-service-account by the tool. Default: ksa-sqlproxy.
	KubernetesServiceAccount string `json:"kubernetesServiceAccount,omitempty"`
}

// PrismaCloud configures Prisma Cloud Defenders connected to a SaaS console. The Defender
// manifest is the vendor's (what the Console or `twistcli defender export kubernetes` generates
// for the tenant): the tool applies it to every cluster with its ownership and pruning, puts the
// console token in a Secret, labels the namespace Pod Security privileged and not injected
// (Defenders use the host network), and allows the Console address as an egress destination.
type PrismaCloud struct {
	// ConsoleURL is the SaaS console address, e.g. https://us-west1.cloud.twistlock.com/<tenant>;
	// the token Secret names it beside the token.
	ConsoleURL string `json:"consoleURL"`
	// ClusterAddress is the host Defenders connect to on 443, e.g. us-west1.cloud.twistlock.com:
	// the WS_ADDRESS of the manifest's DaemonSet, and an egress destination of the federation.
	ClusterAddress string `json:"clusterAddress"`
	// TokenFile holds the console API token, relative to this file; it becomes the Secret
	// prisma-cloud-token in the Defender namespace. Never printed.
	TokenFile string `json:"tokenFile"`
	// ManifestFile is the Defender manifest for Kubernetes, relative to this file: the DaemonSet
	// and what twistcli ships with it (Namespace, Secret, ServiceAccount, ClusterRole,
	// ClusterRoleBinding, Role, RoleBinding, Service), all in namespace. Its Secrets' keys are
	// never printed.
	ManifestFile string `json:"manifestFile"`
	// Namespace of the Defenders; the manifest's objects must be in it. Default: twistlock.
	Namespace string `json:"namespace,omitempty"`

	// Manifest are the objects of ManifestFile, read when the file is validated with its files.
	Manifest []map[string]any `json:"-"`
}
