package v1alpha1

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Defaults the tool applies. They are visible with `kubectl asmfed validate --show-defaults`.
const (
	DefaultIstioHub          = "docker.io/istio"
	DefaultIstioTag          = "1.31.0"
	DefaultMachineType       = "e2-standard-4"
	DefaultBastionType       = "e2-small"
	DefaultImageType         = "COS_CONTAINERD"
	DefaultDiskType          = "pd-balanced"
	DefaultDiskSizeGB        = 100
	DefaultReleaseChannel    = "REGULAR"
	DefaultIngressName       = "istio-ingressgateway"
	DefaultMinTLSVersion     = "TLSV1_2"
	DefaultWebhookPort       = 15017
	DefaultCloudSQLKSA       = "ksa-sqlproxy"
	DefaultCloudSQLPort      = 5432
	DefaultPrismaNamespace   = "twistlock"
	DefaultPodSecurity       = PodSecurityBaseline
	EgressRegistryOnly       = "REGISTRY_ONLY"
	EgressAllowAny           = "ALLOW_ANY"
	MTLSStrict               = "STRICT"
	MTLSPermissive           = "PERMISSIVE"
	DefaultAutoscalingMinPer = 1
	DefaultAutoscalingMaxPer = 5
)

// The plug-in CA's files by default, relative to the federation file: what `kubectl asmfed ca
// init` writes into its default --out directory, so that init followed by validate just works.
const (
	DefaultCADir        = "ca"
	DefaultRootCertFile = DefaultCADir + "/" + caInitCertFile
	DefaultRootKeyFile  = DefaultCADir + "/" + caInitKeyFile
	// The names init gives the root's files in its --out directory (pkg/istio's RootCertFile and
	// RootKeyFile, which this package cannot import).
	caInitCertFile = "root-cert.pem"
	caInitKeyFile  = "root-key.pem"
)

// SetDefaults fills every field the user left empty with its default. It is the only place
// defaults are decided; everything downstream reads the defaulted Federation. It is idempotent.
func SetDefaults(f *Federation) {
	s := &f.Spec
	if s.Network.Project == "" {
		s.Network.Project = s.FleetProject
	}
	for i := range s.Network.Subnets {
		sub := &s.Network.Subnets[i]
		if sub.PrivateGoogleAccess == nil {
			sub.PrivateGoogleAccess = ptr(true)
		}
	}
	if s.Access.Via == "" {
		s.Access.Via = AccessConnectGateway
	}
	if s.Admin.Bastion != nil && s.Admin.Bastion.MachineType == "" {
		s.Admin.Bastion.MachineType = DefaultBastionType
	}

	regions := map[string]bool{}
	var clusterSubnets []string
	for i := range s.Clusters {
		c := &s.Clusters[i]
		if c.Project == "" {
			c.Project = s.Network.Project
		}
		if c.PrivateEndpoint == nil {
			c.PrivateEndpoint = ptr(true)
		}
		if c.ReleaseChannel == "" {
			c.ReleaseChannel = DefaultReleaseChannel
		}
		if c.WorkloadIdentity == nil {
			c.WorkloadIdentity = ptr(true)
		}
		if c.NetworkPolicy == nil {
			c.NetworkPolicy = ptr(true)
		}
		if c.ShieldedNodes == nil {
			c.ShieldedNodes = ptr(true)
		}
		if c.Access.Via == "" {
			c.Access.Via = s.Access.Via
			if c.KubeconfigContext != "" {
				c.Access.Via = AccessKubeconfig
			}
		}
		for j := range c.NodePools {
			np := &c.NodePools[j]
			if np.MachineType == "" {
				np.MachineType = DefaultMachineType
			}
			if np.Autoscaling == nil {
				np.Autoscaling = &Autoscaling{Min: DefaultAutoscalingMinPer, Max: DefaultAutoscalingMaxPer}
			}
			if np.ImageType == "" {
				np.ImageType = DefaultImageType
			}
			if np.DiskSizeGB == 0 {
				np.DiskSizeGB = DefaultDiskSizeGB
			}
			if np.DiskType == "" {
				np.DiskType = DefaultDiskType
			}
			if len(np.Tags) == 0 && c.Name != "" {
				np.Tags = []string{c.Name}
			}
		}
		if c.Location != "" {
			regions[RegionOf(c.Location)] = true
		}
		if c.Subnet != "" && !contains(clusterSubnets, c.Subnet) {
			clusterSubnets = append(clusterSubnets, c.Subnet)
		}
	}

	nat := &s.Network.CloudNAT
	if nat.Enabled == nil {
		nat.Enabled = ptr(true)
	}
	if *nat.Enabled {
		if len(nat.Regions) == 0 {
			nat.Regions = slices.Sorted(maps.Keys(regions))
		}
		if len(nat.Subnets) == 0 {
			nat.Subnets = clusterSubnets
		}
	}

	m := &s.Mesh
	if m.ControlPlane == "" {
		m.ControlPlane = ControlPlaneInCluster
	}
	if m.Hub == "" {
		m.Hub = DefaultIstioHub
	}
	if m.Tag == "" {
		m.Tag = DefaultIstioTag
	}
	if m.Revision == "" {
		m.Revision = RevisionFromTag(m.Tag)
	}
	if m.MeshID == "" && s.FleetProjectNumber > 0 {
		m.MeshID = fmt.Sprintf("proj-%d", s.FleetProjectNumber)
	}
	if m.TrustDomain == "" && s.FleetProject != "" {
		m.TrustDomain = s.FleetProject + ".svc.id.goog"
	}
	if m.Network == "" {
		m.Network = s.Network.Name
	}
	if m.CA.Mode == "" {
		// Upstream istiod, which the tool installs in-cluster, shares a root only through
		// cacerts; Google's CA is the managed control plane's.
		m.CA.Mode = CAPlugin
		if m.ControlPlane == ControlPlaneManaged {
			m.CA.Mode = CAManaged
		}
	}
	if m.CA.Mode == CAPlugin {
		if m.CA.RootCertFile == "" {
			m.CA.RootCertFile = DefaultRootCertFile
		}
		if m.CA.RootKeyFile == "" {
			m.CA.RootKeyFile = DefaultRootKeyFile
		}
	}
	if m.MTLS == "" {
		m.MTLS = MTLSStrict
	}
	if m.Egress.Mode == "" {
		m.Egress.Mode = EgressRegistryOnly
	}
	for i := range m.Egress.Allow {
		r := &m.Egress.Allow[i]
		if r.Name == "" && len(r.Hosts) > 0 {
			r.Name = EgressRuleName(r.Hosts[0])
		}
		for j := range r.Ports {
			p := &r.Ports[j]
			if p.Protocol == "" {
				if p.Number == 443 {
					p.Protocol = "TLS"
				} else {
					p.Protocol = "TCP"
				}
			}
		}
	}
	in := &m.Ingress
	if in.Enabled == nil {
		in.Enabled = ptr(true)
	}
	if in.Name == "" {
		in.Name = DefaultIngressName
	}
	if in.InternalLoadBalancer == nil {
		in.InternalLoadBalancer = ptr(true)
	}
	if in.GlobalAccess == nil {
		// Global access is a property of internal load balancers only.
		in.GlobalAccess = ptr(len(regions) > 1 && *in.InternalLoadBalancer)
	}
	if len(in.Hosts) == 0 {
		in.Hosts = []string{"*"}
	}
	if in.TLS != nil && in.TLS.MinProtocolVersion == "" {
		in.TLS.MinProtocolVersion = DefaultMinTLSVersion
	}
	if m.AccessLogging == nil {
		m.AccessLogging = ptr(true)
	}
	if len(m.WebhookPorts) == 0 {
		m.WebhookPorts = []int32{DefaultWebhookPort}
	}
	if len(m.CrossClusterPorts) == 0 {
		m.CrossClusterPorts = []PortRule{{Protocol: "all"}}
	}

	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		if ns.Injection == nil {
			ns.Injection = ptr(true)
		}
		if ns.PodSecurity == "" {
			ns.PodSecurity = DefaultPodSecurity
		}
		if ns.DefaultNetworkPolicy == nil {
			ns.DefaultNetworkPolicy = ptr(true)
		}
	}

	if sql := s.Addons.CloudSQL; sql != nil {
		for i := range sql.Instances {
			in := &sql.Instances[i]
			for j := range in.Clients {
				if in.Clients[j].KubernetesServiceAccount == "" {
					in.Clients[j].KubernetesServiceAccount = DefaultCloudSQLKSA
				}
			}
			if in.PrivateIP == nil {
				in.PrivateIP = ptr(true)
			}
			if in.Port == 0 {
				in.Port = DefaultCloudSQLPort
			}
		}
	}
	if pc := s.Addons.PrismaCloud; pc != nil {
		if pc.Namespace == "" {
			pc.Namespace = DefaultPrismaNamespace
		}
	}
}

var zonePattern = regexp.MustCompile(`^([a-z]+-[a-z]+[0-9]+)-[a-z]$`)

// RegionOf returns the region of a GKE location: the location itself for a region, the zone's
// region for a zone (us-west2-a → us-west2).
func RegionOf(location string) string {
	if m := zonePattern.FindStringSubmatch(location); m != nil {
		return m[1]
	}
	return location
}

// IsZone reports whether a GKE location is a zone rather than a region.
func IsZone(location string) bool { return zonePattern.MatchString(location) }

var nonRevisionChars = regexp.MustCompile(`[^a-z0-9-]+`)

// RevisionFromTag turns an image tag into a revision name: 1.31.0 → 1-31-0, 1.24.3-asm.6 →
// 1-24-3-asm-6.
func RevisionFromTag(tag string) string {
	r := nonRevisionChars.ReplaceAllString(strings.ToLower(tag), "-")
	return strings.Trim(r, "-")
}

// EgressRuleName turns a host into a ServiceEntry name: *.googleapis.com → wildcard-googleapis-com.
func EgressRuleName(host string) string {
	h := strings.ReplaceAll(strings.ToLower(host), "*", "wildcard")
	h = nonRevisionChars.ReplaceAllString(h, "-")
	h = strings.Trim(h, "-")
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	return h
}

// Bool reads an optional flag that SetDefaults has filled.
func Bool(b *bool) bool { return b != nil && *b }

func ptr[T any](v T) *T { return &v }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
