package gcpfake

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// --- Subnetworks ---

type subnetworks struct {
	computepb.UnimplementedSubnetworksServer
	s *Server
}

type usedRange struct {
	prefix netip.Prefix
	subnet string
	region string
}

// rangesOf lists every primary and secondary range in a network, including
// subnets still being created, except the subnet named skip.
func (s *Server) rangesOf(network, skip string) []usedRange {
	project := strings.Split(network, "/")[1]
	var out []usedRange
	add := func(k string, sn *computepb.Subnetwork) {
		if canon(sn.GetNetwork()) != network || strings.TrimPrefix(k, "compute/") == skip {
			return
		}
		region := strings.Split(k, "/")[4]
		if p, err := netip.ParsePrefix(sn.GetIpCidrRange()); err == nil {
			out = append(out, usedRange{p, sn.GetName(), region})
		}
		for _, r := range sn.SecondaryIpRanges {
			if p, err := netip.ParsePrefix(r.GetIpCidrRange()); err == nil {
				out = append(out, usedRange{p, sn.GetName(), region})
			}
		}
	}
	for _, k := range s.st.match("compute/projects/" + project + "/regions/*/subnetworks/*") {
		add(k, s.st.get(k).(*computepb.Subnetwork))
	}
	for _, p := range s.st.pending {
		for k, v := range p.Puts {
			if sn, ok := v.(*computepb.Subnetwork); ok && s.st.get(k) == nil {
				add(k, sn)
			}
		}
	}
	return out
}

func parseCIDR(field, v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() || p.Masked() != p || p.Bits() > 29 || p.Bits() < 8 {
		return netip.Prefix{}, computeInvalid(field, "Invalid value for field '%s': '%s'. Must be a CIDR address range that is contained in the RFC1918 space.", field, v)
	}
	return p, nil
}

// checkRanges validates a subnet's ranges against each other and the rest
// of its network.
func (s *Server) checkRanges(sn *computepb.Subnetwork, network, self string) error {
	primary, err := parseCIDR("resource.ipCidrRange", sn.GetIpCidrRange())
	if err != nil {
		return err
	}
	mine := []netip.Prefix{primary}
	seen := map[string]bool{}
	for i, r := range sn.SecondaryIpRanges {
		f := fmt.Sprintf("resource.secondaryIpRanges[%d]", i)
		if err := checkName(f+".rangeName", r.GetRangeName()); err != nil {
			return err
		}
		if seen[r.GetRangeName()] {
			return computeInvalid(f+".rangeName", "Invalid value for field '%s.rangeName': '%s'. The secondary range name must be unique within the subnetwork.", f, r.GetRangeName())
		}
		seen[r.GetRangeName()] = true
		p, err := parseCIDR(f+".ipCidrRange", r.GetIpCidrRange())
		if err != nil {
			return err
		}
		for _, m := range mine {
			if m.Overlaps(p) {
				return computeInvalid(f+".ipCidrRange", "Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' in region '%s'.", p, sn.GetName(), regionFromLink(sn.GetRegion()))
			}
		}
		mine = append(mine, p)
	}
	for _, used := range s.rangesOf(network, self) {
		for _, m := range mine {
			if m.Overlaps(used.prefix) {
				return computeInvalid("resource.ipCidrRange", "Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' in region '%s'.", m, used.subnet, used.region)
			}
		}
	}
	return nil
}

func regionFromLink(l string) string {
	l = strings.TrimSuffix(l, "/")
	return l[strings.LastIndex(l, "/")+1:]
}

func (x *subnetworks) Insert(ctx context.Context, req *computepb.InsertSubnetworkRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	if err := s.requireService(req.Project, "compute.googleapis.com"); err != nil {
		return nil, err
	}
	sn := proto.Clone(req.GetSubnetworkResource()).(*computepb.Subnetwork)
	if err := checkName("resource.name", sn.GetName()); err != nil {
		return nil, err
	}
	fqn := "projects/" + req.Project + "/regions/" + req.Region + "/subnetworks/" + sn.GetName()
	if s.st.get("compute/"+fqn) != nil || s.st.inFlight("compute/"+fqn) {
		return nil, computeExists(fqn)
	}
	if sn.GetNetwork() == "" {
		return nil, computeInvalid("resource.network", "Invalid value for field 'resource.network': ''. The referenced network resource cannot be found.")
	}
	network := resolveRef(req.Project, sn.GetNetwork())
	if s.st.get("compute/"+network) == nil {
		return nil, computeNotFound(network)
	}
	sn.Network = proto.String(computeLink(network))
	sn.Region = proto.String(computeLink("projects/" + req.Project + "/regions/" + req.Region))
	if err := s.checkRanges(sn, network, fqn); err != nil {
		return nil, err
	}
	s.subnetDefaults(fqn, req.Region, sn)
	return s.computeOp(ctx, req.Project, "regions/"+req.Region, "insert", fqn, sn.GetId(),
		&pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: sn}}), nil
}

func (s *Server) subnet(project, region, name string) (*computepb.Subnetwork, string, error) {
	fqn := "projects/" + project + "/regions/" + region + "/subnetworks/" + name
	sn, _ := s.st.get("compute/" + fqn).(*computepb.Subnetwork)
	if sn == nil {
		return nil, fqn, computeNotFound(fqn)
	}
	return sn, fqn, nil
}

func (x *subnetworks) Get(ctx context.Context, req *computepb.GetSubnetworkRequest) (*computepb.Subnetwork, error) {
	defer x.s.lock(req.Project)()
	sn, _, err := x.s.subnet(req.Project, req.Region, req.Subnetwork)
	if err != nil {
		return nil, err
	}
	return proto.Clone(sn).(*computepb.Subnetwork), nil
}

func (x *subnetworks) List(ctx context.Context, req *computepb.ListSubnetworksRequest) (*computepb.SubnetworkList, error) {
	s := x.s
	defer s.lock(req.Project)()
	var keys []string
	for _, k := range s.st.list("compute/projects/" + req.Project + "/regions/" + req.Region + "/subnetworks/") {
		if matchFilter(s.st.get(k), req.Filter) {
			keys = append(keys, k)
		}
	}
	keys, next := page(keys, req.MaxResults, req.PageToken)
	out := &computepb.SubnetworkList{Kind: proto.String("compute#subnetworkList"), NextPageToken: next,
		SelfLink: proto.String(computeLink("projects/" + req.Project + "/regions/" + req.Region + "/subnetworks"))}
	for _, k := range keys {
		out.Items = append(out.Items, proto.Clone(s.st.get(k)).(*computepb.Subnetwork))
	}
	return out, nil
}

func (x *subnetworks) AggregatedList(ctx context.Context, req *computepb.AggregatedListSubnetworksRequest) (*computepb.SubnetworkAggregatedList, error) {
	s := x.s
	defer s.lock(req.Project)()
	out := &computepb.SubnetworkAggregatedList{Kind: proto.String("compute#subnetworkAggregatedList"),
		Items:    map[string]*computepb.SubnetworksScopedList{},
		SelfLink: proto.String(computeLink("projects/" + req.Project + "/aggregated/subnetworks"))}
	for _, k := range s.st.match("compute/projects/" + req.Project + "/regions/*/subnetworks/*") {
		sn := s.st.get(k).(*computepb.Subnetwork)
		if !matchFilter(sn, req.Filter) {
			continue
		}
		key := "regions/" + strings.Split(k, "/")[4]
		if out.Items[key] == nil {
			out.Items[key] = &computepb.SubnetworksScopedList{}
		}
		out.Items[key].Subnetworks = append(out.Items[key].Subnetworks, proto.Clone(sn).(*computepb.Subnetwork))
	}
	return out, nil
}

func (x *subnetworks) Delete(ctx context.Context, req *computepb.DeleteSubnetworkRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	sn, fqn, err := s.subnet(req.Project, req.Region, req.Subnetwork)
	if err != nil {
		return nil, err
	}
	if by := s.clusterUsingSubnet(fqn); by != "" {
		return nil, computeInUse(fqn, by)
	}
	if by := s.instanceUsingSubnet(fqn); by != "" {
		return nil, computeInUse(fqn, by)
	}
	return s.computeOp(ctx, req.Project, "regions/"+req.Region, "delete", fqn, sn.GetId(), &pendingOp{Dels: []string{"compute/" + fqn}}), nil
}

func (x *subnetworks) Patch(ctx context.Context, req *computepb.PatchSubnetworkRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	sn, fqn, err := s.subnet(req.Project, req.Region, req.Subnetwork)
	if err != nil {
		return nil, err
	}
	in := req.GetSubnetworkResource()
	if !sameFingerprint(in.GetFingerprint(), sn.GetFingerprint()) {
		return nil, fingerprintMismatch(fqn)
	}
	// A subnetwork's description and network are set only when it is created: subnetworks.patch
	// refuses a request that would change either, naming them.
	var fixed []string
	if in.Description != nil && in.GetDescription() != sn.GetDescription() {
		fixed = append(fixed, "description")
	}
	if in.Network != nil && canon(in.GetNetwork()) != canon(sn.GetNetwork()) {
		fixed = append(fixed, "network")
	}
	if len(fixed) > 0 {
		return nil, notModifiable(in, fixed)
	}
	upd := proto.Clone(sn).(*computepb.Subnetwork)
	if in.PrivateIpGoogleAccess != nil {
		upd.PrivateIpGoogleAccess = in.PrivateIpGoogleAccess
	}
	if in.LogConfig != nil {
		upd.LogConfig = in.LogConfig
	}
	if in.IpCidrRange != nil && in.GetIpCidrRange() != sn.GetIpCidrRange() {
		return nil, computeInvalid("resource.ipCidrRange", "Invalid value for field 'resource.ipCidrRange': '%s'. Use expandIpCidrRange to change the primary range.", in.GetIpCidrRange())
	}
	// Secondary ranges are replaced as a whole: the request carries the
	// complete desired list (an empty list clears them all only when sent).
	if in.SecondaryIpRanges != nil || fieldSent(ctx, "secondaryIpRanges") {
		keep := map[string]bool{}
		for _, r := range in.SecondaryIpRanges {
			keep[r.GetRangeName()] = true
		}
		for _, r := range sn.SecondaryIpRanges {
			if !keep[r.GetRangeName()] {
				if by := s.clusterUsingRange(fqn, r.GetRangeName()); by != "" {
					return nil, computeInvalid("resource.secondaryIpRanges", "The secondary range '%s' of subnetwork '%s' is in use by '%s' and cannot be removed.", r.GetRangeName(), fqn, by)
				}
			}
		}
		upd.SecondaryIpRanges = in.SecondaryIpRanges
	}
	network := canon(sn.GetNetwork())
	if err := s.checkRanges(upd, network, fqn); err != nil {
		return nil, err
	}
	upd.Fingerprint = nil
	upd.Fingerprint = proto.String(fingerprint(upd))
	return s.computeOp(ctx, req.Project, "regions/"+req.Region, "patch", fqn, sn.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: upd}}), nil
}

func (x *subnetworks) SetPrivateIpGoogleAccess(ctx context.Context, req *computepb.SetPrivateIpGoogleAccessSubnetworkRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	sn, fqn, err := s.subnet(req.Project, req.Region, req.Subnetwork)
	if err != nil {
		return nil, err
	}
	upd := proto.Clone(sn).(*computepb.Subnetwork)
	upd.PrivateIpGoogleAccess = proto.Bool(req.GetSubnetworksSetPrivateIpGoogleAccessRequestResource().GetPrivateIpGoogleAccess())
	upd.Fingerprint = nil
	upd.Fingerprint = proto.String(fingerprint(upd))
	return s.computeOp(ctx, req.Project, "regions/"+req.Region, "setPrivateIpGoogleAccess", fqn, sn.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: upd}}), nil
}

func (x *subnetworks) GetIamPolicy(ctx context.Context, req *computepb.GetIamPolicySubnetworkRequest) (*computepb.Policy, error) {
	s := x.s
	defer s.lock(req.Project)()
	_, fqn, err := s.subnet(req.Project, req.Region, req.Resource)
	if err != nil {
		return nil, err
	}
	return s.computePolicy(fqn), nil
}

func (s *Server) computePolicy(fqn string) *computepb.Policy {
	if p, ok := s.st.get("policy/compute/" + fqn).(*computepb.Policy); ok {
		return proto.Clone(p).(*computepb.Policy)
	}
	return &computepb.Policy{Version: proto.Int32(1), Etag: proto.String("ACAB")}
}

func (x *subnetworks) SetIamPolicy(ctx context.Context, req *computepb.SetIamPolicySubnetworkRequest) (*computepb.Policy, error) {
	s := x.s
	defer s.lock(req.Project)()
	_, fqn, err := s.subnet(req.Project, req.Region, req.Resource)
	if err != nil {
		return nil, err
	}
	in := req.GetRegionSetPolicyRequestResource()
	cur := s.computePolicy(fqn)
	p := in.GetPolicy()
	if p == nil {
		p = &computepb.Policy{Bindings: in.Bindings, Etag: in.Etag}
	}
	p = proto.Clone(p).(*computepb.Policy)
	if p.Etag != nil && p.GetEtag() != cur.GetEtag() {
		return nil, fingerprintMismatch(fqn)
	}
	p.Version = proto.Int32(1)
	p.Etag = nil
	p.Etag = proto.String(fingerprint(p))
	s.st.put("policy/compute/"+fqn, p)
	return proto.Clone(p).(*computepb.Policy), nil
}

// --- Firewalls ---

type firewalls struct {
	computepb.UnimplementedFirewallsServer
	s *Server
}

var protocols = map[string]bool{"tcp": true, "udp": true, "icmp": true, "esp": true, "ah": true, "sctp": true, "ipip": true, "all": true}

func (s *Server) checkFirewall(project string, fw *computepb.Firewall) error {
	if err := checkName("resource.name", fw.GetName()); err != nil {
		return err
	}
	if fw.GetNetwork() == "" {
		fw.Network = proto.String("global/networks/default")
	}
	network := resolveRef(project, fw.GetNetwork())
	if !strings.HasPrefix(network, "projects/") {
		return computeInvalid("resource.network", "Invalid value for field 'resource.network': '%s'. The URL is malformed.", fw.GetNetwork())
	}
	if s.st.get("compute/"+network) == nil {
		return computeNotFound(network)
	}
	fw.Network = proto.String(computeLink(network))
	if (len(fw.Allowed) == 0) == (len(fw.Denied) == 0) {
		return computeInvalid("resource", "Invalid value for field 'resource': ''. Exactly one of allowed or denied must be specified.")
	}
	type rule struct {
		proto string
		ports []string
	}
	var rules []rule
	for _, a := range fw.Allowed {
		rules = append(rules, rule{a.GetIPProtocol(), a.Ports})
	}
	for _, d := range fw.Denied {
		rules = append(rules, rule{d.GetIPProtocol(), d.Ports})
	}
	for i, r := range rules {
		if n, err := strconv.Atoi(r.proto); !protocols[r.proto] && (err != nil || n < 0 || n > 255) {
			return computeInvalid(fmt.Sprintf("resource.allowed[%d].IPProtocol", i), "Invalid value for field 'resource.allowed[%d].IPProtocol': '%s'. Invalid IP protocol specification.", i, r.proto)
		}
		for _, p := range r.ports {
			if len(r.ports) > 0 && r.proto != "tcp" && r.proto != "udp" && r.proto != "sctp" && r.proto != "all" {
				return computeInvalid("resource.allowed", "Invalid value for field 'resource.allowed[%d].ports[0]': '%s'. Ports may only be specified on rules whose protocol is one of [TCP, UDP, SCTP].", i, p)
			}
			lo, hi, ok := strings.Cut(p, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || a < 0 || b > 65535 || a > b {
				return computeInvalid("resource.allowed", "Invalid value for field 'resource.allowed[%d].ports[0]': '%s'. Invalid port specification.", i, p)
			}
		}
	}
	if fw.Direction == nil {
		fw.Direction = proto.String("INGRESS")
	}
	if d := fw.GetDirection(); d != "INGRESS" && d != "EGRESS" {
		return computeInvalid("resource.direction", "Invalid value for field 'resource.direction': '%s'.", d)
	}
	if fw.Priority == nil {
		fw.Priority = proto.Int32(1000)
	}
	if p := fw.GetPriority(); p < 0 || p > 65535 {
		return computeInvalid("resource.priority", "Invalid value for field 'resource.priority': '%d'. Must be greater than or equal to 0 and less than or equal to 65535.", p)
	}
	for field, list := range map[string][]string{"sourceRanges": fw.SourceRanges, "destinationRanges": fw.DestinationRanges} {
		for i, c := range list {
			if _, err := netip.ParsePrefix(c); err != nil {
				if _, err := netip.ParseAddr(c); err != nil {
					return computeInvalid("resource."+field, "Invalid value for field 'resource.%s[%d]': '%s'. Must be a CIDR address range.", field, i, c)
				}
			}
		}
	}
	if fw.GetDirection() == "EGRESS" && len(fw.SourceTags) > 0 {
		return computeInvalid("resource.sourceTags", "Invalid value for field 'resource.sourceTags': ''. Source tags cannot be set for EGRESS rules.")
	}
	if fw.GetDirection() == "INGRESS" && len(fw.SourceRanges) == 0 && len(fw.SourceTags) == 0 && len(fw.SourceServiceAccounts) == 0 {
		fw.SourceRanges = []string{"0.0.0.0/0"}
	}
	if fw.GetDirection() == "EGRESS" && len(fw.DestinationRanges) == 0 {
		fw.DestinationRanges = []string{"0.0.0.0/0"}
	}
	if fw.Disabled == nil {
		fw.Disabled = proto.Bool(false)
	}
	if fw.LogConfig == nil {
		fw.LogConfig = &computepb.FirewallLogConfig{Enable: proto.Bool(false)}
	}
	fw.Kind = proto.String("compute#firewall")
	return nil
}

func (x *firewalls) Insert(ctx context.Context, req *computepb.InsertFirewallRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	if err := s.requireService(req.Project, "compute.googleapis.com"); err != nil {
		return nil, err
	}
	fw := proto.Clone(req.GetFirewallResource()).(*computepb.Firewall)
	fqn := "projects/" + req.Project + "/global/firewalls/" + fw.GetName()
	if nameRE.MatchString(fw.GetName()) && (s.st.get("compute/"+fqn) != nil || s.st.inFlight("compute/"+fqn)) {
		return nil, computeExists(fqn)
	}
	if err := s.checkFirewall(req.Project, fw); err != nil {
		return nil, err
	}
	fw.Id = proto.Uint64(s.st.nextID(fqn))
	fw.CreationTimestamp = proto.String(s.ts())
	fw.SelfLink = proto.String(computeLink(fqn))
	return s.computeOp(ctx, req.Project, "global", "insert", fqn, fw.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: fw}}), nil
}

func (s *Server) firewall(project, name string) (*computepb.Firewall, string, error) {
	fqn := "projects/" + project + "/global/firewalls/" + name
	fw, _ := s.st.get("compute/" + fqn).(*computepb.Firewall)
	if fw == nil {
		return nil, fqn, computeNotFound(fqn)
	}
	return fw, fqn, nil
}

func (x *firewalls) Get(ctx context.Context, req *computepb.GetFirewallRequest) (*computepb.Firewall, error) {
	defer x.s.lock(req.Project)()
	fw, _, err := x.s.firewall(req.Project, req.Firewall)
	if err != nil {
		return nil, err
	}
	return proto.Clone(fw).(*computepb.Firewall), nil
}

func (x *firewalls) List(ctx context.Context, req *computepb.ListFirewallsRequest) (*computepb.FirewallList, error) {
	s := x.s
	defer s.lock(req.Project)()
	var keys []string
	for _, k := range s.st.list("compute/projects/" + req.Project + "/global/firewalls/") {
		if matchFilter(s.st.get(k), req.Filter) {
			keys = append(keys, k)
		}
	}
	keys, next := page(keys, req.MaxResults, req.PageToken)
	out := &computepb.FirewallList{Kind: proto.String("compute#firewallList"), Id: proto.String("projects/" + req.Project + "/global/firewalls"),
		SelfLink: proto.String(computeLink("projects/" + req.Project + "/global/firewalls")), NextPageToken: next}
	for _, k := range keys {
		out.Items = append(out.Items, proto.Clone(s.st.get(k)).(*computepb.Firewall))
	}
	return out, nil
}

func (x *firewalls) Delete(ctx context.Context, req *computepb.DeleteFirewallRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	fw, fqn, err := s.firewall(req.Project, req.Firewall)
	if err != nil {
		return nil, err
	}
	return s.computeOp(ctx, req.Project, "global", "delete", fqn, fw.GetId(), &pendingOp{Dels: []string{"compute/" + fqn}}), nil
}

func (x *firewalls) Patch(ctx context.Context, req *computepb.PatchFirewallRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	fw, fqn, err := s.firewall(req.Project, req.Firewall)
	if err != nil {
		return nil, err
	}
	upd := proto.Clone(fw).(*computepb.Firewall)
	in := proto.Clone(req.GetFirewallResource()).(*computepb.Firewall)
	if in.Name != nil && in.GetName() != fw.GetName() {
		return nil, computeInvalid("resource.name", "Invalid value for field 'resource.name': '%s'. Resource name cannot be changed.", in.GetName())
	}
	in.Id, in.SelfLink, in.CreationTimestamp, in.Kind = nil, nil, nil, nil
	patchMerge(upd, in)
	// A patch that switches allowed to denied (or back) clears the other.
	if len(in.Allowed) > 0 {
		upd.Denied = nil
	}
	if len(in.Denied) > 0 {
		upd.Allowed = nil
	}
	if err := s.checkFirewall(req.Project, upd); err != nil {
		return nil, err
	}
	return s.computeOp(ctx, req.Project, "global", "patch", fqn, fw.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: upd}}), nil
}

func (x *firewalls) Update(ctx context.Context, req *computepb.UpdateFirewallRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	fw, fqn, err := s.firewall(req.Project, req.Firewall)
	if err != nil {
		return nil, err
	}
	upd := proto.Clone(req.GetFirewallResource()).(*computepb.Firewall)
	if upd.Name == nil {
		upd.Name = fw.Name
	}
	if upd.GetName() != fw.GetName() {
		return nil, computeInvalid("resource.name", "Invalid value for field 'resource.name': '%s'. Resource name cannot be changed.", upd.GetName())
	}
	if err := s.checkFirewall(req.Project, upd); err != nil {
		return nil, err
	}
	upd.Id, upd.CreationTimestamp, upd.SelfLink = fw.Id, fw.CreationTimestamp, fw.SelfLink
	return s.computeOp(ctx, req.Project, "global", "update", fqn, fw.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: upd}}), nil
}

// --- Routers ---

type routers struct {
	computepb.UnimplementedRoutersServer
	s *Server
}

func (s *Server) checkRouter(project, region string, r *computepb.Router) error {
	if err := checkName("resource.name", r.GetName()); err != nil {
		return err
	}
	if r.GetNetwork() == "" {
		return computeInvalid("resource.network", "Invalid value for field 'resource.network': ''. The referenced network resource cannot be found.")
	}
	network := resolveRef(project, r.GetNetwork())
	if s.st.get("compute/"+network) == nil {
		return computeNotFound(network)
	}
	r.Network = proto.String(computeLink(network))
	r.Region = proto.String(computeLink("projects/" + project + "/regions/" + region))
	r.Kind = proto.String("compute#router")
	names := map[string]bool{}
	for i, n := range r.Nats {
		f := fmt.Sprintf("resource.nats[%d]", i)
		if err := checkName(f+".name", n.GetName()); err != nil {
			return err
		}
		if names[n.GetName()] {
			return computeInvalid(f+".name", "Invalid value for field '%s.name': '%s'. Duplicate NAT name.", f, n.GetName())
		}
		names[n.GetName()] = true
		switch n.GetNatIpAllocateOption() {
		case "AUTO_ONLY", "MANUAL_ONLY":
		case "":
			if n.GetType() != "PRIVATE" {
				return computeInvalid(f+".natIpAllocateOption", "Invalid value for field '%s.natIpAllocateOption': ''. Must be AUTO_ONLY or MANUAL_ONLY.", f)
			}
		default:
			return computeInvalid(f+".natIpAllocateOption", "Invalid value for field '%s.natIpAllocateOption': '%s'.", f, n.GetNatIpAllocateOption())
		}
		switch n.GetSourceSubnetworkIpRangesToNat() {
		case "ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES":
		case "LIST_OF_SUBNETWORKS":
			for j, sub := range n.Subnetworks {
				ref := resolveRef(project, sub.GetName())
				if s.st.get("compute/"+ref) == nil {
					return computeNotFound(ref)
				}
				n.Subnetworks[j].Name = proto.String(computeLink(ref))
			}
		default:
			return computeInvalid(f+".sourceSubnetworkIpRangesToNat", "Invalid value for field '%s.sourceSubnetworkIpRangesToNat': '%s'.", f, n.GetSourceSubnetworkIpRangesToNat())
		}
		if len(n.EndpointTypes) == 0 {
			n.EndpointTypes = []string{"ENDPOINT_TYPE_VM"}
		}
		if n.Type == nil {
			n.Type = proto.String("PUBLIC")
		}
		if n.EnableEndpointIndependentMapping == nil {
			n.EnableEndpointIndependentMapping = proto.Bool(false)
		}
	}
	return s.checkNatSubnets(project, region, r)
}

func (x *routers) Insert(ctx context.Context, req *computepb.InsertRouterRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	if err := s.requireService(req.Project, "compute.googleapis.com"); err != nil {
		return nil, err
	}
	r := proto.Clone(req.GetRouterResource()).(*computepb.Router)
	fqn := "projects/" + req.Project + "/regions/" + req.Region + "/routers/" + r.GetName()
	if s.st.get("compute/"+fqn) != nil || s.st.inFlight("compute/"+fqn) {
		return nil, computeExists(fqn)
	}
	if err := s.checkRouter(req.Project, req.Region, r); err != nil {
		return nil, err
	}
	r.Id = proto.Uint64(s.st.nextID(fqn))
	r.CreationTimestamp = proto.String(s.ts())
	r.SelfLink = proto.String(computeLink(fqn))
	return s.computeOp(ctx, req.Project, "regions/"+req.Region, "insert", fqn, r.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: r}}), nil
}

func (s *Server) router(project, region, name string) (*computepb.Router, string, error) {
	fqn := "projects/" + project + "/regions/" + region + "/routers/" + name
	r, _ := s.st.get("compute/" + fqn).(*computepb.Router)
	if r == nil {
		return nil, fqn, computeNotFound(fqn)
	}
	return r, fqn, nil
}

func (x *routers) Get(ctx context.Context, req *computepb.GetRouterRequest) (*computepb.Router, error) {
	defer x.s.lock(req.Project)()
	r, _, err := x.s.router(req.Project, req.Region, req.Router)
	if err != nil {
		return nil, err
	}
	return proto.Clone(r).(*computepb.Router), nil
}

func (x *routers) List(ctx context.Context, req *computepb.ListRoutersRequest) (*computepb.RouterList, error) {
	s := x.s
	defer s.lock(req.Project)()
	var keys []string
	for _, k := range s.st.list("compute/projects/" + req.Project + "/regions/" + req.Region + "/routers/") {
		if matchFilter(s.st.get(k), req.Filter) {
			keys = append(keys, k)
		}
	}
	keys, next := page(keys, req.MaxResults, req.PageToken)
	out := &computepb.RouterList{Kind: proto.String("compute#routerList"), NextPageToken: next,
		SelfLink: proto.String(computeLink("projects/" + req.Project + "/regions/" + req.Region + "/routers"))}
	for _, k := range keys {
		out.Items = append(out.Items, proto.Clone(s.st.get(k)).(*computepb.Router))
	}
	return out, nil
}

func (x *routers) AggregatedList(ctx context.Context, req *computepb.AggregatedListRoutersRequest) (*computepb.RouterAggregatedList, error) {
	s := x.s
	defer s.lock(req.Project)()
	out := &computepb.RouterAggregatedList{Kind: proto.String("compute#routerAggregatedList"), Items: map[string]*computepb.RoutersScopedList{}}
	for _, k := range s.st.match("compute/projects/" + req.Project + "/regions/*/routers/*") {
		r := s.st.get(k).(*computepb.Router)
		if !matchFilter(r, req.Filter) {
			continue
		}
		key := "regions/" + strings.Split(k, "/")[4]
		if out.Items[key] == nil {
			out.Items[key] = &computepb.RoutersScopedList{}
		}
		out.Items[key].Routers = append(out.Items[key].Routers, proto.Clone(r).(*computepb.Router))
	}
	return out, nil
}

func (x *routers) Delete(ctx context.Context, req *computepb.DeleteRouterRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	r, fqn, err := s.router(req.Project, req.Region, req.Router)
	if err != nil {
		return nil, err
	}
	return s.computeOp(ctx, req.Project, "regions/"+req.Region, "delete", fqn, r.GetId(), &pendingOp{Dels: []string{"compute/" + fqn}}), nil
}

func (x *routers) Patch(ctx context.Context, req *computepb.PatchRouterRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	r, fqn, err := s.router(req.Project, req.Region, req.Router)
	if err != nil {
		return nil, err
	}
	upd := proto.Clone(r).(*computepb.Router)
	in := proto.Clone(req.GetRouterResource()).(*computepb.Router)
	in.Id, in.SelfLink, in.CreationTimestamp, in.Kind, in.Name = nil, nil, nil, nil, nil
	patchMerge(upd, in)
	if fieldSent(ctx, "nats") && len(in.Nats) == 0 {
		upd.Nats = nil
	}
	if err := s.checkRouter(req.Project, req.Region, upd); err != nil {
		return nil, err
	}
	return s.computeOp(ctx, req.Project, "regions/"+req.Region, "patch", fqn, r.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: upd}}), nil
}

func (x *routers) Update(ctx context.Context, req *computepb.UpdateRouterRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	r, fqn, err := s.router(req.Project, req.Region, req.Router)
	if err != nil {
		return nil, err
	}
	upd := proto.Clone(req.GetRouterResource()).(*computepb.Router)
	upd.Name = r.Name
	if err := s.checkRouter(req.Project, req.Region, upd); err != nil {
		return nil, err
	}
	upd.Id, upd.CreationTimestamp, upd.SelfLink = r.Id, r.CreationTimestamp, r.SelfLink
	return s.computeOp(ctx, req.Project, "regions/"+req.Region, "update", fqn, r.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: upd}}), nil
}

func (x *routers) GetRouterStatus(ctx context.Context, req *computepb.GetRouterStatusRouterRequest) (*computepb.RouterStatusResponse, error) {
	s := x.s
	defer s.lock(req.Project)()
	r, _, err := s.router(req.Project, req.Region, req.Router)
	if err != nil {
		return nil, err
	}
	st := &computepb.RouterStatus{Network: r.Network}
	for _, n := range r.Nats {
		st.NatStatus = append(st.NatStatus, &computepb.RouterStatusNatStatus{Name: n.Name})
	}
	return &computepb.RouterStatusResponse{Kind: proto.String("compute#routerStatusResponse"), Result: st}, nil
}

// --- Projects (Shared VPC) ---

type projects struct {
	computepb.UnimplementedProjectsServer
	s *Server
}

func (x *projects) Get(ctx context.Context, req *computepb.GetProjectRequest) (*computepb.Project, error) {
	defer x.s.lock(req.Project)()
	p := proto.Clone(x.s.st.get("compute/projects/" + req.Project)).(*computepb.Project)
	p.Quotas = x.s.quotas(req.Project, "")
	return p, nil
}

func (s *Server) setXpnStatus(ctx context.Context, project, status, opType string) *computepb.Operation {
	p := proto.Clone(s.st.get("compute/projects/" + project)).(*computepb.Project)
	p.XpnProjectStatus = proto.String(status)
	return s.computeOp(ctx, project, "global", opType, "projects/"+project, p.GetId(),
		&pendingOp{Puts: map[string]proto.Message{"compute/projects/" + project: p}})
}

func (x *projects) EnableXpnHost(ctx context.Context, req *computepb.EnableXpnHostProjectRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.setXpnStatus(ctx, req.Project, "HOST", "enableXpnHost"), nil
}

func (x *projects) DisableXpnHost(ctx context.Context, req *computepb.DisableXpnHostProjectRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	if res := s.st.list("compute/projects/" + req.Project + "/xpnResources/"); len(res) > 0 {
		return nil, computeInvalid("project", "Cannot disable project as a shared VPC host because it has active service projects.")
	}
	return s.setXpnStatus(ctx, req.Project, "UNSPECIFIED_XPN_PROJECT_STATUS", "disableXpnHost"), nil
}

func (s *Server) isHost(project string) bool {
	p, _ := s.st.get("compute/projects/" + project).(*computepb.Project)
	return p.GetXpnProjectStatus() == "HOST"
}

func (x *projects) EnableXpnResource(ctx context.Context, req *computepb.EnableXpnResourceProjectRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	res := req.GetProjectsEnableXpnResourceRequestResource().GetXpnResource()
	if res.GetId() == "" {
		return nil, computeInvalid("xpnResource.id", "Invalid value for field 'xpnResource.id': ''.")
	}
	if !s.isHost(req.Project) {
		return nil, computeInvalid("project", "Project '%s' is not a shared VPC host project.", req.Project)
	}
	s.ensureProject(res.GetId())
	if s.isHost(res.GetId()) {
		return nil, computeInvalid("xpnResource.id", "Project '%s' is a shared VPC host project and cannot be a service project.", res.GetId())
	}
	for _, k := range s.st.match("compute/projects/*/xpnResources/" + res.GetId()) {
		if k != "compute/projects/"+req.Project+"/xpnResources/"+res.GetId() {
			return nil, computeInvalid("xpnResource.id", "Project '%s' is already attached to another shared VPC host project.", res.GetId())
		}
	}
	r := &computepb.XpnResourceId{Id: proto.String(res.GetId()), Type: proto.String("PROJECT")}
	return s.computeOp(ctx, req.Project, "global", "enableXpnResource", "projects/"+req.Project, 0,
		&pendingOp{Puts: map[string]proto.Message{"compute/projects/" + req.Project + "/xpnResources/" + res.GetId(): r}}), nil
}

func (x *projects) DisableXpnResource(ctx context.Context, req *computepb.DisableXpnResourceProjectRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	id := req.GetProjectsDisableXpnResourceRequestResource().GetXpnResource().GetId()
	key := "compute/projects/" + req.Project + "/xpnResources/" + id
	if s.st.get(key) == nil {
		return nil, computeNotFound("projects/" + id)
	}
	return s.computeOp(ctx, req.Project, "global", "disableXpnResource", "projects/"+req.Project, 0, &pendingOp{Dels: []string{key}}), nil
}

func (x *projects) GetXpnResources(ctx context.Context, req *computepb.GetXpnResourcesProjectsRequest) (*computepb.ProjectsGetXpnResources, error) {
	s := x.s
	defer s.lock(req.Project)()
	out := &computepb.ProjectsGetXpnResources{Kind: proto.String("compute#projectsGetXpnResources")}
	for _, k := range s.st.list("compute/projects/" + req.Project + "/xpnResources/") {
		out.Resources = append(out.Resources, proto.Clone(s.st.get(k)).(*computepb.XpnResourceId))
	}
	return out, nil
}

func (x *projects) GetXpnHost(ctx context.Context, req *computepb.GetXpnHostProjectRequest) (*computepb.Project, error) {
	s := x.s
	defer s.lock(req.Project)()
	for _, k := range s.st.match("compute/projects/*/xpnResources/" + req.Project) {
		host := strings.Split(k, "/")[2]
		return proto.Clone(s.st.get("compute/projects/" + host)).(*computepb.Project), nil
	}
	return &computepb.Project{}, nil
}

func (x *projects) ListXpnHosts(ctx context.Context, req *computepb.ListXpnHostsProjectsRequest) (*computepb.XpnHostList, error) {
	s := x.s
	defer s.lock(req.Project)()
	out := &computepb.XpnHostList{Kind: proto.String("compute#xpnHostList")}
	var hosts []string
	for _, k := range s.st.match("compute/projects/*") {
		if p := s.st.get(k).(*computepb.Project); p.GetXpnProjectStatus() == "HOST" {
			hosts = append(hosts, k)
		}
	}
	sort.Strings(hosts)
	for _, k := range hosts {
		out.Items = append(out.Items, proto.Clone(s.st.get(k)).(*computepb.Project))
	}
	return out, nil
}
