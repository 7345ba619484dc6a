package gcpfake

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	gkeVersion     = "1.33.5-gke.1000000"
	defaultServers = "34.118.224.0/20"
)

var clusterNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)

type clusterManager struct {
	containerpb.UnimplementedClusterManagerServer
	s *Server
}

// clusterRef accepts both the resource name and the legacy
// project/zone/cluster fields, as the real API does.
func clusterRef(name, project, zone, cluster string) (p, loc, c string, err error) {
	if name != "" {
		parts := strings.Split(name, "/")
		if len(parts) < 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "clusters" {
			return "", "", "", gkeField("name", "Invalid cluster name %q: must be projects/*/locations/*/clusters/*.", name)
		}
		return parts[1], parts[3], parts[5], nil
	}
	if project == "" || zone == "" || cluster == "" {
		return "", "", "", gkeField("name", "Cluster name must be specified.")
	}
	return project, zone, cluster, nil
}

func parentRef(parent, project, zone string) (string, string, error) {
	if parent != "" {
		parts := strings.Split(parent, "/")
		if len(parts) != 4 || parts[0] != "projects" || parts[2] != "locations" {
			return "", "", gkeField("parent", "Invalid parent %q: must be projects/*/locations/*.", parent)
		}
		return parts[1], parts[3], nil
	}
	if project == "" || zone == "" {
		return "", "", gkeField("parent", "Parent must be specified.")
	}
	return project, zone, nil
}

func clusterKey(p, loc, c string) string {
	return "container/projects/" + p + "/locations/" + loc + "/clusters/" + c
}

func gkeNotFound(p, loc, c string) *Error {
	return gkeErr(codes.NotFound, "Not found: projects/%s/%s/%s/clusters/%s.", p, zonesOrLocations(loc), loc, c)
}

func (s *Server) cluster(p, loc, c string) (*containerpb.Cluster, string, error) {
	key := clusterKey(p, loc, c)
	cl, _ := s.st.get(key).(*containerpb.Cluster)
	if cl == nil {
		return nil, key, gkeNotFound(p, loc, c)
	}
	return cl, key, nil
}

// busy returns the name of an unfinished operation on the cluster: GKE
// runs one mutating operation per cluster at a time.
func (s *Server) busy(key string) string {
	for _, p := range s.st.pending {
		_, put := p.Puts[key]
		del := false
		for _, d := range p.Dels {
			del = del || d == key
		}
		if put || del {
			if op, ok := s.st.get(p.OpKey).(*containerpb.Operation); ok {
				return op.Name
			}
			return p.OpKey
		}
	}
	return ""
}

func incompatible(op string) *Error {
	return gkeErr(codes.FailedPrecondition, "Cluster is running incompatible operation %s.", op)
}

func zonesFor(loc string) []string {
	if isZone(loc) {
		return []string{loc}
	}
	return []string{loc + "-a", loc + "-b", loc + "-c"}
}

func hashIP(seed string, a byte) string {
	h := fnv.New32a()
	h.Write([]byte(seed))
	v := h.Sum32()
	return fmt.Sprintf("%d.%d.%d.%d", a, byte(v>>16), byte(v>>8), byte(v)|1)
}

// resolveClusterNetwork finds the network and subnet a cluster uses,
// applying GKE's defaults and its checks.
func (s *Server) resolveClusterNetwork(project, loc string, c *containerpb.Cluster) (network string, subnet *computepb.Subnetwork, subnetFQN string, err error) {
	net := c.Network
	if c.NetworkConfig != nil && c.NetworkConfig.Network != "" {
		net = c.NetworkConfig.Network
	}
	if net == "" {
		net = "default"
	}
	if strings.Contains(net, "/") {
		network = resolveRef(project, net)
	} else {
		network = "projects/" + project + "/global/networks/" + net
	}
	nw, _ := s.st.get("compute/" + network).(*computepb.Network)
	if nw == nil {
		return "", nil, "", gkeField("cluster.network", "Network %q does not exist.", network)
	}
	netProject := strings.Split(network, "/")[1]
	sub := c.Subnetwork
	if c.NetworkConfig != nil && c.NetworkConfig.Subnetwork != "" {
		sub = c.NetworkConfig.Subnetwork
	}
	region := regionOf(loc)
	switch {
	case sub == "" && nw.GetAutoCreateSubnetworks():
		subnetFQN = "projects/" + netProject + "/regions/" + region + "/subnetworks/" + nw.GetName()
	case sub == "":
		return "", nil, "", gkeField("cluster.subnetwork", "Subnetwork must be specified for custom mode network %q.", network)
	case strings.Contains(sub, "/"):
		subnetFQN = resolveRef(netProject, sub)
	default:
		subnetFQN = "projects/" + netProject + "/regions/" + region + "/subnetworks/" + sub
	}
	parts := strings.Split(subnetFQN, "/")
	if len(parts) != 6 {
		return "", nil, "", gkeField("cluster.subnetwork", "Invalid subnetwork %q.", sub)
	}
	if parts[3] != region {
		return "", nil, "", gkeField("cluster.subnetwork", "Subnetwork %q is in region %q, but the cluster is in region %q.", subnetFQN, parts[3], region)
	}
	subnet, _ = s.st.get("compute/" + subnetFQN).(*computepb.Subnetwork)
	if subnet == nil {
		return "", nil, "", gkeField("cluster.subnetwork", "Subnetwork %q does not exist.", subnetFQN)
	}
	if canon(subnet.GetNetwork()) != network {
		return "", nil, "", gkeField("cluster.subnetwork", "Subnetwork %q is not in network %q.", subnetFQN, network)
	}
	return network, subnet, subnetFQN, nil
}

func secondaryRange(sn *computepb.Subnetwork, name string) string {
	for _, r := range sn.SecondaryIpRanges {
		if r.GetRangeName() == name {
			return r.GetIpCidrRange()
		}
	}
	return ""
}

func checkAuthorizedNetworks(field string, m *containerpb.MasterAuthorizedNetworksConfig) error {
	if m == nil {
		return nil
	}
	if len(m.CidrBlocks) > 100 {
		return gkeField(field, "Too many authorized networks: %d (at most 100).", len(m.CidrBlocks))
	}
	for _, b := range m.CidrBlocks {
		p, err := netip.ParsePrefix(b.CidrBlock)
		if err != nil || p.Masked() != p {
			return gkeField(field, "Invalid master authorized networks: invalid CIDR block %q.", b.CidrBlock)
		}
	}
	return nil
}

// authorizedLimit is how many master authorized networks GKE accepts on a cluster: 100 when its
// API server has only a private endpoint, 50 with a public one.
func authorizedLimit(cl *containerpb.Cluster) int {
	if cl.GetPrivateClusterConfig().GetEnablePrivateEndpoint() {
		return 100
	}
	if ip := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig(); ip != nil && ip.EnablePublicEndpoint != nil && !ip.GetEnablePublicEndpoint() {
		return 100
	}
	return 50
}

// checkAuthorizedLimit refuses more authorized networks than the cluster's endpoints allow.
func checkAuthorizedLimit(field string, cl *containerpb.Cluster) error {
	if n, limit := len(cl.GetMasterAuthorizedNetworksConfig().GetCidrBlocks()), authorizedLimit(cl); n > limit {
		return gkeField(field, "Too many authorized networks: %d (at most %d; 50 with a public endpoint, 100 with only a private one).", n, limit)
	}
	return nil
}

// normalizeEndpoints keeps the legacy privateClusterConfig and the newer
// controlPlaneEndpointsConfig in agreement, whichever the client used.
func (s *Server) normalizeEndpoints(c *containerpb.Cluster, subnet *computepb.Subnetwork) error {
	pcc := c.PrivateClusterConfig
	if pcc == nil {
		pcc = &containerpb.PrivateClusterConfig{}
	}
	ip := c.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig()
	if c.NetworkConfig.GetDefaultEnablePrivateNodes() {
		pcc.EnablePrivateNodes = true
	}
	if ip != nil && ip.EnablePublicEndpoint != nil && !ip.GetEnablePublicEndpoint() {
		pcc.EnablePrivateEndpoint = true
	}
	if ip != nil && ip.GlobalAccess != nil {
		pcc.MasterGlobalAccessConfig = &containerpb.PrivateClusterMasterGlobalAccessConfig{Enabled: ip.GetGlobalAccess()}
	}
	if ip != nil && ip.AuthorizedNetworksConfig != nil && c.MasterAuthorizedNetworksConfig == nil {
		c.MasterAuthorizedNetworksConfig = ip.AuthorizedNetworksConfig
	}
	if pcc.MasterIpv4CidrBlock != "" {
		p, err := netip.ParsePrefix(pcc.MasterIpv4CidrBlock)
		if err != nil || p.Bits() != 28 || p.Masked() != p || !p.Addr().Is4() {
			return gkeField("cluster.privateClusterConfig.masterIpv4CidrBlock", "The provided master_ipv4_cidr_block %q must be a /28 range.", pcc.MasterIpv4CidrBlock)
		}
		pcc.PrivateEndpoint = p.Addr().Next().Next().String()
	} else if pcc.PrivateEndpoint == "" && subnet != nil {
		if p, err := netip.ParsePrefix(subnet.GetIpCidrRange()); err == nil {
			// A stable address inside the node subnet, as PSC-based
			// private endpoints are.
			size := uint32(1) << (32 - p.Bits())
			h := fnv.New32a()
			h.Write([]byte(c.Name))
			a := p.Addr().As4()
			base := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
			v := base + 2 + h.Sum32()%(size-4)
			pcc.PrivateEndpoint = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
		}
	}
	if pcc.PublicEndpoint == "" && !pcc.EnablePrivateEndpoint {
		pcc.PublicEndpoint = hashIP(c.Name+c.SelfLink, 34)
	}
	if pcc.EnablePrivateEndpoint {
		pcc.PublicEndpoint = ""
	}
	if pcc.EnablePrivateNodes || pcc.MasterIpv4CidrBlock != "" || pcc.EnablePrivateEndpoint {
		c.PrivateClusterConfig = pcc
	}
	if pcc.EnablePrivateEndpoint {
		c.Endpoint = pcc.PrivateEndpoint
	} else {
		c.Endpoint = pcc.PublicEndpoint
	}
	enabled := true
	c.ControlPlaneEndpointsConfig = &containerpb.ControlPlaneEndpointsConfig{
		IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{
			Enabled:                  &enabled,
			EnablePublicEndpoint:     proto.Bool(!pcc.EnablePrivateEndpoint),
			GlobalAccess:             proto.Bool(pcc.GetMasterGlobalAccessConfig().GetEnabled()),
			AuthorizedNetworksConfig: c.MasterAuthorizedNetworksConfig,
			PublicEndpoint:           pcc.PublicEndpoint,
			PrivateEndpoint:          pcc.PrivateEndpoint,
		},
		DnsEndpointConfig: &containerpb.ControlPlaneEndpointsConfig_DNSEndpointConfig{
			Endpoint:             fmt.Sprintf("gke-%s-%d.%s.gke.goog", strings.ReplaceAll(c.Id[:12], "-", ""), projectNumber(strings.Split(canon(c.SelfLink), "/")[1]), c.Location),
			AllowExternalTraffic: proto.Bool(false),
		},
	}
	if c.NetworkConfig != nil {
		c.NetworkConfig.DefaultEnablePrivateNodes = proto.Bool(pcc.EnablePrivateNodes)
	}
	return nil
}

func (s *Server) poolDefaults(c *containerpb.Cluster, np *containerpb.NodePool) error {
	if !clusterNameRE.MatchString(np.Name) {
		return gkeField("nodePool.name", "Invalid node pool name %q: must match %s.", np.Name, clusterNameRE)
	}
	if np.Config == nil {
		np.Config = &containerpb.NodeConfig{}
	}
	cfg := np.Config
	if cfg.MachineType == "" {
		cfg.MachineType = "e2-medium"
	}
	if cfg.DiskSizeGb == 0 {
		cfg.DiskSizeGb = 100
	}
	if cfg.DiskType == "" {
		cfg.DiskType = "pd-balanced"
	}
	if cfg.ImageType == "" {
		cfg.ImageType = "COS_CONTAINERD"
	}
	if len(cfg.OauthScopes) == 0 {
		cfg.OauthScopes = []string{"https://www.googleapis.com/auth/devstorage.read_only", "https://www.googleapis.com/auth/logging.write",
			"https://www.googleapis.com/auth/monitoring", "https://www.googleapis.com/auth/service.management.readonly",
			"https://www.googleapis.com/auth/servicecontrol", "https://www.googleapis.com/auth/trace.append"}
	}
	if cfg.ServiceAccount == "" {
		cfg.ServiceAccount = "default"
	}
	if c.WorkloadIdentityConfig.GetWorkloadPool() != "" && cfg.WorkloadMetadataConfig == nil {
		cfg.WorkloadMetadataConfig = &containerpb.WorkloadMetadataConfig{Mode: containerpb.WorkloadMetadataConfig_GKE_METADATA}
	}
	if err := checkWorkloadMetadata(c, "nodePool.config.workloadMetadataConfig.mode", cfg.WorkloadMetadataConfig); err != nil {
		return err
	}
	if np.InitialNodeCount == 0 {
		np.InitialNodeCount = 3
	}
	if np.Version == "" {
		np.Version = gkeVersion
	}
	if len(np.Locations) == 0 {
		np.Locations = zonesFor(c.Location)
	}
	if np.Management == nil {
		np.Management = &containerpb.NodeManagement{AutoUpgrade: true, AutoRepair: true}
	}
	if np.PodIpv4CidrSize == 0 {
		np.PodIpv4CidrSize = 24
	}
	if np.MaxPodsConstraint == nil {
		np.MaxPodsConstraint = &containerpb.MaxPodsConstraint{MaxPodsPerNode: 110}
	}
	if np.UpgradeSettings == nil {
		np.UpgradeSettings = &containerpb.NodePool_UpgradeSettings{MaxSurge: 1, Strategy: containerpb.NodePoolUpdateStrategy_SURGE.Enum()}
	}
	project := strings.Split(canon(c.SelfLink), "/")[1]
	np.SelfLink = c.SelfLink + "/nodePools/" + np.Name
	np.InstanceGroupUrls = nil
	for _, z := range np.Locations {
		np.InstanceGroupUrls = append(np.InstanceGroupUrls, computeLink(fmt.Sprintf("projects/%s/zones/%s/instanceGroupManagers/gke-%s-%s-grp", project, z, c.Name, np.Name)))
	}
	np.Etag = ""
	np.Etag = fingerprint(np)
	return nil
}

func (s *Server) nodeCount(c *containerpb.Cluster) int32 {
	var n int32
	for _, np := range c.NodePools {
		if np.Status == containerpb.NodePool_RUNNING || np.Status == containerpb.NodePool_PROVISIONING {
			n += np.InitialNodeCount * int32(len(np.Locations))
		}
	}
	return n
}

func (s *Server) finishCluster(c *containerpb.Cluster) {
	c.CurrentNodeCount = s.nodeCount(c)
	if len(c.NodePools) > 0 {
		c.NodeConfig = c.NodePools[0].Config
	}
	c.Etag = ""
	c.Etag = fingerprint(c)
}

func labelFingerprint(labels map[string]string) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&containerpb.SetLabelsRequest{ResourceLabels: labels})
	h := fnv.New64a()
	h.Write(b)
	return fmt.Sprintf("%016x", h.Sum64())[:16]
}

func (x *clusterManager) CreateCluster(ctx context.Context, req *containerpb.CreateClusterRequest) (*containerpb.Operation, error) {
	s := x.s
	project, loc, err := parentRef(req.Parent, req.ProjectId, req.Zone)
	if err != nil {
		return nil, err
	}
	c := proto.Clone(req.GetCluster()).(*containerpb.Cluster)
	if c == nil || c.Name == "" {
		return nil, gkeField("cluster.name", "Cluster.name must be specified.")
	}
	if !clusterNameRE.MatchString(c.Name) {
		return nil, gkeField("cluster.name", "Invalid value for field \"cluster.name\": %q. Must start with a letter, contain only lowercase letters, digits and hyphens, end with a letter or digit, and be at most 40 characters.", c.Name)
	}
	if strings.Count(loc, "-") < 1 || strings.Count(loc, "-") > 2 {
		return nil, gkeField("parent", "Location %q is not a valid region or zone.", loc)
	}
	defer s.lock(project)()
	if err := s.requireService(project, "container.googleapis.com"); err != nil {
		return nil, err
	}
	key := clusterKey(project, loc, c.Name)
	if s.st.get(key) != nil {
		return nil, gkeErr(codes.AlreadyExists, "Already exists: projects/%s/%s/%s/clusters/%s.", project, zonesOrLocations(loc), loc, c.Name)
	}
	network, subnet, subnetFQN, err := s.resolveClusterNetwork(project, loc, c)
	if err != nil {
		return nil, err
	}
	if wp := c.GetWorkloadIdentityConfig().GetWorkloadPool(); wp != "" && wp != project+".svc.id.goog" {
		return nil, gkeField("cluster.workloadIdentityConfig.workloadPool", "Workload Identity pool %q is invalid: it must be %q.", wp, project+".svc.id.goog")
	}
	if err := checkAuthorizedNetworks("cluster.masterAuthorizedNetworksConfig", c.MasterAuthorizedNetworksConfig); err != nil {
		return nil, err
	}
	if err := checkAuthorizedLimit("cluster.masterAuthorizedNetworksConfig", c); err != nil {
		return nil, err
	}
	ipp := c.IpAllocationPolicy
	if ipp == nil {
		ipp = &containerpb.IPAllocationPolicy{UseIpAliases: true}
	}
	private := c.GetPrivateClusterConfig().GetEnablePrivateNodes() || c.GetNetworkConfig().GetDefaultEnablePrivateNodes()
	if private && !ipp.UseIpAliases {
		return nil, gkeField("cluster.ipAllocationPolicy.useIpAliases", "Private nodes require a VPC-native cluster (IP aliases).")
	}
	if ipp.ClusterSecondaryRangeName != "" {
		r := secondaryRange(subnet, ipp.ClusterSecondaryRangeName)
		if r == "" {
			return nil, gkeField("cluster.ipAllocationPolicy.clusterSecondaryRangeName", "Pod secondary range %q does not exist in subnetwork %q.", ipp.ClusterSecondaryRangeName, subnetFQN)
		}
		ipp.ClusterIpv4CidrBlock, ipp.ClusterIpv4Cidr = r, r
	}
	if ipp.ServicesSecondaryRangeName != "" {
		r := secondaryRange(subnet, ipp.ServicesSecondaryRangeName)
		if r == "" {
			return nil, gkeField("cluster.ipAllocationPolicy.servicesSecondaryRangeName", "Services secondary range %q does not exist in subnetwork %q.", ipp.ServicesSecondaryRangeName, subnetFQN)
		}
		ipp.ServicesIpv4CidrBlock, ipp.ServicesIpv4Cidr = r, r
	}
	if ipp.ClusterIpv4CidrBlock == "" {
		h := fnv.New32a()
		h.Write([]byte(key))
		b := 64 + byte(h.Sum32()%60)*4
		ipp.ClusterIpv4CidrBlock = fmt.Sprintf("10.%d.0.0/14", b)
		ipp.ClusterIpv4Cidr = ipp.ClusterIpv4CidrBlock
	}
	if ipp.ServicesIpv4CidrBlock == "" {
		ipp.ServicesIpv4CidrBlock, ipp.ServicesIpv4Cidr = defaultServers, defaultServers
	}
	if ipp.UseIpAliases && ipp.StackType == containerpb.StackType_STACK_TYPE_UNSPECIFIED {
		ipp.StackType = containerpb.StackType_IPV4
	}
	c.IpAllocationPolicy = ipp
	if mc := c.GetPrivateClusterConfig().GetMasterIpv4CidrBlock(); mc != "" {
		if p, err := netip.ParsePrefix(mc); err == nil {
			for _, used := range s.rangesOf(network, "") {
				if used.prefix.Overlaps(p) {
					return nil, gkeField("cluster.privateClusterConfig.masterIpv4CidrBlock", "The provided master_ipv4_cidr_block %q conflicts with an existing subnet %q in region %q.", mc, used.subnet, used.region)
				}
			}
			for _, k := range s.st.match("container/projects/*/locations/*/clusters/*") {
				o := s.st.get(k).(*containerpb.Cluster)
				if q, err := netip.ParsePrefix(o.GetPrivateClusterConfig().GetMasterIpv4CidrBlock()); err == nil && q.Overlaps(p) && o.NetworkConfig.GetNetwork() == network {
					return nil, gkeField("cluster.privateClusterConfig.masterIpv4CidrBlock", "The provided master_ipv4_cidr_block %q overlaps with the control plane range of cluster %q.", mc, o.Name)
				}
			}
		}
	}
	num := projectNumber(project)
	now := s.st.now().UTC()
	idh := fnv.New64a()
	fmt.Fprintf(idh, "%s#%d", key, s.st.nextID(key))
	c.Id = fmt.Sprintf("%016x%016x", idh.Sum64(), uint64(num))
	c.Location, c.Zone = loc, loc
	c.Locations = zonesFor(loc)
	c.SelfLink = gkeLink("projects/" + project + "/" + zonesOrLocations(loc) + "/" + loc + "/clusters/" + c.Name)
	c.CreateTime = now.Format(time.RFC3339)
	c.Network = strings.Split(network, "/")[4]
	c.Subnetwork = strings.Split(subnetFQN, "/")[5]
	if c.NetworkConfig == nil {
		c.NetworkConfig = &containerpb.NetworkConfig{}
	}
	c.NetworkConfig.Network, c.NetworkConfig.Subnetwork = network, subnetFQN
	c.ClusterIpv4Cidr, c.ServicesIpv4Cidr = ipp.ClusterIpv4CidrBlock, ipp.ServicesIpv4CidrBlock
	c.NodeIpv4CidrSize = 24
	if c.InitialClusterVersion == "" {
		c.InitialClusterVersion = gkeVersion
	}
	c.CurrentMasterVersion, c.CurrentNodeVersion = c.InitialClusterVersion, c.InitialClusterVersion
	if c.LoggingService == "" {
		c.LoggingService = "logging.googleapis.com/kubernetes"
	}
	if c.MonitoringService == "" {
		c.MonitoringService = "monitoring.googleapis.com/kubernetes"
	}
	if c.ReleaseChannel == nil {
		c.ReleaseChannel = &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_REGULAR}
	}
	if c.ShieldedNodes == nil {
		c.ShieldedNodes = &containerpb.ShieldedNodes{Enabled: true}
	}
	if c.DatabaseEncryption == nil {
		c.DatabaseEncryption = &containerpb.DatabaseEncryption{State: containerpb.DatabaseEncryption_DECRYPTED}
	}
	if c.ResourceLabels == nil {
		c.ResourceLabels = map[string]string{}
	}
	c.LabelFingerprint = labelFingerprint(c.ResourceLabels)
	if c.MasterAuth == nil {
		c.MasterAuth = &containerpb.MasterAuth{}
	}
	c.MasterAuth.ClusterCaCertificate = base64.StdEncoding.EncodeToString(s.caPEM)
	if err := s.normalizeEndpoints(c, subnet); err != nil {
		return nil, err
	}
	var work *backendWork
	if s.opts.backend != nil {
		// A real control plane stands behind the cluster. The create
		// operation starts it, in the background; until it is up the
		// cluster has no endpoint and no CA, and the running cluster gets
		// the local server's.
		work = &backendWork{Kind: workProvision, Project: project, Location: loc, Cluster: c.Name}
		c.Endpoint, c.MasterAuth.ClusterCaCertificate = "", ""
		if c.PrivateClusterConfig != nil {
			c.PrivateClusterConfig.PrivateEndpoint = ""
		}
	}
	if len(c.NodePools) == 0 {
		n := c.InitialNodeCount
		if n == 0 {
			n = 3
		}
		c.NodePools = []*containerpb.NodePool{{Name: "default-pool", InitialNodeCount: n, Config: c.NodeConfig}}
	}
	c.InitialNodeCount = 0
	seen := map[string]bool{}
	for _, np := range c.NodePools {
		if seen[np.Name] {
			return nil, gkeField("cluster.nodePools", "Duplicate node pool name %q.", np.Name)
		}
		seen[np.Name] = true
		if err := s.poolDefaults(c, np); err != nil {
			return nil, err
		}
		np.Status = containerpb.NodePool_PROVISIONING
	}
	c.Status = containerpb.Cluster_PROVISIONING
	s.finishCluster(c)
	running := proto.Clone(c).(*containerpb.Cluster)
	running.Status = containerpb.Cluster_RUNNING
	for _, np := range running.NodePools {
		np.Status = containerpb.NodePool_RUNNING
	}
	s.finishCluster(running)
	failed := proto.Clone(c).(*containerpb.Cluster)
	failed.Status = containerpb.Cluster_ERROR
	for _, np := range failed.NodePools {
		np.Status = containerpb.NodePool_ERROR
	}
	s.finishCluster(failed)
	s.st.put(key, c)
	pending := &pendingOp{Puts: map[string]proto.Message{key: running}, FailPuts: map[string]proto.Message{key: failed}, Backend: work}
	op := s.containerOp(ctx, project, loc, containerpb.Operation_CREATE_CLUSTER, strings.TrimPrefix(key, "container/"), pending)
	if pending.Fail != nil {
		failed.StatusMessage = pending.Fail.Message
	}
	s.startBackendWork(pending)
	return op, nil
}

func (x *clusterManager) GetCluster(ctx context.Context, req *containerpb.GetClusterRequest) (*containerpb.Cluster, error) {
	p, loc, c, err := clusterRef(req.Name, req.ProjectId, req.Zone, req.ClusterId)
	if err != nil {
		return nil, err
	}
	defer x.s.lock(p)()
	cl, _, err := x.s.cluster(p, loc, c)
	if err != nil {
		return nil, err
	}
	return proto.Clone(cl).(*containerpb.Cluster), nil
}

func (x *clusterManager) ListClusters(ctx context.Context, req *containerpb.ListClustersRequest) (*containerpb.ListClustersResponse, error) {
	p, loc, err := parentRef(req.Parent, req.ProjectId, req.Zone)
	if err != nil {
		return nil, err
	}
	defer x.s.lock(p)()
	out := &containerpb.ListClustersResponse{}
	for _, k := range x.s.st.match("container/projects/" + p + "/locations/*/clusters/*") {
		cl := x.s.st.get(k).(*containerpb.Cluster)
		if loc == "-" || cl.Location == loc {
			out.Clusters = append(out.Clusters, proto.Clone(cl).(*containerpb.Cluster))
		}
	}
	return out, nil
}

func (x *clusterManager) DeleteCluster(ctx context.Context, req *containerpb.DeleteClusterRequest) (*containerpb.Operation, error) {
	s := x.s
	p, loc, c, err := clusterRef(req.Name, req.ProjectId, req.Zone, req.ClusterId)
	if err != nil {
		return nil, err
	}
	unlock := s.lock(p)
	cl, key, err := s.cluster(p, loc, c)
	if err != nil {
		unlock()
		return nil, err
	}
	if cl.Status == containerpb.Cluster_STOPPING {
		unlock()
		return nil, incompatible(s.busy(key))
	}
	// Deleting a cluster cancels whatever it was doing: those operations
	// end with an error now rather than never.
	var keep []*pendingOp
	for _, po := range s.st.pending {
		if _, ok := po.Puts[key]; !ok {
			keep = append(keep, po)
			continue
		}
		po.Fail = gkeErr(codes.Aborted, "Operation was aborted: cluster %q is being deleted.", c)
		s.st.finishOp(po, s.st.now())
	}
	s.st.pending = keep
	stopping := proto.Clone(cl).(*containerpb.Cluster)
	stopping.Status = containerpb.Cluster_STOPPING
	s.st.put(key, stopping)
	pending := &pendingOp{Dels: []string{key}}
	if s.opts.backend != nil {
		// The delete operation releases the control plane, in whatever
		// state it is (still starting, running or failed), before it
		// completes: the name is free once the operation is done.
		pending.Backend = &backendWork{Kind: workRelease, Project: p, Location: loc, Cluster: c}
	}
	op := s.containerOp(ctx, p, loc, containerpb.Operation_DELETE_CLUSTER, strings.TrimPrefix(key, "container/"), pending)
	s.startBackendWork(pending)
	unlock()
	return op, nil
}

// mutate runs f on a copy of a RUNNING cluster and starts an operation
// whose completion stores the result; the cluster shows interim while the
// operation runs.
func (s *Server) mutate(ctx context.Context, p, loc, c string, opType containerpb.Operation_Type, interim containerpb.Cluster_Status, f func(cl *containerpb.Cluster) error) (*containerpb.Operation, error) {
	defer s.lock(p)()
	cl, key, err := s.cluster(p, loc, c)
	if err != nil {
		return nil, err
	}
	if op := s.busy(key); op != "" || cl.Status != containerpb.Cluster_RUNNING {
		if op == "" {
			return nil, gkeErr(codes.FailedPrecondition, "Cluster %q is in status %s; the operation requires RUNNING.", c, cl.Status)
		}
		return nil, incompatible(op)
	}
	upd := proto.Clone(cl).(*containerpb.Cluster)
	if err := f(upd); err != nil {
		return nil, err
	}
	s.finishCluster(upd)
	now := proto.Clone(cl).(*containerpb.Cluster)
	now.Status = interim
	s.st.put(key, now)
	return s.containerOp(ctx, p, loc, opType, strings.TrimPrefix(key, "container/"),
		&pendingOp{Puts: map[string]proto.Message{key: upd}, FailPuts: map[string]proto.Message{key: cl}}), nil
}

func (x *clusterManager) UpdateCluster(ctx context.Context, req *containerpb.UpdateClusterRequest) (*containerpb.Operation, error) {
	p, loc, c, err := clusterRef(req.Name, req.ProjectId, req.Zone, req.ClusterId)
	if err != nil {
		return nil, err
	}
	u := req.GetUpdate()
	if u == nil {
		return nil, gkeField("update", "Update must be specified.")
	}
	return x.s.mutate(ctx, p, loc, c, containerpb.Operation_UPDATE_CLUSTER, containerpb.Cluster_RECONCILING, func(cl *containerpb.Cluster) error {
		if m := u.DesiredMasterAuthorizedNetworksConfig; m != nil {
			if err := checkAuthorizedNetworks("update.desiredMasterAuthorizedNetworksConfig", m); err != nil {
				return err
			}
			cl.MasterAuthorizedNetworksConfig = m
			cl.ControlPlaneEndpointsConfig.GetIpEndpointsConfig().AuthorizedNetworksConfig = m
		}
		if d := u.DesiredPrivateClusterConfig; d != nil {
			if cl.PrivateClusterConfig == nil {
				cl.PrivateClusterConfig = &containerpb.PrivateClusterConfig{}
			}
			if d.MasterGlobalAccessConfig != nil {
				cl.PrivateClusterConfig.MasterGlobalAccessConfig = d.MasterGlobalAccessConfig
			}
			if d.EnablePrivateEndpoint {
				cl.PrivateClusterConfig.EnablePrivateEndpoint = true
			}
		}
		if u.DesiredEnablePrivateEndpoint != nil {
			if cl.PrivateClusterConfig == nil {
				cl.PrivateClusterConfig = &containerpb.PrivateClusterConfig{}
			}
			cl.PrivateClusterConfig.EnablePrivateEndpoint = u.GetDesiredEnablePrivateEndpoint()
		}
		if d := u.DesiredControlPlaneEndpointsConfig.GetIpEndpointsConfig(); d != nil {
			if cl.PrivateClusterConfig == nil {
				cl.PrivateClusterConfig = &containerpb.PrivateClusterConfig{}
			}
			if d.GlobalAccess != nil {
				cl.PrivateClusterConfig.MasterGlobalAccessConfig = &containerpb.PrivateClusterMasterGlobalAccessConfig{Enabled: d.GetGlobalAccess()}
			}
			if d.EnablePublicEndpoint != nil {
				cl.PrivateClusterConfig.EnablePrivateEndpoint = !d.GetEnablePublicEndpoint()
			}
			if d.AuthorizedNetworksConfig != nil {
				if err := checkAuthorizedNetworks("update.desiredControlPlaneEndpointsConfig", d.AuthorizedNetworksConfig); err != nil {
					return err
				}
				cl.MasterAuthorizedNetworksConfig = d.AuthorizedNetworksConfig
			}
		}
		if w := u.DesiredWorkloadIdentityConfig; w != nil {
			if w.WorkloadPool != "" && w.WorkloadPool != p+".svc.id.goog" {
				return gkeField("update.desiredWorkloadIdentityConfig.workloadPool", "Workload Identity pool %q is invalid: it must be %q.", w.WorkloadPool, p+".svc.id.goog")
			}
			cl.WorkloadIdentityConfig = w
		}
		if a := u.DesiredNodePoolAutoscaling; a != nil {
			np := findPool(cl, u.DesiredNodePoolId)
			if np == nil {
				return gkeErr(codes.NotFound, "Node pool %q not found.", u.DesiredNodePoolId)
			}
			np.Autoscaling = a
		}
		if v := u.DesiredMasterVersion; v != "" {
			if v == "latest" || v == "-" {
				v = gkeVersion
			}
			cl.CurrentMasterVersion = v
		}
		if u.DesiredNodeVersion != "" {
			cl.CurrentNodeVersion = u.DesiredNodeVersion
		}
		if len(u.DesiredLocations) > 0 {
			cl.Locations = u.DesiredLocations
		}
		if r := u.DesiredReleaseChannel; r != nil {
			cl.ReleaseChannel = r
		}
		if a := u.DesiredAddonsConfig; a != nil {
			mergeAddons(cl, a)
		}
		syncEndpoints(cl)
		return checkAuthorizedLimit("update", cl)
	})
}

// syncEndpoints carries the legacy privateClusterConfig, which every update above changes, into
// the newer controlPlaneEndpointsConfig, so that both say the same after any update.
func syncEndpoints(cl *containerpb.Cluster) {
	ip := cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig()
	if ip == nil || cl.PrivateClusterConfig == nil {
		return
	}
	ip.EnablePublicEndpoint = proto.Bool(!cl.PrivateClusterConfig.GetEnablePrivateEndpoint())
	if g := cl.PrivateClusterConfig.GetMasterGlobalAccessConfig(); g != nil {
		ip.GlobalAccess = proto.Bool(g.GetEnabled())
	}
}

func findPool(cl *containerpb.Cluster, name string) *containerpb.NodePool {
	for _, np := range cl.NodePools {
		if np.Name == name {
			return np
		}
	}
	return nil
}

func (x *clusterManager) SetLabels(ctx context.Context, req *containerpb.SetLabelsRequest) (*containerpb.Operation, error) {
	p, loc, c, err := clusterRef(req.Name, req.ProjectId, req.Zone, req.ClusterId)
	if err != nil {
		return nil, err
	}
	return x.s.mutate(ctx, p, loc, c, containerpb.Operation_SET_LABELS, containerpb.Cluster_RUNNING, func(cl *containerpb.Cluster) error {
		if req.LabelFingerprint != cl.LabelFingerprint {
			return gkeErr(codes.FailedPrecondition, "Labels could not be set due to fingerprint mismatch. Expected %q, got %q.", cl.LabelFingerprint, req.LabelFingerprint)
		}
		cl.ResourceLabels = req.ResourceLabels
		if cl.ResourceLabels == nil {
			cl.ResourceLabels = map[string]string{}
		}
		cl.LabelFingerprint = labelFingerprint(cl.ResourceLabels)
		return nil
	})
}

func (x *clusterManager) SetMasterAuth(ctx context.Context, req *containerpb.SetMasterAuthRequest) (*containerpb.Operation, error) {
	return nil, gkeErr(codes.Unimplemented, "SetMasterAuth is not supported by the simulator.")
}

// --- node pools ---

func poolRef(name, project, zone, cluster, pool string) (p, loc, c, np string, err error) {
	if name != "" {
		parts := strings.Split(name, "/")
		if len(parts) != 8 || parts[6] != "nodePools" {
			return "", "", "", "", gkeField("name", "Invalid node pool name %q.", name)
		}
		return parts[1], parts[3], parts[5], parts[7], nil
	}
	return project, zone, cluster, pool, nil
}

func (x *clusterManager) CreateNodePool(ctx context.Context, req *containerpb.CreateNodePoolRequest) (*containerpb.Operation, error) {
	p, loc, c, err := clusterRef(req.Parent, req.ProjectId, req.Zone, req.ClusterId)
	if err != nil {
		return nil, err
	}
	np := proto.Clone(req.GetNodePool()).(*containerpb.NodePool)
	if np == nil || np.Name == "" {
		return nil, gkeField("nodePool.name", "Node pool name must be specified.")
	}
	s := x.s
	unlock := s.lock(p)
	if cl, _, err := s.cluster(p, loc, c); err == nil && findPool(cl, np.Name) != nil {
		unlock()
		return nil, gkeErr(codes.AlreadyExists, "Already exists: projects/%s/%s/%s/clusters/%s/nodePools/%s.", p, zonesOrLocations(loc), loc, c, np.Name)
	}
	unlock()
	return s.poolOp(ctx, p, loc, c, containerpb.Operation_CREATE_NODE_POOL, func(cl *containerpb.Cluster, final bool) error {
		if err := s.poolDefaults(cl, np); err != nil {
			return err
		}
		n := proto.Clone(np).(*containerpb.NodePool)
		n.Status = containerpb.NodePool_PROVISIONING
		if final {
			n.Status = containerpb.NodePool_RUNNING
		}
		cl.NodePools = append(cl.NodePools, n)
		return nil
	})
}

// poolOp applies f twice: once for the state shown while the operation
// runs and once for the final state.
func (s *Server) poolOp(ctx context.Context, p, loc, c string, opType containerpb.Operation_Type, f func(cl *containerpb.Cluster, final bool) error) (*containerpb.Operation, error) {
	defer s.lock(p)()
	cl, key, err := s.cluster(p, loc, c)
	if err != nil {
		return nil, err
	}
	if op := s.busy(key); op != "" || cl.Status != containerpb.Cluster_RUNNING {
		if op == "" {
			return nil, gkeErr(codes.FailedPrecondition, "Cluster %q is in status %s; the operation requires RUNNING.", c, cl.Status)
		}
		return nil, incompatible(op)
	}
	interim := proto.Clone(cl).(*containerpb.Cluster)
	final := proto.Clone(cl).(*containerpb.Cluster)
	if err := f(interim, false); err != nil {
		return nil, err
	}
	if err := f(final, true); err != nil {
		return nil, err
	}
	s.finishCluster(interim)
	s.finishCluster(final)
	s.st.put(key, interim)
	return s.containerOp(ctx, p, loc, opType, strings.TrimPrefix(key, "container/"),
		&pendingOp{Puts: map[string]proto.Message{key: final}, FailPuts: map[string]proto.Message{key: cl}}), nil
}

func (x *clusterManager) GetNodePool(ctx context.Context, req *containerpb.GetNodePoolRequest) (*containerpb.NodePool, error) {
	p, loc, c, name, err := poolRef(req.Name, req.ProjectId, req.Zone, req.ClusterId, req.NodePoolId)
	if err != nil {
		return nil, err
	}
	defer x.s.lock(p)()
	cl, _, err := x.s.cluster(p, loc, c)
	if err != nil {
		return nil, err
	}
	np := findPool(cl, name)
	if np == nil {
		return nil, gkeErr(codes.NotFound, "Not found: projects/%s/%s/%s/clusters/%s/nodePools/%s.", p, zonesOrLocations(loc), loc, c, name)
	}
	return proto.Clone(np).(*containerpb.NodePool), nil
}

func (x *clusterManager) ListNodePools(ctx context.Context, req *containerpb.ListNodePoolsRequest) (*containerpb.ListNodePoolsResponse, error) {
	p, loc, c, err := clusterRef(req.Parent, req.ProjectId, req.Zone, req.ClusterId)
	if err != nil {
		return nil, err
	}
	defer x.s.lock(p)()
	cl, _, err := x.s.cluster(p, loc, c)
	if err != nil {
		return nil, err
	}
	out := &containerpb.ListNodePoolsResponse{}
	for _, np := range cl.NodePools {
		out.NodePools = append(out.NodePools, proto.Clone(np).(*containerpb.NodePool))
	}
	return out, nil
}

func (x *clusterManager) DeleteNodePool(ctx context.Context, req *containerpb.DeleteNodePoolRequest) (*containerpb.Operation, error) {
	p, loc, c, name, err := poolRef(req.Name, req.ProjectId, req.Zone, req.ClusterId, req.NodePoolId)
	if err != nil {
		return nil, err
	}
	return x.s.poolOp(ctx, p, loc, c, containerpb.Operation_DELETE_NODE_POOL, func(cl *containerpb.Cluster, final bool) error {
		np := findPool(cl, name)
		if np == nil {
			return gkeErr(codes.NotFound, "Not found: projects/%s/%s/%s/clusters/%s/nodePools/%s.", p, zonesOrLocations(loc), loc, c, name)
		}
		if !final {
			np.Status = containerpb.NodePool_STOPPING
			return nil
		}
		var keep []*containerpb.NodePool
		for _, n := range cl.NodePools {
			if n.Name != name {
				keep = append(keep, n)
			}
		}
		cl.NodePools = keep
		return nil
	})
}

func (x *clusterManager) updatePool(ctx context.Context, name, project, zone, cluster, pool string, opType containerpb.Operation_Type, f func(cl *containerpb.Cluster, np *containerpb.NodePool) error) (*containerpb.Operation, error) {
	p, loc, c, npName, err := poolRef(name, project, zone, cluster, pool)
	if err != nil {
		return nil, err
	}
	return x.s.poolOp(ctx, p, loc, c, opType, func(cl *containerpb.Cluster, final bool) error {
		np := findPool(cl, npName)
		if np == nil {
			return gkeErr(codes.NotFound, "Not found: projects/%s/%s/%s/clusters/%s/nodePools/%s.", p, zonesOrLocations(loc), loc, c, npName)
		}
		if !final {
			np.Status = containerpb.NodePool_RECONCILING
			return nil
		}
		if err := f(cl, np); err != nil {
			return err
		}
		np.Etag = ""
		np.Etag = fingerprint(np)
		return nil
	})
}

func (x *clusterManager) UpdateNodePool(ctx context.Context, req *containerpb.UpdateNodePoolRequest) (*containerpb.Operation, error) {
	return x.updatePool(ctx, req.Name, req.ProjectId, req.Zone, req.ClusterId, req.NodePoolId, containerpb.Operation_UPGRADE_NODES, func(cl *containerpb.Cluster, np *containerpb.NodePool) error {
		if req.Etag != "" && req.Etag != np.Etag {
			return gkeErr(codes.Aborted, "Node pool etag %q does not match the current etag.", req.Etag)
		}
		if req.NodeVersion != "" {
			np.Version = req.NodeVersion
			if np.Version == "latest" || np.Version == "-" {
				np.Version = gkeVersion
			}
		}
		if len(req.Locations) > 0 {
			np.Locations = req.Locations
		}
		if req.Tags != nil {
			np.Config.Tags = req.Tags.Tags
		}
		if req.Labels != nil {
			np.Config.Labels = req.Labels.Labels
		}
		if req.ResourceLabels != nil {
			np.Config.ResourceLabels = req.ResourceLabels.Labels
		}
		if req.MachineType != "" {
			np.Config.MachineType = req.MachineType
		}
		if req.DiskSizeGb != 0 {
			np.Config.DiskSizeGb = int32(req.DiskSizeGb)
		}
		if req.UpgradeSettings != nil {
			np.UpgradeSettings = req.UpgradeSettings
		}
		if req.WorkloadMetadataConfig != nil {
			if err := checkWorkloadMetadata(cl, "workloadMetadataConfig.mode", req.WorkloadMetadataConfig); err != nil {
				return err
			}
			np.Config.WorkloadMetadataConfig = req.WorkloadMetadataConfig
		}
		return nil
	})
}

// checkWorkloadMetadata refuses GKE_METADATA, the GKE metadata server on the nodes, in a cluster
// without Workload Identity: GKE enables it only where the cluster has a workload pool.
func checkWorkloadMetadata(cl *containerpb.Cluster, field string, w *containerpb.WorkloadMetadataConfig) error {
	if w.GetMode() == containerpb.WorkloadMetadataConfig_GKE_METADATA && cl.GetWorkloadIdentityConfig().GetWorkloadPool() == "" {
		return gkeField(field, "Workload metadata mode GKE_METADATA requires Workload Identity on cluster %q: set workloadIdentityConfig.workloadPool first.", cl.GetName())
	}
	return nil
}

func (x *clusterManager) SetNodePoolAutoscaling(ctx context.Context, req *containerpb.SetNodePoolAutoscalingRequest) (*containerpb.Operation, error) {
	return x.updatePool(ctx, req.Name, req.ProjectId, req.Zone, req.ClusterId, req.NodePoolId, containerpb.Operation_SET_NODE_POOL_MANAGEMENT, func(cl *containerpb.Cluster, np *containerpb.NodePool) error {
		a := req.GetAutoscaling()
		if a.GetEnabled() && a.MinNodeCount > a.MaxNodeCount {
			return gkeField("autoscaling", "Invalid autoscaling: min_node_count %d is greater than max_node_count %d.", a.MinNodeCount, a.MaxNodeCount)
		}
		np.Autoscaling = a
		return nil
	})
}

func (x *clusterManager) SetNodePoolSize(ctx context.Context, req *containerpb.SetNodePoolSizeRequest) (*containerpb.Operation, error) {
	return x.updatePool(ctx, req.Name, req.ProjectId, req.Zone, req.ClusterId, req.NodePoolId, containerpb.Operation_SET_NODE_POOL_SIZE, func(cl *containerpb.Cluster, np *containerpb.NodePool) error {
		np.InitialNodeCount = req.NodeCount
		return nil
	})
}

func (x *clusterManager) GetOperation(ctx context.Context, req *containerpb.GetOperationRequest) (*containerpb.Operation, error) {
	p, loc, name := req.ProjectId, req.Zone, req.OperationId
	if req.Name != "" {
		parts := strings.Split(req.Name, "/")
		if len(parts) != 6 {
			return nil, gkeField("name", "Invalid operation name %q.", req.Name)
		}
		p, loc, name = parts[1], parts[3], parts[5]
	}
	defer x.s.lock(p)()
	op, _ := x.s.st.get("container/projects/" + p + "/locations/" + loc + "/operations/" + name).(*containerpb.Operation)
	if op == nil {
		return nil, gkeErr(codes.NotFound, "Not found: projects/%s/%s/%s/operations/%s.", p, zonesOrLocations(loc), loc, name)
	}
	return proto.Clone(op).(*containerpb.Operation), nil
}

func (x *clusterManager) ListOperations(ctx context.Context, req *containerpb.ListOperationsRequest) (*containerpb.ListOperationsResponse, error) {
	p, loc, err := parentRef(req.Parent, req.ProjectId, req.Zone)
	if err != nil {
		return nil, err
	}
	defer x.s.lock(p)()
	out := &containerpb.ListOperationsResponse{}
	for _, k := range x.s.st.match("container/projects/" + p + "/locations/*/operations/*") {
		op := x.s.st.get(k).(*containerpb.Operation)
		if loc == "-" || op.Location == loc {
			out.Operations = append(out.Operations, proto.Clone(op).(*containerpb.Operation))
		}
	}
	return out, nil
}

func (x *clusterManager) CancelOperation(ctx context.Context, req *containerpb.CancelOperationRequest) (*emptypb.Empty, error) {
	return nil, gkeErr(codes.FailedPrecondition, "Operation cannot be cancelled.")
}

func (x *clusterManager) GetServerConfig(ctx context.Context, req *containerpb.GetServerConfigRequest) (*containerpb.ServerConfig, error) {
	versions := []string{gkeVersion, "1.32.9-gke.1100000", "1.31.13-gke.1200000"}
	return &containerpb.ServerConfig{
		DefaultClusterVersion: gkeVersion,
		ValidMasterVersions:   versions,
		ValidNodeVersions:     versions,
		DefaultImageType:      "COS_CONTAINERD",
		ValidImageTypes:       []string{"COS_CONTAINERD", "UBUNTU_CONTAINERD"},
		Channels: []*containerpb.ServerConfig_ReleaseChannelConfig{
			{Channel: containerpb.ReleaseChannel_RAPID, DefaultVersion: gkeVersion, ValidVersions: versions[:1]},
			{Channel: containerpb.ReleaseChannel_REGULAR, DefaultVersion: gkeVersion, ValidVersions: versions[:2]},
			{Channel: containerpb.ReleaseChannel_STABLE, DefaultVersion: versions[1], ValidVersions: versions[1:]},
		},
	}, nil
}

// clusterUsingSubnet names a cluster on the subnet, which blocks deleting it.
func (s *Server) clusterUsingSubnet(subnet string) string {
	for _, k := range s.st.match("container/projects/*/locations/*/clusters/*") {
		if s.st.get(k).(*containerpb.Cluster).GetNetworkConfig().GetSubnetwork() == subnet {
			return strings.TrimPrefix(k, "container/")
		}
	}
	return ""
}

func (s *Server) clusterUsingRange(subnet, rangeName string) string {
	for _, k := range s.st.match("container/projects/*/locations/*/clusters/*") {
		c := s.st.get(k).(*containerpb.Cluster)
		ipp := c.GetIpAllocationPolicy()
		if c.GetNetworkConfig().GetSubnetwork() == subnet && (ipp.GetClusterSecondaryRangeName() == rangeName || ipp.GetServicesSecondaryRangeName() == rangeName) {
			return strings.TrimPrefix(k, "container/")
		}
	}
	return ""
}
