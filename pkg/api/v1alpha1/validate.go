package v1alpha1

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ValidateOptions configure semantic validation.
type ValidateOptions struct {
	// BaseDir resolves relative file references (CA, TLS, overlays, tokens). Default: the
	// directory of the source map's file.
	BaseDir string
	// SkipFiles skips checks that read referenced files (for callers that only have the bytes).
	SkipFiles bool
}

// Validate checks a defaulted Federation and returns every problem at once, each positioned with
// sm. Warnings are things that work but are probably not what the user wants.
func Validate(f *Federation, sm *SourceMap, opts ValidateOptions) (warnings, errs ErrorList) {
	if opts.BaseDir == "" && sm != nil && sm.File != "" {
		opts.BaseDir = filepath.Dir(sm.File)
	}
	v := &validator{f: f, sm: sm, opts: opts}
	v.validate()
	v.errs.Sort()
	v.warns.Sort()
	return v.warns, v.errs
}

type validator struct {
	f     *Federation
	sm    *SourceMap
	opts  ValidateOptions
	errs  ErrorList
	warns ErrorList
}

func (v *validator) errorf(path, hint, format string, args ...any) {
	v.errs = append(v.errs, v.sm.Errorf(path, hint, format, args...))
}

// written reports whether the user wrote path, as opposed to SetDefaults copying it from another
// field (network.project from fleetProject, say), in which case the source field carries the error.
func (v *validator) written(path string) bool { return v.sm == nil || v.sm.Has(path) }

func (v *validator) warnf(path, hint, format string, args ...any) {
	v.warns = append(v.warns, v.sm.Errorf(path, hint, format, args...))
}

// Name rules of the resources the tool creates.
var (
	gceName       = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	projectID     = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionName    = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	dnsLabel      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	hostName      = regexp.MustCompile(`^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	emailAddr     = regexp.MustCompile(`^[a-z0-9][-a-z0-9._]*@[a-z0-9][-a-z0-9.]*\.[a-z]+$`)
	machineType   = regexp.MustCompile(`^[a-z][a-z0-9]*-[a-z0-9-]+$`)
	sqlConnection = regexp.MustCompile(`^[a-z][a-z0-9-:.]*[a-z0-9]:[a-z]+-[a-z]+[0-9]+:[a-z]([-a-z0-9]*[a-z0-9])?$`)
	portRange     = regexp.MustCompile(`^([0-9]{1,5})(-([0-9]{1,5}))?$`)
)

func (v *validator) name(path, value string, max int, rule string) {
	switch {
	case value == "":
		v.errorf(path, "", "is required")
	case len(value) > max:
		v.errorf(path, fmt.Sprintf("use at most %d characters", max), "%q is %d characters long", value, len(value))
	case !gceName.MatchString(value):
		v.errorf(path, rule, "%q is not a valid name", value)
	}
}

const gceRule = "lower-case letters, digits and dashes, starting with a letter and not ending with a dash"

func (v *validator) project(path, value string) {
	switch {
	case value == "":
		v.errorf(path, "", "is required")
	case !projectID.MatchString(value):
		v.errorf(path, "a project ID has 6 to 30 lower-case letters, digits or dashes, starts with a letter and does not end with a dash", "%q is not a valid project ID", value)
	}
}

func oneOf(value string, allowed ...string) bool {
	for _, a := range allowed {
		if value == a {
			return true
		}
	}
	return false
}

func (v *validator) enum(path, value string, allowed ...string) {
	if oneOf(value, allowed...) {
		return
	}
	hint := "one of " + strings.Join(allowed, ", ")
	for _, a := range allowed {
		if strings.EqualFold(a, value) {
			hint = fmt.Sprintf("did you mean %q?", a)
		}
	}
	v.errorf(path, hint, "%q is not allowed", value)
}

// cidr parses an IPv4 CIDR and insists on its canonical form, as the Google APIs do.
func (v *validator) cidr(path, value string) (netip.Prefix, bool) {
	if value == "" {
		v.errorf(path, "", "is required")
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(value)
	if err != nil {
		hint := "write an IPv4 range such as 10.0.0.0/24"
		if a, aerr := netip.ParseAddr(value); aerr == nil && a.Is4() {
			hint = fmt.Sprintf("add a prefix length, e.g. %s/32", value)
		}
		v.errorf(path, hint, "%q is not a valid CIDR range", value)
		return netip.Prefix{}, false
	}
	if !p.Addr().Is4() {
		v.errorf(path, "only IPv4 ranges are supported", "%q is not an IPv4 range", value)
		return netip.Prefix{}, false
	}
	if p.Masked() != p {
		v.errorf(path, fmt.Sprintf("did you mean %s?", p.Masked()), "%q has host bits set", value)
		return p.Masked(), true
	}
	return p, true
}

func (v *validator) validate() {
	f := v.f
	if f.APIVersion != APIVersion {
		if f.APIVersion == "" {
			v.errorf("apiVersion", "add apiVersion: "+APIVersion, "is required")
		} else {
			v.errorf("apiVersion", "use "+APIVersion, "%q is not supported", f.APIVersion)
		}
	}
	if f.Kind != Kind {
		if f.Kind == "" {
			v.errorf("kind", "add kind: "+Kind, "is required")
		} else {
			v.errorf("kind", "use "+Kind, "%q is not supported", f.Kind)
		}
	}
	switch n := f.Metadata.Name; {
	case n == "":
		v.errorf("metadata.name", "", "is required")
	case len(n) > 40 || !gceName.MatchString(n):
		v.errorf("metadata.name", "at most 40 "+gceRule+"; it prefixes the names of the resources the tool creates", "%q is not a valid federation name", n)
	case strings.Contains(n, "--"):
		v.errorf("metadata.name", "use single dashes: the names the tool generates end the federation name with --, as in asmfed-prod--webhooks", "%q contains --", n)
	}
	s := &f.Spec
	v.project("spec.fleetProject", s.FleetProject)
	if s.FleetProjectNumber < 0 {
		v.errorf("spec.fleetProjectNumber", "", "must be positive")
	}
	v.network()
	v.admin()
	v.enum("spec.access.via", s.Access.Via, accessWays...)
	v.clusters()
	v.ranges()
	v.mesh()
	v.namespaces()
	v.addons()
}

func (v *validator) network() {
	n := &v.f.Spec.Network
	if v.written("spec.network.project") {
		v.project("spec.network.project", n.Project)
	}
	v.name("spec.network.name", n.Name, 63, gceRule)
	if len(n.Subnets) == 0 {
		v.errorf("spec.network.subnets", "every cluster needs a subnet", "at least one subnet is required")
	}
	seen := map[string]int{}
	for i, sub := range n.Subnets {
		p := fmt.Sprintf("spec.network.subnets[%d]", i)
		v.name(p+".name", sub.Name, 63, gceRule)
		if j, dup := seen[sub.Name]; dup && sub.Name != "" {
			v.errorf(p+".name", "subnet names are unique in a network", "duplicate subnet %q (also spec.network.subnets[%d])", sub.Name, j)
		}
		seen[sub.Name] = i
		if !regionName.MatchString(sub.Region) {
			if sub.Region == "" {
				v.errorf(p+".region", "", "is required")
			} else if IsZone(sub.Region) {
				v.errorf(p+".region", fmt.Sprintf("subnets are regional: did you mean %q?", RegionOf(sub.Region)), "%q is a zone", sub.Region)
			} else {
				v.errorf(p+".region", "a region looks like us-west2", "%q is not a valid region", sub.Region)
			}
		}
		if pr, ok := v.cidr(p+".primaryRange", sub.PrimaryRange); ok && pr.Bits() > 29 {
			v.errorf(p+".primaryRange", "a subnet's primary range is at most /29", "%s is too small", sub.PrimaryRange)
		}
		names := map[string]bool{}
		for _, sr := range []struct {
			field string
			r     *SecondaryRange
		}{{"podRange", sub.PodRange}, {"serviceRange", sub.ServiceRange}} {
			if sr.r == nil {
				continue
			}
			rp := p + "." + sr.field
			v.name(rp+".name", sr.r.Name, 63, gceRule)
			if names[sr.r.Name] && sr.r.Name != "" {
				v.errorf(rp+".name", "the pod and service ranges need different names", "duplicate secondary range name %q", sr.r.Name)
			}
			names[sr.r.Name] = true
			v.cidr(rp+".cidr", sr.r.CIDR)
		}
	}
	nat := &n.CloudNAT
	// Defaulted regions and subnets come from the clusters, which are checked on their own.
	if Bool(nat.Enabled) && v.sm.Has("spec.network.cloudNAT") {
		for i, r := range nat.Regions {
			if !regionName.MatchString(r) {
				v.errorf(fmt.Sprintf("spec.network.cloudNAT.regions[%d]", i), "a region looks like us-west2", "%q is not a valid region", r)
			}
		}
		for i, sn := range nat.Subnets {
			if _, ok := v.subnet(sn); !ok {
				v.errorf(fmt.Sprintf("spec.network.cloudNAT.subnets[%d]", i), v.subnetHint(sn), "subnet %q is not in spec.network.subnets", sn)
			}
		}
	}
}

func (v *validator) subnet(name string) (*Subnet, bool) {
	for i := range v.f.Spec.Network.Subnets {
		if v.f.Spec.Network.Subnets[i].Name == name {
			return &v.f.Spec.Network.Subnets[i], true
		}
	}
	return nil, false
}

func (v *validator) subnetHint(name string) string {
	fields := map[string]int{}
	for i, s := range v.f.Spec.Network.Subnets {
		fields[s.Name] = i
	}
	if len(fields) == 0 {
		return "add it to spec.network.subnets"
	}
	return strings.Replace(suggestField(name, fields), "valid fields", "subnets", 1)
}

func (v *validator) namedCIDRs(path string, list []NamedCIDR) {
	for i, n := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		if n.Name == "" {
			v.errorf(p+".name", "", "is required")
		}
		v.cidr(p+".cidr", n.CIDR)
	}
}

func (v *validator) admin() {
	a := &v.f.Spec.Admin
	v.namedCIDRs("spec.admin.authorizedNetworks", a.AuthorizedNetworks)
	if b := a.Bastion; b != nil {
		v.name("spec.admin.bastion.name", b.Name, 63, gceRule)
		if !IsZone(b.Zone) {
			v.errorf("spec.admin.bastion.zone", "a zone looks like us-west2-a", "%q is not a valid zone", b.Zone)
		}
		sub, ok := v.subnet(b.Subnet)
		switch {
		case !ok:
			v.errorf("spec.admin.bastion.subnet", v.subnetHint(b.Subnet), "subnet %q is not in spec.network.subnets", b.Subnet)
		case IsZone(b.Zone) && sub.Region != RegionOf(b.Zone):
			v.errorf("spec.admin.bastion.subnet", "the VM's zone must be in the subnet's region", "subnet %q is in %s, not in %s", b.Subnet, sub.Region, RegionOf(b.Zone))
		}
		if !machineType.MatchString(b.MachineType) {
			v.errorf("spec.admin.bastion.machineType", "e.g. e2-small", "%q is not a valid machine type", b.MachineType)
		}
		if b.InternalIP != "" {
			ip, err := netip.ParseAddr(b.InternalIP)
			if err != nil || !ip.Is4() {
				v.errorf("spec.admin.bastion.internalIP", "", "%q is not an IPv4 address", b.InternalIP)
			} else if ok {
				if pr, perr := netip.ParsePrefix(sub.PrimaryRange); perr == nil && !pr.Contains(ip) {
					v.errorf("spec.admin.bastion.internalIP", "pick an address inside the subnet", "%s is outside subnet %q (%s)", ip, sub.Name, sub.PrimaryRange)
				} else if perr == nil && reservedAddress(pr, ip) {
					v.errorf("spec.admin.bastion.internalIP", "Compute Engine reserves the first two and the last two addresses of a subnet's primary range: pick another",
						"%s is reserved in subnet %q (%s)", ip, sub.Name, sub.PrimaryRange)
				}
			}
		}
		if b.ServiceAccount != "" && !emailAddr.MatchString(b.ServiceAccount) {
			v.errorf("spec.admin.bastion.serviceAccount", "a service account email, e.g. bastion@my-project.iam.gserviceaccount.com", "%q is not an email address", b.ServiceAccount)
		}
	}
}

// reservedAddress reports whether ip is one of the four addresses Compute Engine keeps in every
// subnet's primary range: the network and gateway addresses, the second-to-last and the broadcast.
func reservedAddress(p netip.Prefix, ip netip.Addr) bool {
	first := p.Masked().Addr().As4()
	n := binary.BigEndian.Uint32(first[:])
	size := uint32(1) << (32 - p.Bits())
	a := ip.As4()
	off := binary.BigEndian.Uint32(a[:]) - n
	return off < 2 || off >= size-2
}

var (
	releaseChannels = []string{"RAPID", "REGULAR", "STABLE", "EXTENDED", "UNSPECIFIED"}
	imageTypes      = []string{"COS_CONTAINERD", "UBUNTU_CONTAINERD", "WINDOWS_LTSC_CONTAINERD"}
	diskTypes       = []string{"pd-standard", "pd-balanced", "pd-ssd", "hyperdisk-balanced"}
)

func (v *validator) clusters() {
	s := &v.f.Spec
	if len(s.Clusters) == 0 {
		v.errorf("spec.clusters", "", "at least one cluster is required")
	} else if len(s.Clusters) == 1 {
		v.warnf("spec.clusters", "add a second cluster to federate", "a federation of one cluster has no peers")
	}
	names := map[string]int{}
	subnets := map[string]int{}
	for i := range s.Clusters {
		c := &s.Clusters[i]
		p := fmt.Sprintf("spec.clusters[%d]", i)
		v.name(p+".name", c.Name, 40, gceRule+"; GKE allows 40 characters")
		if j, dup := names[c.Name]; dup && c.Name != "" {
			v.errorf(p+".name", "cluster names are the mesh's cluster names and must be unique across projects", "duplicate cluster %q (also spec.clusters[%d])", c.Name, j)
		}
		names[c.Name] = i
		if v.written(p + ".project") {
			v.project(p+".project", c.Project)
		}
		if c.Location == "" {
			v.errorf(p+".location", "", "is required")
		} else if !regionName.MatchString(c.Location) && !IsZone(c.Location) {
			v.errorf(p+".location", "a region (us-west2) or a zone (us-west2-a)", "%q is not a valid location", c.Location)
		}
		if c.Subnet == "" {
			v.errorf(p+".subnet", "", "is required")
		} else if sub, ok := v.subnet(c.Subnet); !ok {
			v.errorf(p+".subnet", v.subnetHint(c.Subnet), "subnet %q is not in spec.network.subnets", c.Subnet)
		} else {
			if c.Location != "" && sub.Region != RegionOf(c.Location) {
				v.errorf(p+".subnet", "a cluster's subnet must be in the cluster's region", "subnet %q is in %s, but the cluster is in %s", c.Subnet, sub.Region, RegionOf(c.Location))
			}
			if sub.PodRange == nil {
				v.errorf(p+".subnet", "add podRange to the subnet", "subnet %q has no pod range", c.Subnet)
			}
			if sub.ServiceRange == nil {
				v.errorf(p+".subnet", "add serviceRange to the subnet", "subnet %q has no service range", c.Subnet)
			}
			if j, dup := subnets[c.Subnet]; dup {
				v.errorf(p+".subnet", "give each cluster its own subnet with its own secondary ranges", "subnet %q is already used by spec.clusters[%d]", c.Subnet, j)
			}
			subnets[c.Subnet] = i
		}
		if pr, ok := v.cidr(p+".controlPlaneRange", c.ControlPlaneRange); ok {
			switch {
			case pr.Bits() != 28:
				v.errorf(p+".controlPlaneRange", "GKE's private control plane needs exactly a /28", "%s is a /%d", c.ControlPlaneRange, pr.Bits())
			case prefixesOverlap(pr, netip.MustParsePrefix("100.64.0.0/10")):
				v.errorf(p+".controlPlaneRange", "pick an RFC 1918 range such as 172.16.0.0/28", "%s is in RFC 6598 shared address space (100.64.0.0/10)", c.ControlPlaneRange)
			case prefixesOverlap(pr, netip.MustParsePrefix("172.17.0.0/16")):
				v.errorf(p+".controlPlaneRange", "GKE reserves 172.17.0.0/16 for the container bridge", "%s overlaps 172.17.0.0/16", c.ControlPlaneRange)
			}
		}
		v.namedCIDRs(p+".authorizedNetworks", c.AuthorizedNetworks)
		v.enum(p+".releaseChannel", c.ReleaseChannel, releaseChannels...)
		v.labels(p+".labels", c.Labels)
		if len(c.NodePools) == 0 {
			v.errorf(p+".nodePools", "the default node pool is removed, so add one", "at least one node pool is required")
		}
		pools := map[string]int{}
		for j := range c.NodePools {
			v.nodePool(fmt.Sprintf("%s.nodePools[%d]", p, j), &c.NodePools[j], pools, j)
		}
		v.access(p, c)
		if c.PeerAPIServer != "" {
			if u, err := url.Parse(c.PeerAPIServer); err != nil || u.Scheme != "https" || u.Host == "" {
				v.errorf(p+".peerAPIServer", "e.g. https://192.168.2.2", "%q is not an https URL", c.PeerAPIServer)
			}
		}
		if !Bool(c.WorkloadIdentity) && v.f.Spec.Mesh.ControlPlane == ControlPlaneManaged {
			v.errorf(p+".workloadIdentity", "set workloadIdentity: true", "the managed control plane needs Workload Identity")
		}
		if !Bool(c.NetworkPolicy) {
			for k, ns := range v.f.Spec.Namespaces {
				if Bool(ns.DefaultNetworkPolicy) {
					v.warnf(p+".networkPolicy", "set networkPolicy: true or defaultNetworkPolicy: false", "NetworkPolicy enforcement is off, so spec.namespaces[%d]'s default policies have no effect", k)
					break
				}
			}
		}
	}
	if len(s.Admin.AuthorizedNetworks) == 0 {
		for i, c := range s.Clusters {
			if Bool(c.PrivateEndpoint) && len(c.AuthorizedNetworks) == 0 && c.Access.Via == AccessPrivateEndpoint {
				v.warnf(fmt.Sprintf("spec.clusters[%d].privateEndpoint", i), "add spec.admin.authorizedNetworks (e.g. a bastion subnet), or reach it with access.via: connectGateway",
					"only peers' pods can reach this private control plane, yet the tool is to reach it there")
			}
		}
	}
}

// accessWays are the values of access.via.
var accessWays = []string{AccessConnectGateway, AccessPrivateEndpoint, AccessPublicEndpoint, AccessKubeconfig}

// access checks how a cluster is reached. A defaulted access.via comes from spec.access.via (or
// from kubeconfigContext), which then carries the error.
func (v *validator) access(p string, c *Cluster) {
	field := p + ".access.via"
	if !v.written(field) {
		field = "spec.access.via"
	}
	if v.written(p + ".access.via") {
		v.enum(field, c.Access.Via, accessWays...)
	}
	switch {
	case c.Access.Via == AccessKubeconfig && c.KubeconfigContext == "":
		v.errorf(field, fmt.Sprintf("add %s.kubeconfigContext naming the context, or set %s.access.via to connectGateway", p, p),
			"cluster %q is to be reached through a kubeconfig context, but names none", c.Name)
	case c.Access.Via != AccessKubeconfig && c.KubeconfigContext != "":
		v.errorf(p+".kubeconfigContext", fmt.Sprintf("remove kubeconfigContext, or set %s.access.via: kubeconfig", p),
			"cluster %q is reached via %s, so kubeconfig context %q would never be used", c.Name, c.Access.Via, c.KubeconfigContext)
	case c.Access.Via == AccessPublicEndpoint && Bool(c.PrivateEndpoint):
		v.errorf(field, fmt.Sprintf("set %s.privateEndpoint: false to give the control plane a public address, or use connectGateway", p),
			"cluster %q has no public endpoint (privateEndpoint is true)", c.Name)
	}
}

func (v *validator) nodePool(p string, np *NodePool, seen map[string]int, j int) {
	v.name(p+".name", np.Name, 40, gceRule)
	if k, dup := seen[np.Name]; dup && np.Name != "" {
		v.errorf(p+".name", "", "duplicate node pool %q (also index %d)", np.Name, k)
	}
	seen[np.Name] = j
	if !machineType.MatchString(np.MachineType) {
		v.errorf(p+".machineType", "e.g. e2-standard-4", "%q is not a valid machine type", np.MachineType)
	}
	if a := np.Autoscaling; a != nil {
		if a.Min < 0 {
			v.errorf(p+".autoscaling.min", "", "must not be negative")
		}
		if a.Max < 1 {
			v.errorf(p+".autoscaling.max", "", "must be at least 1")
		}
		if a.Min > a.Max {
			v.errorf(p+".autoscaling", "swap them", "min %d is greater than max %d", a.Min, a.Max)
		}
	}
	if np.ImageType == "COS" || np.ImageType == "UBUNTU" {
		v.errorf(p+".imageType", "use "+np.ImageType+"_CONTAINERD; GKE no longer supports Docker node images", "%q is no longer supported", np.ImageType)
	} else {
		v.enum(p+".imageType", np.ImageType, imageTypes...)
	}
	if np.DiskSizeGB < 10 || np.DiskSizeGB > 65536 {
		v.errorf(p+".diskSizeGB", "between 10 and 65536", "%d is out of range", np.DiskSizeGB)
	}
	v.enum(p+".diskType", np.DiskType, diskTypes...)
	for k, tag := range np.Tags {
		v.name(fmt.Sprintf("%s.tags[%d]", p, k), tag, 63, gceRule)
	}
	if np.ServiceAccount != "" && !emailAddr.MatchString(np.ServiceAccount) {
		v.errorf(p+".serviceAccount", "a service account email, e.g. nodes@my-project.iam.gserviceaccount.com", "%q is not an email address", np.ServiceAccount)
	}
}

func (v *validator) labels(path string, labels map[string]string) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := fmt.Sprintf("%s[%s]", path, k)
		switch {
		case k == "mesh_id" || strings.HasPrefix(k, "asmfed"):
			v.errorf(p, "remove it: the tool sets it", "label %q is reserved", k)
		case !isLabelKey(k):
			v.errorf(p, "label keys are lower-case letters, digits, _ and -, start with a letter, at most 63 characters", "%q is not a valid label key", k)
		case !isLabelValue(labels[k]):
			v.errorf(p, "label values are lower-case letters, digits, _ and -, at most 63 characters", "%q is not a valid label value", labels[k])
		}
	}
}

// ranges checks that no two ranges of the federation overlap: every subnet primary, pod and
// service range, and every control-plane range.
func (v *validator) ranges() {
	type rng struct {
		path string
		p    netip.Prefix
	}
	var all []rng
	add := func(path, value string) {
		if p, err := netip.ParsePrefix(value); err == nil && p.Addr().Is4() {
			all = append(all, rng{path, p.Masked()})
		}
	}
	for i, sub := range v.f.Spec.Network.Subnets {
		p := fmt.Sprintf("spec.network.subnets[%d]", i)
		add(p+".primaryRange", sub.PrimaryRange)
		if sub.PodRange != nil {
			add(p+".podRange.cidr", sub.PodRange.CIDR)
		}
		if sub.ServiceRange != nil {
			add(p+".serviceRange.cidr", sub.ServiceRange.CIDR)
		}
	}
	for i, c := range v.f.Spec.Clusters {
		add(fmt.Sprintf("spec.clusters[%d].controlPlaneRange", i), c.ControlPlaneRange)
	}
	for j := 1; j < len(all); j++ {
		for i := 0; i < j; i++ {
			if prefixesOverlap(all[i].p, all[j].p) {
				v.errorf(all[j].path, "every subnet, pod, service and control-plane range must be distinct", "%s overlaps %s (%s)", all[j].p, all[i].path, all[i].p)
			}
		}
	}
}

func prefixesOverlap(a, b netip.Prefix) bool {
	return a.Contains(b.Addr()) || b.Contains(a.Addr())
}

var (
	egressProtocols  = []string{"HTTP", "HTTPS", "HTTP2", "GRPC", "TLS", "TCP", "MONGO"}
	portProtocols    = []string{"tcp", "udp", "icmp", "sctp", "all"}
	tlsVersions      = []string{"TLSV1_2", "TLSV1_3"}
	reservedNSPrefix = []string{"kube-", "istio-system", "gke-", "gmp-"}
)

func (v *validator) mesh() {
	m := &v.f.Spec.Mesh
	v.enum("spec.mesh.controlPlane", m.ControlPlane, ControlPlaneInCluster, ControlPlaneManaged)
	if len(m.Revision) > 63 || !dnsLabel.MatchString(m.Revision) {
		v.errorf("spec.mesh.revision", "lower-case letters, digits and dashes, at most 63 characters (it is a label value and part of object names)", "%q is not a valid revision", m.Revision)
	}
	if strings.ContainsAny(m.Hub, " \t") || m.Hub == "" {
		v.errorf("spec.mesh.hub", "e.g. docker.io/istio or gcr.io/gke-release/asm", "%q is not a valid image registry", m.Hub)
	}
	if m.MeshID != "" && (len(m.MeshID) > 63 || !isLabelValue(m.MeshID)) {
		v.errorf("spec.mesh.meshID", "it becomes the GKE mesh_id label: lower-case letters, digits, _ and -", "%q is not a valid mesh ID", m.MeshID)
	}
	for i, td := range append([]string{m.TrustDomain}, m.TrustDomainAliases...) {
		p := "spec.mesh.trustDomain"
		if i > 0 {
			p = fmt.Sprintf("spec.mesh.trustDomainAliases[%d]", i-1)
		}
		if td != "" && v.written(p) && !hostName.MatchString(td) {
			v.errorf(p, "a DNS-like name such as my-project.svc.id.goog", "%q is not a valid trust domain", td)
		}
	}
	if v.written("spec.mesh.network") {
		v.name("spec.mesh.network", m.Network, 63, gceRule)
	}
	v.ca()
	v.enum("spec.mesh.mtls", m.MTLS, MTLSStrict, MTLSPermissive)
	v.egress()
	v.egressGateway()
	v.ingress()
	v.managedMesh()
	seen := map[int32]bool{}
	for i, port := range m.WebhookPorts {
		p := fmt.Sprintf("spec.mesh.webhookPorts[%d]", i)
		if port < 1 || port > 65535 {
			v.errorf(p, "", "port %d is out of range", port)
		}
		if seen[port] {
			v.errorf(p, "", "duplicate port %d", port)
		}
		seen[port] = true
	}
	for i, r := range m.CrossClusterPorts {
		v.portRule(fmt.Sprintf("spec.mesh.crossClusterPorts[%d]", i), r)
	}
	for i, o := range m.Overlays {
		v.overlay(fmt.Sprintf("spec.mesh.overlays[%d]", i), o)
	}
}

func (v *validator) portRule(p string, r PortRule) {
	v.enum(p+".protocol", r.Protocol, portProtocols...)
	if (r.Protocol == "icmp" || r.Protocol == "all") && len(r.Ports) > 0 {
		v.errorf(p+".ports", "remove ports or pick tcp, udp or sctp", "protocol %s has no ports", r.Protocol)
	}
	for j, port := range r.Ports {
		pp := fmt.Sprintf("%s.ports[%d]", p, j)
		m := portRange.FindStringSubmatch(port)
		if m == nil {
			v.errorf(pp, "a port (8080) or a range (8080-8090)", "%q is not a port", port)
			continue
		}
		lo, _ := strconv.Atoi(m[1])
		hi := lo
		if m[3] != "" {
			hi, _ = strconv.Atoi(m[3])
		}
		if lo < 1 || hi > 65535 || lo > hi {
			v.errorf(pp, "ports are 1 to 65535, ranges low-high", "%q is out of range", port)
		}
	}
}

func (v *validator) ca() {
	m := &v.f.Spec.Mesh
	ca := &m.CA
	v.enum("spec.mesh.ca.mode", ca.Mode, CAManaged, CAPlugin)
	switch ca.Mode {
	case CAManaged:
		if m.ControlPlane == ControlPlaneInCluster {
			v.errorf("spec.mesh.ca.mode", "use mode: plugin, the default with an in-cluster control plane, or controlPlane: managed",
				"a managed CA (Mesh CA or CA Service) cannot work with an in-cluster control plane: the tool installs upstream Istio's istiod, "+
					"which signs with a root of its own unless given cacerts; only Google's distribution of istiod, with the CA's address, "+
					"the trust domain <fleet project>.svc.id.goog and fleet Workload Identity, uses Google's CA")
		}
		if ca.RootCertFile != "" || ca.RootKeyFile != "" {
			v.errorf("spec.mesh.ca", "remove rootCertFile and rootKeyFile, or set mode: plugin", "root files are only used in plugin mode")
		}
	case CAPlugin:
		if m.ControlPlane == ControlPlaneManaged {
			v.errorf("spec.mesh.ca.mode", "the managed control plane issues certificates from Mesh CA or CA Service: use mode: managed", "a managed control plane cannot use a plug-in CA")
			return
		}
		v.pluginRoot(ca)
	}
}

// pluginRoot checks the plug-in CA's root and key. When they do not exist yet, the error names the
// command that creates them where the file looks for them.
func (v *validator) pluginRoot(ca *CA) {
	const certPath, keyPath = "spec.mesh.ca.rootCertFile", "spec.mesh.ca.rootKeyFile"
	if ca.RootCertFile == "" || ca.RootKeyFile == "" {
		// SetDefaults fills both; an empty one means the caller skipped it.
		v.errorf("spec.mesh.ca", "", "rootCertFile and rootKeyFile are required in plugin mode")
		return
	}
	if v.opts.SkipFiles {
		return
	}
	cert, key := ResolvePath(v.opts.BaseDir, ca.RootCertFile), ResolvePath(v.opts.BaseDir, ca.RootKeyFile)
	certMissing, keyMissing := missing(cert), missing(key)
	switch {
	case certMissing && keyMissing:
		dir := filepath.Dir(cert)
		hint := "create them: kubectl asmfed ca init --out " + shellQuote(dir)
		if filepath.Dir(key) != dir || filepath.Base(cert) != caInitCertFile || filepath.Base(key) != caInitKeyFile {
			refDir := filepath.ToSlash(filepath.Dir(filepath.FromSlash(ca.RootCertFile)))
			hint = fmt.Sprintf("create them with kubectl asmfed ca init --out %s, then set rootCertFile: %s and rootKeyFile: %s",
				shellQuote(dir), path.Join(refDir, caInitCertFile), path.Join(refDir, caInitKeyFile))
		}
		v.errorf(certPath, hint, "the plug-in CA's root %q and key %q (relative to the federation file) do not exist", ca.RootCertFile, ca.RootKeyFile)
	case keyMissing:
		v.errorf(keyPath, "paths are relative to the federation file; restore the root's key: without it no cluster gets an intermediate, and a new root (kubectl asmfed ca init --force) is not trusted by clusters holding intermediates of the old one",
			"file %q does not exist", ca.RootKeyFile)
	case certMissing:
		v.errorf(certPath, "paths are relative to the federation file; restore the root certificate of the key, or create a new root with kubectl asmfed ca init --force",
			"file %q does not exist", ca.RootCertFile)
	default:
		v.keyPair(certPath, ca.RootCertFile, keyPath, ca.RootKeyFile, true)
	}
}

func missing(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// shellQuote quotes a path for a command a user pastes, when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (v *validator) egress() {
	e := &v.f.Spec.Mesh.Egress
	v.enum("spec.mesh.egress.mode", e.Mode, EgressRegistryOnly, EgressAllowAny)
	if e.Mode == EgressAllowAny && len(e.Allow) > 0 {
		v.warnf("spec.mesh.egress.allow", "set mode: REGISTRY_ONLY to block everything else", "the allow-list changes nothing under ALLOW_ANY")
	}
	names := map[string]int{}
	for i, r := range e.Allow {
		p := fmt.Sprintf("spec.mesh.egress.allow[%d]", i)
		if len(r.Name) > 63 || !dnsLabel.MatchString(r.Name) {
			v.errorf(p+".name", "lower-case letters, digits and dashes (it names a ServiceEntry)", "%q is not a valid name", r.Name)
		}
		if j, dup := names[r.Name]; dup {
			v.errorf(p+".name", "name the rules explicitly", "duplicate rule name %q (also spec.mesh.egress.allow[%d])", r.Name, j)
		}
		names[r.Name] = i
		if len(r.Hosts) == 0 {
			v.errorf(p+".hosts", "", "at least one host is required")
		}
		for j, h := range r.Hosts {
			if !hostName.MatchString(h) {
				v.errorf(fmt.Sprintf("%s.hosts[%d]", p, j), "a DNS name, optionally starting with *.", "%q is not a valid host", h)
			}
		}
		if len(r.Ports) == 0 {
			v.errorf(p+".ports", "e.g. - number: 443", "at least one port is required")
		}
		for j, port := range r.Ports {
			pp := fmt.Sprintf("%s.ports[%d]", p, j)
			if port.Number < 1 || port.Number > 65535 {
				v.errorf(pp+".number", "", "port %d is out of range", port.Number)
			}
			v.enum(pp+".protocol", port.Protocol, egressProtocols...)
		}
		for j, a := range r.Addresses {
			if _, err := netip.ParsePrefix(a); err != nil {
				if _, err := netip.ParseAddr(a); err != nil {
					v.errorf(fmt.Sprintf("%s.addresses[%d]", p, j), "an IP address or CIDR range", "%q is not an address", a)
				}
			}
		}
	}
}

func (v *validator) ingress() {
	in := &v.f.Spec.Mesh.Ingress
	if !dnsLabel.MatchString(in.Name) || len(in.Name) > 63 {
		v.errorf("spec.mesh.ingress.name", "lower-case letters, digits and dashes", "%q is not a valid name", in.Name)
	}
	if !Bool(in.Enabled) {
		if in.TLS != nil {
			v.warnf("spec.mesh.ingress.tls", "set enabled: true or remove tls", "the ingress gateway is disabled, so tls has no effect")
		}
		return
	}
	if Bool(in.GlobalAccess) && !Bool(in.InternalLoadBalancer) {
		v.errorf("spec.mesh.ingress.globalAccess", "set internalLoadBalancer: true or globalAccess: false", "global access applies only to internal load balancers")
	}
	for i, h := range in.Hosts {
		if h != "*" && !hostName.MatchString(h) {
			v.errorf(fmt.Sprintf("spec.mesh.ingress.hosts[%d]", i), "a DNS name, *.example.com or *", "%q is not a valid host", h)
		}
	}
	t := in.TLS
	if t == nil {
		return
	}
	p := "spec.mesh.ingress.tls"
	v.enum(p+".mode", t.Mode, TLSSimple, TLSMutual, TLSPassthrough)
	v.enum(p+".minProtocolVersion", t.MinProtocolVersion, tlsVersions...)
	files := t.CertFile != "" || t.KeyFile != ""
	switch t.Mode {
	case TLSPassthrough:
		if t.CredentialName != "" || files || t.CACertFile != "" {
			v.errorf(p, "remove credentialName, certFile, keyFile and caCertFile: the workload terminates TLS", "PASSTHROUGH takes no credential")
		}
	case TLSSimple, TLSMutual:
		switch {
		case t.CredentialName != "" && files:
			v.errorf(p+".credentialName", "use either credentialName or certFile and keyFile", "credentialName and certFile/keyFile are exclusive")
		case t.CredentialName == "" && !files:
			v.errorf(p, "set credentialName to an existing Secret, or certFile and keyFile", "%s needs a credential", t.Mode)
		case files && t.CertFile == "":
			v.errorf(p+".certFile", "", "is required with keyFile")
		case files && t.KeyFile == "":
			v.errorf(p+".keyFile", "", "is required with certFile")
		case files:
			v.keyPair(p+".certFile", t.CertFile, p+".keyFile", t.KeyFile, false)
		}
		if t.CredentialName != "" && (len(t.CredentialName) > 253 || !hostName.MatchString(t.CredentialName)) {
			v.errorf(p+".credentialName", "a Secret name", "%q is not a valid Secret name", t.CredentialName)
		}
		if t.Mode == TLSMutual && files && t.CACertFile == "" {
			v.errorf(p+".caCertFile", "the CA bundle client certificates must chain to", "is required for MUTUAL")
		}
		if t.Mode == TLSSimple && t.CACertFile != "" {
			v.errorf(p+".caCertFile", "set mode: MUTUAL to require client certificates", "is only used with MUTUAL")
		}
		if t.CACertFile != "" {
			v.certBundle(p+".caCertFile", t.CACertFile)
		}
	}
}

func (v *validator) namespaces() {
	seen := map[string]int{}
	for i, ns := range v.f.Spec.Namespaces {
		p := fmt.Sprintf("spec.namespaces[%d]", i)
		switch {
		case ns.Name == "":
			v.errorf(p+".name", "", "is required")
		case len(ns.Name) > 63 || !dnsLabel.MatchString(ns.Name):
			v.errorf(p+".name", "lower-case letters, digits and dashes, at most 63 characters", "%q is not a valid namespace name", ns.Name)
		default:
			for _, r := range reservedNSPrefix {
				if strings.HasPrefix(ns.Name, r) {
					v.errorf(p+".name", "application namespaces cannot be system namespaces", "%q is reserved", ns.Name)
					break
				}
			}
		}
		if j, dup := seen[ns.Name]; dup {
			v.errorf(p+".name", "", "duplicate namespace %q (also spec.namespaces[%d])", ns.Name, j)
		}
		seen[ns.Name] = i
		v.enum(p+".podSecurity", ns.PodSecurity, PodSecurityPrivileged, PodSecurityBaseline, PodSecurityRestricted)
		if ns.PodSecurity == PodSecurityRestricted && Bool(ns.Injection) {
			v.warnf(p+".podSecurity", "use baseline, or install Istio CNI through an overlay", "restricted rejects the sidecar's istio-init container")
		}
	}
}

// addons checks the add-ons: Cloud SQL (validate_cloudsql.go) and Prisma Cloud.
func (v *validator) addons() {
	a := &v.f.Spec.Addons
	v.cloudSQL(a.CloudSQL)
	if pc := a.PrismaCloud; pc != nil {
		p := "spec.addons.prismaCloud"
		if u, err := url.Parse(pc.ConsoleURL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf(p+".consoleURL", "e.g. https://us-west1.cloud.twistlock.com/<tenant>", "%q is not an https URL", pc.ConsoleURL)
		}
		if !hostName.MatchString(pc.ClusterAddress) || strings.HasPrefix(pc.ClusterAddress, "*") {
			v.errorf(p+".clusterAddress", "a host name such as us-west1.cloud.twistlock.com", "%q is not a host name", pc.ClusterAddress)
		}
		if pc.TokenFile == "" {
			v.errorf(p+".tokenFile", "write the console token to a file outside version control and point here", "is required")
		} else {
			v.nonEmptyFile(p+".tokenFile", pc.TokenFile)
		}
		if len(pc.Namespace) > 63 || !dnsLabel.MatchString(pc.Namespace) {
			v.errorf(p+".namespace", "lower-case letters, digits and dashes", "%q is not a valid namespace name", pc.Namespace)
		}
		v.prismaManifest(pc)
	}
}

func (v *validator) hasNamespace(name string) bool {
	for _, ns := range v.f.Spec.Namespaces {
		if ns.Name == name {
			return true
		}
	}
	return false
}

// isLabelKey reports whether s is a Google Cloud label key: a lowercase or other letter, then up to
// 62 lowercase or other letters, numbers, underscores or dashes. As `^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`,
// without the 8 MB and several milliseconds that compiling those Unicode classes cost every start
// of the plugin.
func isLabelKey(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	return s != "" && unicode.In(first, unicode.Ll, unicode.Lo) && isLabelValue(s)
}

// isLabelValue reports whether s is a Google Cloud label value: up to 63 lowercase or other
// letters, numbers, underscores or dashes (`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`).
func isLabelValue(s string) bool {
	n := 0
	for _, r := range s {
		if n++; n > 63 {
			return false
		}
		if r != '_' && r != '-' && !unicode.In(r, unicode.Ll, unicode.Lo, unicode.N) {
			return false
		}
	}
	return true
}
