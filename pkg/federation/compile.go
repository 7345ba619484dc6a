package federation

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Limits of Google Cloud the compiler respects or warns about.
const (
	// maxTargetTags is the most target tags one firewall rule may have; longer lists are split.
	maxTargetTags = 70
	// maxAuthorizedNetworks is the most master authorized networks GKE accepts on a cluster with
	// a public endpoint; clusters with only a private endpoint accept maxAuthorizedNetworksPrivate.
	maxAuthorizedNetworks        = 50
	maxAuthorizedNetworksPrivate = 100
	// FirewallPriority is the priority of every derived rule: the Compute default, above the
	// implied deny-all and below anything an administrator adds to override it.
	FirewallPriority = 1000
)

// Compile derives the desired resource set of a defaulted, validated federation. It does no I/O:
// what it cannot know (project numbers missing from facts) becomes a placeholder listed in
// Desired.Unresolved. It returns an error only for input that validation should have rejected,
// naming the field.
func Compile(f *v1alpha1.Federation, facts Facts) (*Desired, error) {
	return compile(f, facts, true)
}

// CompileGoogleCloud is Compile without the clusters' Kubernetes objects (every
// Desired.Clusters[i].Objects is empty): what the Google Cloud side reads and plans depends on
// nothing else, and those objects, a reader account and a remote secret for every ordered pair of
// clusters, are most of the work of compiling a large federation (40,200 objects for 100
// clusters). AddObjects adds them to its result.
func CompileGoogleCloud(f *v1alpha1.Federation, facts Facts) (*Desired, error) {
	return compile(f, facts, false)
}

func compile(f *v1alpha1.Federation, facts Facts, objects bool) (*Desired, error) {
	if f == nil {
		return nil, fmt.Errorf("compile federation: nil federation")
	}
	c := &compiler{
		f:          f,
		spec:       &f.Spec,
		fed:        f.Metadata.Name,
		facts:      facts,
		unresolved: map[string]bool{},
		noObjects:  !objects,
	}
	if c.fed == "" {
		return nil, fmt.Errorf("metadata.name: empty federation name (run validate first)")
	}
	if !ValidFederationName(c.fed) {
		return nil, fmt.Errorf("metadata.name: %q cannot name a federation: use at most %d lower-case letters, digits and single dashes, starting with a letter (generated names end the federation name with %q)",
			c.fed, maxFederationName, nameSeparator)
	}
	if err := c.index(); err != nil {
		return nil, err
	}
	// The remote-secret pairs, n(n-1) of them and half the work of a large federation's Google
	// Cloud side, depend on the clusters alone: they are made on another processor meanwhile.
	secrets := make(chan []RemoteSecret, 1)
	go func() { secrets <- c.remoteSecrets() }()
	d := &Desired{Federation: c.fed, FleetProject: c.spec.FleetProject}
	var err error
	if d.Mesh, err = c.mesh(); err != nil {
		return nil, err
	}
	d.Network, d.Subnets = c.network()
	if d.Bastion, err = c.bastion(); err != nil {
		return nil, err
	}
	c.bastionVM = d.Bastion
	if d.Clusters, err = c.clusterDesired(d.Mesh); err != nil {
		return nil, err
	}
	if d.FirewallRules, err = c.firewallRules(); err != nil {
		return nil, err
	}
	if d.NATs, err = c.nats(); err != nil {
		return nil, err
	}
	d.RemoteSecrets = <-secrets
	d.APIs = c.apis()
	d.SharedVPC = c.sharedVPC()
	d.IAMBindings = c.iamBindings()
	d.FleetMemberships = c.fleetMemberships()
	d.CallerRoles = c.clusterAccess(d)
	d.MeshFeature = c.meshFeature(d.FleetMemberships)
	d.CloudSQL = c.cloudSQL(d.Clusters)
	if err := c.clusterObjects(d); err != nil {
		return nil, err
	}
	if len(c.unresolved) > 0 {
		d.Unresolved = slices.Sorted(maps.Keys(c.unresolved))
	}
	d.Warnings = c.warnings
	d.emptyNotNull()
	if err := checkNames(d); err != nil {
		return nil, err
	}
	return d, nil
}

// emptyNotNull makes absent lists [] rather than null in JSON, so consumers need no null checks.
func (d *Desired) emptyNotNull() {
	if d.NATs == nil {
		d.NATs = []NAT{}
	}
	if d.RemoteSecrets == nil {
		d.RemoteSecrets = []RemoteSecret{}
	}
	if d.FirewallRules == nil {
		d.FirewallRules = []FirewallRule{}
	}
	if d.IAMBindings == nil {
		d.IAMBindings = []IAMBinding{}
	}
	if d.CallerRoles == nil {
		d.CallerRoles = []CallerRole{}
	}
	for i := range d.Clusters {
		if d.Clusters[i].Objects == nil {
			d.Clusters[i].Objects = []KubeObject{}
		}
	}
}

// Resolved reports whether every placeholder has been replaced by a live value.
func (d *Desired) Resolved() bool { return len(d.Unresolved) == 0 }

type compiler struct {
	f          *v1alpha1.Federation
	spec       *v1alpha1.FederationSpec
	fed        string
	facts      Facts
	unresolved map[string]bool
	warnings   []string
	// noObjects leaves out the clusters' Kubernetes objects (CompileGoogleCloud).
	noObjects bool

	subnets  map[string]*v1alpha1.Subnet
	clusters []*clusterInfo // sorted by name
	regions  map[string]bool
	// bastionVM is the compiled bastion, nil without one: the clusters' authorized networks and
	// the firewall rules follow from it.
	bastionVM *Bastion
	// far and peerNets are what every cluster of a region, and every peer of a cluster, share:
	// made once (farPeers, peerNetworkOf).
	far      map[string]string
	peerNets map[*clusterInfo]peerNetwork
}

type clusterInfo struct {
	spec   *v1alpha1.Cluster
	field  string // e.g. spec.clusters[2]
	region string
	subnet *v1alpha1.Subnet
	tags   []string
}

func (c *compiler) index() error {
	c.subnets = map[string]*v1alpha1.Subnet{}
	for i := range c.spec.Network.Subnets {
		s := &c.spec.Network.Subnets[i]
		c.subnets[s.Name] = s
	}
	if len(c.spec.Clusters) == 0 {
		return fmt.Errorf("spec.clusters: no clusters (a federation needs at least one)")
	}
	c.regions = map[string]bool{}
	seen := map[string]bool{}
	for i := range c.spec.Clusters {
		cl := &c.spec.Clusters[i]
		field := fmt.Sprintf("spec.clusters[%d]", i)
		if seen[cl.Name] {
			return fmt.Errorf("%s.name: duplicate cluster name %q", field, cl.Name)
		}
		seen[cl.Name] = true
		sub := c.subnets[cl.Subnet]
		if sub == nil {
			return fmt.Errorf("%s.subnet: subnet %q is not in spec.network.subnets", field, cl.Subnet)
		}
		if sub.PodRange == nil || sub.ServiceRange == nil {
			return fmt.Errorf("%s.subnet: subnet %q has no podRange or serviceRange, which a cluster needs", field, cl.Subnet)
		}
		if cl.Project == "" {
			return fmt.Errorf("%s.project: empty (apply defaults before compiling)", field)
		}
		info := &clusterInfo{spec: cl, field: field, region: v1alpha1.RegionOf(cl.Location), subnet: sub}
		tags := map[string]bool{}
		for _, np := range cl.NodePools {
			for _, t := range np.Tags {
				tags[t] = true
			}
		}
		if len(tags) == 0 {
			return fmt.Errorf("%s.nodePools: no network tags (apply defaults before compiling)", field)
		}
		info.tags = slices.Sorted(maps.Keys(tags))
		c.regions[info.region] = true
		c.clusters = append(c.clusters, info)
	}
	sort.Slice(c.clusters, func(i, j int) bool { return c.clusters[i].spec.Name < c.clusters[j].spec.Name })

	owner := map[string]string{}
	for _, ci := range c.clusters {
		for _, t := range ci.tags {
			if o, ok := owner[t]; ok {
				c.warnings = append(c.warnings, fmt.Sprintf(
					"network tag %q is on nodes of clusters %s and %s: firewall rules cannot tell them apart, so mesh rules open more than the peers' nodes", t, o, ci.spec.Name))
				continue
			}
			owner[t] = ci.spec.Name
		}
	}
	return nil
}

// number returns the project number as text, or a placeholder recorded as unresolved.
func (c *compiler) number(project string) (string, bool) {
	if project == c.spec.FleetProject && c.spec.FleetProjectNumber > 0 {
		return strconv.FormatInt(c.spec.FleetProjectNumber, 10), true
	}
	if n, ok := c.facts.ProjectNumbers[project]; ok && n > 0 {
		return strconv.FormatInt(n, 10), true
	}
	c.unresolved[project] = true
	return placeholderFor(project), false
}

func (c *compiler) mesh() (MeshIdentity, error) {
	m := c.spec.Mesh
	fleet := c.spec.FleetProject
	if n, ok := c.facts.ProjectNumbers[fleet]; ok && c.spec.FleetProjectNumber > 0 && n != c.spec.FleetProjectNumber {
		return MeshIdentity{}, fmt.Errorf("spec.fleetProjectNumber: %d, but project %q has number %d (fix the number or remove it to read it at plan time)",
			c.spec.FleetProjectNumber, fleet, n)
	}
	id := MeshIdentity{
		MeshID:             m.MeshID,
		TrustDomain:        m.TrustDomain,
		TrustDomainAliases: sortedUnique(m.TrustDomainAliases),
		Network:            m.Network,
		ControlPlane:       m.ControlPlane,
		CA:                 m.CA.Mode,
		Revision:           m.Revision,
		Hub:                m.Hub,
		Tag:                m.Tag,
	}
	if m.ControlPlane == v1alpha1.ControlPlaneManaged {
		// Google picks the managed control plane's release; each cluster's revision is its
		// channel's (ClusterDesired.Revision).
		id.Revision, id.Hub, id.Tag = "", "", ""
	}
	var why []string
	switch {
	case m.MeshID == "":
		num, ok := c.number(fleet)
		id.MeshID = "proj-" + num
		id.MeshIDUnresolved = !ok
		why = append(why, fmt.Sprintf("mesh ID proj-<number> of fleet project %s, the convention Cloud Service Mesh uses to group the fleet's clusters", fleet))
	case c.spec.FleetProjectNumber > 0 && m.MeshID == fmt.Sprintf("proj-%d", c.spec.FleetProjectNumber):
		why = append(why, fmt.Sprintf("mesh ID proj-<number> of fleet project %s, the convention Cloud Service Mesh uses to group the fleet's clusters", fleet))
	default:
		why = append(why, "mesh ID set in the file")
	}
	why = append(why,
		"one trust domain (the fleet's workload pool unless set) so every cluster accepts the others' workload certificates",
		rootOfTrust(m),
		fmt.Sprintf("one Istio network %q because every cluster is on VPC %s and pods reach each other directly", id.Network, c.spec.Network.Name))
	id.Reason = strings.Join(why, "; ")
	if id.TrustDomain == "" {
		return MeshIdentity{}, fmt.Errorf("spec.mesh.trustDomain: empty (apply defaults before compiling)")
	}
	return id, nil
}

// rootOfTrust says where the one root every cluster's workload certificates chain to comes from.
func rootOfTrust(m v1alpha1.Mesh) string {
	if m.CA.Mode == v1alpha1.CAPlugin {
		return fmt.Sprintf("one root of trust, the plug-in CA's %s: every cluster's istiod signs with an intermediate of it (cacerts)", m.CA.RootCertFile)
	}
	return "one root of trust: Google's CA issues the workload certificates of every cluster"
}

// network derives the VPC and its subnets, each with the ownership marker in its description.
func (c *compiler) network() (Network, []Subnet) {
	n := c.spec.Network
	marker := DescriptionMarker(c.fed)
	reason := "the custom-mode VPC of spec.network; every cluster's nodes, pods and services live on it"
	net := Network{Address: plan.NetworkAddress(n.Project, n.Name), Project: n.Project, Name: n.Name, RoutingMode: "REGIONAL",
		Description: marker + ": the VPC every cluster of the federation is attached to", Reason: reason}
	usedBy := map[string][]string{}
	for _, ci := range c.clusters {
		usedBy[ci.subnet.Name] = append(usedBy[ci.subnet.Name], ci.spec.Name)
	}
	subnets := []Subnet{}
	for _, sub := range n.Subnets {
		s := Subnet{Address: plan.SubnetworkAddress(n.Project, sub.Region, sub.Name), Project: n.Project, Region: sub.Region, Name: sub.Name,
			Network: c.vpc(), PrimaryRange: sub.PrimaryRange, SecondaryRanges: []SecondaryRange{}, PrivateGoogleAccess: v1alpha1.Bool(sub.PrivateGoogleAccess)}
		for _, r := range []*v1alpha1.SecondaryRange{sub.PodRange, sub.ServiceRange} {
			if r != nil {
				s.SecondaryRanges = append(s.SecondaryRanges, SecondaryRange{Name: r.Name, CIDR: r.CIDR})
			}
		}
		sort.Slice(s.SecondaryRanges, func(i, j int) bool { return s.SecondaryRanges[i].Name < s.SecondaryRanges[j].Name })
		s.Reason = fmt.Sprintf("subnet %s of spec.network in %s", sub.Name, sub.Region)
		if users := usedBy[sub.Name]; len(users) > 0 {
			s.Reason += fmt.Sprintf(": nodes of %s, with pod and service secondary ranges", strings.Join(users, ", "))
		}
		s.Description = marker + ": " + s.Reason
		subnets = append(subnets, s)
	}
	sort.Slice(subnets, func(i, j int) bool { return subnets[i].Address < subnets[j].Address })
	return net, subnets
}

// meshFeature is the fleet servicemesh feature of a managed control plane, with automatic
// management for every member.
func (c *compiler) meshFeature(members []FleetMembership) *MeshFeature {
	if c.spec.Mesh.ControlPlane != v1alpha1.ControlPlaneManaged || len(members) == 0 {
		return nil
	}
	fleet := c.spec.FleetProject
	f := &MeshFeature{Address: plan.FeatureAddress(fleet, MeshFeatureName), Project: fleet, Name: MeshFeatureName, Management: "MANAGEMENT_AUTOMATIC"}
	var names []string
	for _, m := range members {
		num, _ := c.number(m.Project)
		f.Memberships = append(f.Memberships, fmt.Sprintf("projects/%s/locations/%s/memberships/%s", num, m.Location, m.Name))
		names = append(names, m.Name)
	}
	sort.Strings(f.Memberships)
	f.Reason = fmt.Sprintf("mesh.controlPlane is managed: Google runs the control plane of %s through the fleet's servicemesh feature with automatic management (no in-cluster istiod)", strings.Join(names, ", "))
	return f
}

// MeshFeatureName is the fleet feature of the managed control plane.
const MeshFeatureName = "servicemesh"

func (c *compiler) vpc() string {
	return fmt.Sprintf("projects/%s/global/networks/%s", c.spec.Network.Project, c.spec.Network.Name)
}

func (c *compiler) subnetwork(region, name string) string {
	return fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", c.spec.Network.Project, region, name)
}

func (c *compiler) clusterDesired(mesh MeshIdentity) ([]ClusterDesired, error) {
	bastionRegion := ""
	if b := c.spec.Admin.Bastion; b != nil {
		bastionRegion = v1alpha1.RegionOf(b.Zone)
	}
	var out []ClusterDesired
	for _, ci := range c.clusters {
		cl := ci.spec
		d := ClusterDesired{
			Address:           plan.ClusterAddress(cl.Project, cl.Location, cl.Name),
			Name:              cl.Name,
			IstioClusterName:  cl.Name,
			Project:           cl.Project,
			Location:          cl.Location,
			Region:            ci.region,
			Network:           mesh.Network,
			VPC:               c.vpc(),
			Subnetwork:        c.subnetwork(ci.subnet.Region, ci.subnet.Name),
			PodRange:          ci.subnet.PodRange.CIDR,
			ServiceRange:      ci.subnet.ServiceRange.CIDR,
			PodRangeName:      ci.subnet.PodRange.Name,
			ServiceRangeName:  ci.subnet.ServiceRange.Name,
			ControlPlaneRange: cl.ControlPlaneRange,
			NodeTags:          ci.tags,
			PrivateEndpoint:   v1alpha1.Bool(cl.PrivateEndpoint),
			SubnetAddress:     plan.SubnetworkAddress(c.spec.Network.Project, ci.subnet.Region, ci.subnet.Name),
			NetworkPolicy:     v1alpha1.Bool(cl.NetworkPolicy),
			ShieldedNodes:     v1alpha1.Bool(cl.ShieldedNodes),
			ReleaseChannel:    cl.ReleaseChannel,
			Reason:            fmt.Sprintf("private cluster %s of the federation in %s", cl.Name, cl.Location),
		}
		for _, np := range cl.NodePools {
			var min, max int32
			if np.Autoscaling != nil {
				min, max = np.Autoscaling.Min, np.Autoscaling.Max
			}
			d.NodePools = append(d.NodePools, NodePool{
				Address:     plan.NodePoolAddress(cl.Project, cl.Location, cl.Name, np.Name),
				Name:        np.Name,
				MachineType: np.MachineType, ImageType: np.ImageType, DiskSizeGB: np.DiskSizeGB, DiskType: np.DiskType,
				Tags: np.Tags, ServiceAccount: np.ServiceAccount, MinNodes: min, MaxNodes: max,
				Reason: fmt.Sprintf("node pool %s of %s (the default node pool is never created)", np.Name, cl.Name),
			})
		}
		if v1alpha1.Bool(cl.WorkloadIdentity) {
			d.WorkloadPool = cl.Project + ".svc.id.goog"
		}
		if mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
			rev, err := managedRevision(cl.ReleaseChannel)
			if err != nil {
				return nil, fmt.Errorf("%s.releaseChannel: %w", ci.field, err)
			}
			d.Revision = rev
		}
		man, fromPeers, err := c.authorizedNetworks(ci)
		if err != nil {
			return nil, err
		}
		d.MasterAuthorizedNetworks = man
		peers := 0
		if c.inClusterIstiod() {
			peers = len(c.clusters) - 1
		}
		if w := authorizedNetworksWarning(cl.Name, d.PrivateEndpoint, len(man), fromPeers, peers); w != "" {
			c.warnings = append(c.warnings, w)
		}
		d.MasterGlobalAccess, d.MasterGlobalAccessReason = c.globalAccess(ci, bastionRegion)

		d.Labels = map[string]string{}
		for k, v := range cl.Labels {
			d.Labels[k] = v
		}
		d.Labels[labelMeshID] = mesh.MeshID
		d.LabelsUnresolved = mesh.MeshIDUnresolved
		d.Labels[LabelManagedBy] = ManagedByValue
		d.Labels[LabelFederation] = c.fed
		out = append(out, d)
	}
	return out, nil
}

func (c *compiler) globalAccess(ci *clusterInfo, bastionRegion string) (bool, string) {
	var why []string
	far := c.farPeers(ci.region)
	if far != "" && c.inClusterIstiod() {
		why = append(why, "istiod of peers in other regions, "+far+", reaches this private endpoint from "+ci.region)
	}
	if bastionRegion != "" && bastionRegion != ci.region {
		why = append(why, fmt.Sprintf("the bastion %s in %s runs kubectl against it", c.spec.Admin.Bastion.Name, bastionRegion))
	}
	if len(why) == 0 {
		if far != "" {
			return false, managedNoGlobalAccess
		}
		return false, fmt.Sprintf("every peer is in %s, so the private endpoint needs no access from other regions", ci.region)
	}
	return true, "the private endpoint only accepts clients of its own region unless global access is on: " + strings.Join(why, "; ")
}

// farPeers lists the clusters outside region, as "name (region)" in name order: the same list
// for every cluster of a region, so it is made once per region.
func (c *compiler) farPeers(region string) string {
	if far, ok := c.far[region]; ok {
		return far
	}
	var far []string
	for _, p := range c.clusters {
		if p.region != region {
			far = append(far, p.spec.Name+" ("+p.region+")")
		}
	}
	if c.far == nil {
		c.far = map[string]string{}
	}
	c.far[region] = strings.Join(far, ", ")
	return c.far[region]
}

// peerNetwork is a cluster's pod range as its peers authorise it, made once per cluster rather
// than once per pair.
type peerNetwork struct {
	peer, name, cidr, reason string
	prefix                   netip.Prefix
	err                      error
}

// peerNetworkOf is the authorized network a cluster's pod range adds to each of its peers.
func (c *compiler) peerNetworkOf(p *clusterInfo) peerNetwork {
	if n, ok := c.peerNets[p]; ok {
		return n
	}
	n := peerNetwork{peer: p.spec.Name, name: p.spec.Name + "-pods",
		reason: "pod range of peer " + p.spec.Name + ": its istiod reads this API server through the remote secret, from pod IPs"}
	if pr, err := netip.ParsePrefix(p.subnet.PodRange.CIDR); err != nil {
		n.err = fmt.Errorf("spec.network.subnets[%s].podRange.cidr: %q is not a CIDR: %w", p.subnet.Name, p.subnet.PodRange.CIDR, err)
	} else {
		n.prefix = pr.Masked()
		n.cidr = n.prefix.String()
	}
	if c.peerNets == nil {
		c.peerNets = map[*clusterInfo]peerNetwork{}
	}
	c.peerNets[p] = n
	return n
}

// authorizedNetworks lists the networks a cluster's API server admits: the admin networks, the
// cluster's own, the bastion's and its peers' pod ranges. The peers' ranges are merged without
// loss (mergePrefixes): the entries admit exactly the addresses of their union, as GKE accepts at
// most 50 or 100 entries and a peer per entry would put N-1 on every cluster of N. A peer's range
// inside an admin, own or bastion entry is not listed again; that entry's reason names the peer.
func (c *compiler) authorizedNetworks(ci *clusterInfo) (_ []AuthorizedNetwork, fromPeers int, _ error) {
	byCIDR := map[string]*AuthorizedNetwork{}
	add := func(field, name, cidr, reason string) error {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return fmt.Errorf("%s: %q is not a CIDR: %w", field, cidr, err)
		}
		key := p.Masked().String()
		if e := byCIDR[key]; e != nil {
			e.Reason += "; " + reason
			return nil
		}
		byCIDR[key] = &AuthorizedNetwork{DisplayName: name, CIDR: key, Reason: reason}
		return nil
	}
	for i, n := range c.spec.Admin.AuthorizedNetworks {
		if err := add(fmt.Sprintf("spec.admin.authorizedNetworks[%d].cidr", i), n.Name, n.CIDR,
			"admin network: administrators and automation run kubectl from it"); err != nil {
			return nil, 0, err
		}
	}
	for i, n := range ci.spec.AuthorizedNetworks {
		if err := add(fmt.Sprintf("%s.authorizedNetworks[%d].cidr", ci.field, i), n.Name, n.CIDR,
			"listed in the cluster's authorizedNetworks"); err != nil {
			return nil, 0, err
		}
	}
	if b := bastionNetwork(c.bastionVM, byCIDR); b != nil {
		byCIDR[b.CIDR] = b
	}
	// Each CIDR parsed once rather than at every comparison.
	entries := make([]authorizedEntry, 0, len(byCIDR)+8)
	for key, e := range byCIDR {
		entries = append(entries, authorizedEntry{netip.MustParsePrefix(key), e})
	}
	fixed := len(entries)
	slices.SortFunc(entries, func(a, b authorizedEntry) int { return comparePrefixes(a.prefix, b.prefix) })

	var peers []peerNetwork
	if c.inClusterIstiod() {
		peers = make([]peerNetwork, 0, len(c.clusters))
	}
	for _, p := range c.clusters {
		if p == ci || !c.inClusterIstiod() {
			continue
		}
		n := c.peerNetworkOf(p)
		if n.err != nil {
			return nil, 0, n.err
		}
		if e := coveringEntry(entries[:fixed], n.prefix); e != nil {
			if e.prefix == n.prefix {
				e.network.Reason += "; " + n.reason
			} else {
				e.network.Reason += fmt.Sprintf("; it holds %s, the pod range of peer %s, whose istiod reads this API server through the remote secret, from pod IPs", n.cidr, p.spec.Name)
			}
			continue
		}
		peers = append(peers, n)
	}
	slices.SortFunc(peers, func(a, b peerNetwork) int {
		if c := comparePrefixes(a.prefix, b.prefix); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	prefixes := make([]netip.Prefix, len(peers))
	for i, n := range peers {
		prefixes[i] = n.prefix
	}
	// Both lists are in address order, so each merged prefix's peers follow one another.
	rest := peers
	for _, m := range mergePrefixes(prefixes) {
		k := 0
		for k < len(rest) && m.Contains(rest[k].prefix.Addr()) {
			k++
		}
		entries = append(entries, authorizedEntry{m, peerEntry(m, rest[:k])})
		rest = rest[k:]
	}
	slices.SortFunc(entries, func(a, b authorizedEntry) int { return comparePrefixes(a.prefix, b.prefix) })
	out := make([]AuthorizedNetwork, len(entries))
	for i, e := range entries {
		out[i] = *e.network
	}
	return out, len(entries) - fixed, nil
}

// authorizedNetworksWarning says, when a cluster has more master authorized networks than GKE
// accepts, where they come from and how many must go. The peers' pod ranges are already merged as
// far as they can be without admitting any other address.
func authorizedNetworksWarning(cluster string, privateEndpoint bool, total, fromPeers, peers int) string {
	limit, endpoint := maxAuthorizedNetworks, "with a public endpoint"
	if privateEndpoint {
		limit, endpoint = maxAuthorizedNetworksPrivate, "with only a private endpoint"
	}
	if total <= limit {
		return ""
	}
	return fmt.Sprintf("cluster %s: %d master authorized networks, %d more than the %d GKE accepts on a cluster %s: "+
		"%d from the admin networks, the cluster's own authorizedNetworks and the bastion, and %d for the pod ranges of its %d peers, merged wherever two are halves of one range; "+
		"remove %d: list fewer, wider admin or cluster networks, or give the peers pod ranges that are the aligned halves of wider ranges (consecutive /16s from 10.64.0.0/16, say), which merge into fewer entries",
		cluster, total, total-limit, limit, endpoint, total-fromPeers, fromPeers, peers, total-limit)
}

// comparePrefixes orders prefixes by address, then the wider first.
func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// authorizedEntry is an authorized network with its CIDR parsed.
type authorizedEntry struct {
	prefix  netip.Prefix
	network *AuthorizedNetwork
}

// coveringEntry is the entry of p itself, or else the first of entries that holds every address
// of p, or nil.
func coveringEntry(entries []authorizedEntry, p netip.Prefix) *authorizedEntry {
	var covering *authorizedEntry
	for i, e := range entries {
		if e.prefix == p {
			return &entries[i]
		}
		if covering == nil && e.prefix.Bits() <= p.Bits() && e.prefix.Contains(p.Addr()) {
			covering = &entries[i]
		}
	}
	return covering
}

func (c *compiler) firewallRules() ([]FirewallRule, error) {
	var out []FirewallRule
	allTags := map[string]bool{}
	var cpRanges []string
	for _, ci := range c.clusters {
		for _, t := range ci.tags {
			allTags[t] = true
		}
		cpRanges = append(cpRanges, ci.spec.ControlPlaneRange)
	}
	tags := slices.Sorted(maps.Keys(allTags))

	cp, err := normalizeCIDRs("spec.clusters[].controlPlaneRange", cpRanges)
	if err != nil {
		return nil, err
	}
	if ports, reason := c.webhookPorts(); len(ports) > 0 {
		out = append(out, c.rules("webhooks", cp, tags, []Allowed{{IPProtocol: "tcp", Ports: ports}}, reason)...)
	}

	crossAllowed, err := allowedFrom(c.spec.Mesh.CrossClusterPorts)
	if err != nil {
		return nil, err
	}
	// A cluster's peers carry every tag but those on its nodes alone: counting the clusters of
	// each tag once spares a pass over every pair.
	tagClusters := map[string]int{}
	names := make([]string, len(c.clusters))
	for i, ci := range c.clusters {
		names[i] = ci.spec.Name
		for _, t := range ci.tags {
			tagClusters[t]++
		}
	}
	for i, ci := range c.clusters {
		if len(c.clusters) == 1 {
			break
		}
		peerTags := make([]string, 0, len(tags))
		for _, t := range tags {
			if _, own := slices.BinarySearch(ci.tags, t); !own || tagClusters[t] > 1 {
				peerTags = append(peerTags, t)
			}
		}
		peers := slices.Concat(names[:i], names[i+1:])
		src, err := normalizeCIDRs(fmt.Sprintf("spec.network.subnets[%s].podRange.cidr", ci.subnet.Name), []string{ci.subnet.PodRange.CIDR})
		if err != nil {
			return nil, err
		}
		out = append(out, c.rules("mesh-from-"+ci.spec.Name, src, peerTags, crossAllowed,
			"pods of "+ci.spec.Name+" ("+src[0]+") reach workloads of "+strings.Join(peers, ", ")+" directly: one VPC, one Istio network, and pod IPs are alias IPs of the peers' nodes")...)
	}

	if admin := c.spec.Admin.AuthorizedNetworks; len(admin) > 0 {
		var cidrs, names []string
		for _, n := range admin {
			cidrs = append(cidrs, n.CIDR)
			names = append(names, n.Name)
		}
		src, err := normalizeCIDRs("spec.admin.authorizedNetworks[].cidr", cidrs)
		if err != nil {
			return nil, err
		}
		out = append(out, c.rules("admin", src, tags, []Allowed{{IPProtocol: "tcp"}},
			fmt.Sprintf("admin networks %s reach every node (kubectl exec, port-forward and debugging through the private endpoint)", strings.Join(names, ", ")))...)
	}
	out = append(out, c.bastionRules(c.bastionVM)...)
	if err := c.distinctNames(out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// distinctNames refuses a federation whose firewall rules would share a name: cluster a with
// its rule split in chunks (mesh-from-a-1) beside a cluster named a-1, or two long names cut to
// the same hash. Apply would otherwise write one rule over the other.
func (c *compiler) distinctNames(rules []FirewallRule) error {
	by := map[string]string{}
	for _, r := range rules {
		if other, dup := by[r.Name]; dup {
			return fmt.Errorf("%s: firewall rule name %s is generated for both %s and %s (rename the cluster so that no cluster name is another's followed by -<number>)",
				c.fieldOf(r.Reason, other), r.Name, other, r.Reason)
		}
		by[r.Name] = r.Reason
	}
	return nil
}

// fieldOf names the cluster field behind a generated rule, from the reasons of the two rules
// whose names collide.
func (c *compiler) fieldOf(reasons ...string) string {
	field := "spec.clusters[].name"
	for _, ci := range c.clusters { // sorted by name: the last match is the longer name, a-1 rather than a
		for _, r := range reasons {
			if strings.HasPrefix(r, "pods of "+ci.spec.Name+" ") {
				field = ci.field + ".name"
			}
		}
	}
	return field
}

// rules builds one rule, or several when the target tags exceed what a rule may hold.
func (c *compiler) rules(kind string, src, tags []string, allowed []Allowed, reason string) []FirewallRule {
	chunks := [][]string{tags}
	if len(tags) > maxTargetTags {
		chunks = nil
		for i := 0; i < len(tags); i += maxTargetTags {
			chunks = append(chunks, tags[i:min(i+maxTargetTags, len(tags))])
		}
	}
	var out []FirewallRule
	for i, chunk := range chunks {
		name := firewallName(c.fed, kind)
		if len(chunks) > 1 {
			name = firewallName(c.fed, fmt.Sprintf("%s-%d", kind, i+1))
		}
		out = append(out, FirewallRule{
			Address:      plan.FirewallAddress(c.spec.Network.Project, name),
			Name:         name,
			Project:      c.spec.Network.Project,
			Network:      c.spec.Network.Name,
			Direction:    "INGRESS",
			Priority:     FirewallPriority,
			SourceRanges: src,
			TargetTags:   chunk,
			Allowed:      allowed,
			Description:  DescriptionMarker(c.fed) + ": " + reason,
			Reason:       reason,
		})
	}
	return out
}

// DescriptionMarker is the ownership mark at the start of the description of resources without
// labels; only resources that carry it are ever updated or deleted.
func DescriptionMarker(federation string) string {
	return fmt.Sprintf("%s=%s federation=%s", LabelManagedBy, ManagedByValue, federation)
}

func allowedFrom(rules []v1alpha1.PortRule) ([]Allowed, error) {
	var out []Allowed
	for i, r := range rules {
		proto := strings.ToLower(r.Protocol)
		switch proto {
		case "tcp", "udp", "sctp", "icmp", "all":
		default:
			return nil, fmt.Errorf("spec.mesh.crossClusterPorts[%d].protocol: %q is not tcp, udp, icmp, sctp or all", i, r.Protocol)
		}
		ports := append([]string(nil), r.Ports...)
		sort.SliceStable(ports, func(a, b int) bool { return portStart(ports[a]) < portStart(ports[b]) })
		out = append(out, Allowed{IPProtocol: proto, Ports: ports})
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].IPProtocol < out[b].IPProtocol })
	return out, nil
}

func portStart(p string) int {
	head, _, _ := strings.Cut(p, "-")
	n, _ := strconv.Atoi(head)
	return n
}

func sortedPorts(ports []int32) []string {
	seen := map[int32]bool{}
	var ns []int
	for _, p := range ports {
		if !seen[p] {
			seen[p] = true
			ns = append(ns, int(p))
		}
	}
	sort.Ints(ns)
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return out
}

func (c *compiler) nats() ([]NAT, error) {
	nat := c.spec.Network.CloudNAT
	enabled := v1alpha1.Bool(nat.Enabled)
	var bastionSubnet *v1alpha1.Subnet
	if b := c.spec.Admin.Bastion; b != nil && b.NAT {
		if bastionSubnet = c.subnets[b.Subnet]; bastionSubnet == nil {
			return nil, fmt.Errorf("spec.admin.bastion.subnet: subnet %q is not in spec.network.subnets", b.Subnet)
		}
	}
	if !enabled && bastionSubnet == nil {
		return nil, nil
	}
	byRegion := map[string][]string{}
	var regions []string
	if enabled {
		for i, name := range nat.Subnets {
			s := c.subnets[name]
			if s == nil {
				return nil, fmt.Errorf("spec.network.cloudNAT.subnets[%d]: subnet %q is not in spec.network.subnets", i, name)
			}
			byRegion[s.Region] = append(byRegion[s.Region], name)
		}
		for _, region := range sortedUnique(nat.Regions) {
			if len(byRegion[region]) == 0 {
				return nil, fmt.Errorf("spec.network.cloudNAT.regions: region %q has none of spec.network.cloudNAT.subnets (add a subnet of %s or remove the region)", region, region)
			}
			regions = append(regions, region)
		}
	}
	images := c.spec.Mesh.Hub
	if c.spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
		images = "the managed data plane's"
	}
	var out []NAT
	for _, region := range sortedUnique(append(regions, regionOf(bastionSubnet)...)) {
		var why []string
		if slices.Contains(regions, region) {
			why = append(why, fmt.Sprintf("private nodes in %s have no external IPs; Cloud NAT lets them pull images (%s) and reach allowed external hosts. Private Google Access covers Google APIs only",
				region, images))
		} else {
			byRegion[region] = nil
		}
		if bastionSubnet != nil && bastionSubnet.Region == region {
			byRegion[region] = append(byRegion[region], bastionSubnet.Name)
			why = append(why, bastionNATReason(c.spec.Admin.Bastion))
		}
		n := NAT{
			Project: c.spec.Network.Project,
			Region:  region,
			Network: c.spec.Network.Name,
			Router:  routerName(c.fed, region),
			Name:    natName(c.fed, region),
			Reason:  strings.Join(why, "; "),
		}
		n.Address = plan.RouterAddress(n.Project, region, n.Router)
		for _, s := range sortedUnique(byRegion[region]) {
			n.Subnets = append(n.Subnets, NATSubnet{Name: s, Ranges: []string{"PRIMARY_IP_RANGE"}})
		}
		out = append(out, n)
	}
	return out, nil
}

// regionOf is the region of a subnet, as a list: none for no subnet.
func regionOf(s *v1alpha1.Subnet) []string {
	if s == nil {
		return nil
	}
	return []string{s.Region}
}

// remoteSecrets are the secrets of every ordered pair of clusters: a federation of n clusters has
// n(n-1), so what depends on one side of a pair alone is made once per cluster.
func (c *compiler) remoteSecrets() []RemoteSecret {
	if !c.inClusterIstiod() || len(c.clusters) < 2 {
		return nil
	}
	type side struct {
		// as a holder
		reader, account, token, podRange string
		// as a target
		secret, server, how string
		fromEndpoint        bool
	}
	sides := make([]side, len(c.clusters))
	for i, ci := range c.clusters {
		n := ci.spec.Name
		s := side{reader: ReaderAccount(n), account: IstioNamespace + "/" + ReaderAccount(n), token: ReaderTokenSecret(n), podRange: ci.subnet.PodRange.CIDR,
			secret: remoteSecretName(n), server: ci.spec.PeerAPIServer, how: "the address set in peerAPIServer"}
		if s.server == "" {
			s.server, s.fromEndpoint, s.how = EndpointMarker(n), true, "its private endpoint"
		}
		sides[i] = s
	}
	out := make([]RemoteSecret, 0, len(c.clusters)*(len(c.clusters)-1))
	for i, holder := range c.clusters {
		hs := sides[i]
		for j, target := range c.clusters {
			if i == j {
				continue
			}
			ts := sides[j]
			h, t := holder.spec.Name, target.spec.Name
			s := RemoteSecret{
				Address:            plan.ObjectAddress(h, IstioNamespace, "Secret", ts.secret),
				Holder:             h,
				Target:             t,
				Namespace:          IstioNamespace,
				Name:               ts.secret,
				DataKey:            t,
				Server:             ts.server,
				ServerFromEndpoint: ts.fromEndpoint,
				ServiceAccount:     hs.account,
				TokenSecret:        hs.token,
				Labels: map[string]string{
					LabelMultiCluster:   "true",
					KubeLabelManagedBy:  ManagedByValue,
					KubeLabelFederation: c.fed,
				},
				Annotations: map[string]string{annotationCluster: t},
				Reason: "istiod in " + h + " discovers the services and endpoints of " + t + " by watching its API server at " + ts.how + " with the token of " + hs.reader +
					"; " + h + "'s pod range " + hs.podRange + " is in " + t + "'s master authorized networks",
			}
			if holder.region != target.region {
				s.Reason += " and " + t + " has master global access (" + holder.region + " → " + target.region + ")"
			}
			out = append(out, s)
		}
	}
	return out
}

func (c *compiler) apis() []APIService {
	need := map[string]map[string][]string{}
	add := func(project, service, reason string) {
		if need[project] == nil {
			need[project] = map[string][]string{}
		}
		for _, r := range need[project][service] {
			if r == reason {
				return
			}
		}
		need[project][service] = append(need[project][service], reason)
	}
	fleet := c.spec.FleetProject
	host := c.spec.Network.Project
	m := c.spec.Mesh

	add(fleet, "gkehub.googleapis.com", "the clusters' fleet memberships live in the fleet project")
	add(fleet, "cloudresourcemanager.googleapis.com", "project numbers (default mesh ID, service agents) are read from Resource Manager")
	add(fleet, "serviceusage.googleapis.com", "APIs are checked and enabled through Service Usage")
	if gw := c.viaGateway(); len(gw) > 0 {
		add(fleet, "connectgateway.googleapis.com", "the tool reaches the API servers of "+strings.Join(gw, ", ")+" through the Connect Gateway (spec.access)")
	}
	if m.ControlPlane == v1alpha1.ControlPlaneManaged {
		add(fleet, "mesh.googleapis.com", "Cloud Service Mesh: the fleet servicemesh feature runs the managed control plane")
	}
	if m.CA.Mode == v1alpha1.CAManaged {
		add(fleet, "mesh.googleapis.com", "Cloud Service Mesh: the managed CA issues the workload certificates of the fleet's trust domain")
	}

	add(host, "compute.googleapis.com", fmt.Sprintf("VPC %s, its subnets, firewall rules and Cloud NAT", c.spec.Network.Name))
	if b := c.bastionVM; b != nil {
		add(host, "compute.googleapis.com", fmt.Sprintf("the bastion VM %s", b.Name))
		add(host, "iap.googleapis.com", fmt.Sprintf("Identity-Aware Proxy's TCP forwarding carries SSH to the bastion %s (gcloud compute ssh --tunnel-through-iap)", b.Name))
	}

	if sql := c.spec.Addons.CloudSQL; sql != nil {
		for _, in := range sql.Instances {
			p := v1alpha1.CloudSQLProject(in.ConnectionName)
			add(p, "sqladmin.googleapis.com", "the Cloud SQL Auth Proxy reads "+in.ConnectionName+"'s address and certificate from the Cloud SQL Admin API, and plan and verify read the instance")
			if _, domain, ok := strings.Cut(in.GoogleServiceAccount, "@"); ok {
				add(strings.TrimSuffix(domain, ".iam.gserviceaccount.com"), "iam.googleapis.com", "the Google service account "+in.GoogleServiceAccount+" of the Cloud SQL Auth Proxy")
			}
		}
	}
	byProject := map[string][]string{}
	wi := map[string]bool{}
	for _, ci := range c.clusters {
		byProject[ci.spec.Project] = append(byProject[ci.spec.Project], ci.spec.Name)
		if v1alpha1.Bool(ci.spec.WorkloadIdentity) {
			wi[ci.spec.Project] = true
		}
	}
	shared := false
	for _, p := range slices.Sorted(maps.Keys(byProject)) {
		names := strings.Join(byProject[p], ", ")
		add(p, "container.googleapis.com", "GKE clusters "+names)
		add(p, "compute.googleapis.com", "nodes of "+names+" are Compute Engine VMs")
		add(p, "logging.googleapis.com", "GKE system and workload logs of "+names+" (Cloud Logging is on by default)")
		add(p, "monitoring.googleapis.com", "GKE system metrics and Istio telemetry of "+names)
		if wi[p] {
			add(p, "iamcredentials.googleapis.com", "Workload Identity: pods of "+names+" exchange Kubernetes tokens for Google access tokens")
		}
		if p != fleet {
			add(p, "gkehub.googleapis.com", fmt.Sprintf("clusters %s are registered to fleet project %s from another project", names, fleet))
		}
		if p != host {
			shared = true
		}
	}
	if shared {
		add(host, "container.googleapis.com", "Shared VPC host of GKE clusters: the host's GKE service agent must exist for the service projects' agents to use its subnets")
	}

	var out []APIService
	for _, p := range slices.Sorted(maps.Keys(need)) {
		for _, s := range slices.Sorted(maps.Keys(need[p])) {
			out = append(out, APIService{
				Address: plan.APIAddress(p, s),
				Project: p,
				Service: s,
				Reason:  strings.Join(need[p][s], "; "),
			})
		}
	}
	return out
}

func (c *compiler) sharedVPC() *SharedVPC {
	host := c.spec.Network.Project
	subnetsOf := map[string]map[string]*v1alpha1.Subnet{}
	clustersOf := map[string][]string{}
	for _, ci := range c.clusters {
		p := ci.spec.Project
		if p == host {
			continue
		}
		if subnetsOf[p] == nil {
			subnetsOf[p] = map[string]*v1alpha1.Subnet{}
		}
		subnetsOf[p][ci.subnet.Name] = ci.subnet
		clustersOf[p] = append(clustersOf[p], ci.spec.Name)
	}
	if len(subnetsOf) == 0 {
		return nil
	}
	s := &SharedVPC{
		HostProject: host,
		HostReason:  fmt.Sprintf("VPC %s is in %s and clusters in other projects attach to it", c.spec.Network.Name, host),
	}
	for _, p := range slices.Sorted(maps.Keys(subnetsOf)) {
		names := strings.Join(clustersOf[p], ", ")
		s.ServiceProjects = append(s.ServiceProjects, ServiceProject{
			Address: plan.XpnServiceAddress(host, p),
			Project: p,
			Reason:  fmt.Sprintf("clusters %s in %s use subnets of %s's VPC", names, p, host),
		})
		num, ok := c.number(p)
		gke := fmt.Sprintf("serviceAccount:service-%s@container-engine-robot.iam.gserviceaccount.com", num)
		apis := fmt.Sprintf("serviceAccount:%s@cloudservices.gserviceaccount.com", num)
		for _, sn := range slices.Sorted(maps.Keys(subnetsOf[p])) {
			sub := subnetsOf[p][sn]
			res := c.subnetwork(sub.Region, sub.Name)
			s.Bindings = append(s.Bindings,
				binding(res, "roles/compute.networkUser", gke, !ok,
					fmt.Sprintf("the GKE service agent of %s creates the nodes, alias ranges and load balancers of %s in subnet %s", p, names, sn)),
				binding(res, "roles/compute.networkUser", apis, !ok,
					fmt.Sprintf("the Google APIs service agent of %s creates the node VMs (managed instance groups) of %s in subnet %s", p, names, sn)))
		}
		s.Bindings = append(s.Bindings, binding("projects/"+host, "roles/container.hostServiceAgentUser", gke, !ok,
			fmt.Sprintf("the GKE service agent of %s manages network resources (firewall rules, routes) of %s in host project %s", p, names, host)))
	}
	sortBindings(s.Bindings)
	return s
}

func (c *compiler) iamBindings() []IAMBinding {
	fleet := c.spec.FleetProject
	projects := map[string][]string{}
	for _, ci := range c.clusters {
		if ci.spec.Project != fleet {
			projects[ci.spec.Project] = append(projects[ci.spec.Project], ci.spec.Name)
		}
	}
	out := []IAMBinding{}
	if len(projects) == 0 {
		return out
	}
	num, ok := c.number(fleet)
	hub := fmt.Sprintf("serviceAccount:service-%s@gcp-sa-gkehub.iam.gserviceaccount.com", num)
	mesh := fmt.Sprintf("serviceAccount:service-%s@gcp-sa-servicemesh.iam.gserviceaccount.com", num)
	for _, p := range slices.Sorted(maps.Keys(projects)) {
		names := strings.Join(projects[p], ", ")
		out = append(out, binding("projects/"+p, "roles/gkehub.crossProjectServiceAgent", hub, !ok,
			fmt.Sprintf("the fleet's GKE Hub service agent (fleet project %s) manages the memberships of %s in project %s", fleet, names, p)))
		if c.spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
			out = append(out, binding("projects/"+p, "roles/anthosservicemesh.serviceAgent", mesh, !ok,
				fmt.Sprintf("the fleet's service mesh agent (fleet project %s) provisions the managed control plane of %s in project %s", fleet, names, p)))
		}
	}
	sortBindings(out)
	return out
}

func binding(resource, role, member string, unresolved bool, reason string) IAMBinding {
	return IAMBinding{
		Address:    plan.IAMBindingAddress(resource, role, member),
		Resource:   resource,
		Role:       role,
		Member:     member,
		Unresolved: unresolved,
		Reason:     reason,
	}
}

func sortBindings(b []IAMBinding) {
	sort.Slice(b, func(i, j int) bool {
		if b[i].Resource != b[j].Resource {
			return b[i].Resource < b[j].Resource
		}
		if b[i].Role != b[j].Role {
			return b[i].Role < b[j].Role
		}
		return b[i].Member < b[j].Member
	})
}

func (c *compiler) fleetMemberships() []FleetMembership {
	fleet := c.spec.FleetProject
	var out []FleetMembership
	for _, ci := range c.clusters {
		cl := ci.spec
		pool := fleet + ".svc.id.goog"
		reason := fmt.Sprintf("fleet Workload Identity: the membership's authority is %s's OIDC issuer, so Google accepts the tokens of its Kubernetes service accounts in the fleet's workload identity pool %s",
			cl.Name, pool)
		if c.spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
			reason += "; the fleet's servicemesh feature runs its managed control plane through the membership"
		}
		loc, name := "global", cl.Name
		if m, ok := c.facts.Memberships[fmt.Sprintf("projects/%s/locations/%s/clusters/%s", cl.Project, cl.Location, cl.Name)]; ok && m.Location != "" && m.Name != "" {
			loc, name = m.Location, m.Name
			reason += fmt.Sprintf("; %s is registered already as membership %s in %s, which the federation takes instead of registering its own (a GKE cluster belongs to one membership)",
				cl.Name, name, loc)
		}
		out = append(out, FleetMembership{
			Address:              plan.MembershipAddress(fleet, loc, name),
			Project:              fleet,
			Location:             loc,
			Name:                 name,
			Cluster:              fmt.Sprintf("//container.googleapis.com/projects/%s/locations/%s/clusters/%s", cl.Project, cl.Location, cl.Name),
			ClusterAddress:       plan.ClusterAddress(cl.Project, cl.Location, cl.Name),
			Issuer:               fmt.Sprintf("https://container.googleapis.com/v1/projects/%s/locations/%s/clusters/%s", cl.Project, cl.Location, cl.Name),
			WorkloadIdentityPool: pool,
			Reason:               reason,
		})
	}
	return out
}

// checkNames makes sure every name the compiler made is valid and unique, so that a surprising
// input fails here and not in the middle of apply.
func checkNames(d *Desired) error {
	seen := map[string]string{}
	check := func(kind, name string) error {
		if !ValidName(name) {
			return fmt.Errorf("%s name %q is not a valid Compute Engine name (1-63 of a-z, 0-9 and -, starting with a letter): check metadata.name and the cluster names", kind, name)
		}
		key := kind + "/" + name
		if _, dup := seen[key]; dup {
			return fmt.Errorf("%s name %q is derived twice: rename a cluster or region so the names differ", kind, name)
		}
		seen[key] = name
		return nil
	}
	for _, r := range d.FirewallRules {
		if err := check("firewall", r.Name); err != nil {
			return err
		}
	}
	if b := d.Bastion; b != nil {
		if err := check("network tag", b.Tag); err != nil {
			return err
		}
	}
	for _, n := range d.NATs {
		if err := check("router", n.Router); err != nil {
			return err
		}
		if err := check("nat", n.Name); err != nil {
			return err
		}
	}
	return nil
}

func normalizeCIDRs(field string, cidrs []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a CIDR: %w", field, s, err)
		}
		k := p.Masked().String()
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return prefixLess(out[i], out[j]) })
	return out, nil
}

// prefixLess orders CIDRs by address, then by prefix length; both are valid prefixes.
func prefixLess(a, b string) bool {
	pa, _ := netip.ParsePrefix(a)
	pb, _ := netip.ParsePrefix(b)
	if c := pa.Addr().Compare(pb.Addr()); c != 0 {
		return c < 0
	}
	return pa.Bits() < pb.Bits()
}

func sortedUnique(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, s := range in {
		seen[s] = true
	}
	return slices.Sorted(maps.Keys(seen))
}
