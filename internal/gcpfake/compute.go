package gcpfake

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func checkName(field, name string) error {
	if !nameRE.MatchString(name) {
		return computeInvalid(field, "Invalid value for field '%s': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", field, name)
	}
	return nil
}

// autoSubnets is the part of the default auto-mode layout the simulator
// creates: enough regions for multi-region meshes, not all forty.
var autoSubnets = []struct{ region, cidr string }{
	{"asia-east1", "10.140.0.0/20"},
	{"europe-west1", "10.132.0.0/20"},
	{"us-central1", "10.128.0.0/20"},
	{"us-east1", "10.142.0.0/20"},
	{"us-west1", "10.138.0.0/20"},
	{"us-west2", "10.168.0.0/20"},
}

// lock takes the store lock, completes due operations and makes sure the
// project exists, which every handler needs first.
func (s *Server) lock(project string) func() {
	s.st.mu.Lock()
	s.st.settle()
	if project != "" && project != "-" {
		s.ensureProject(project)
	}
	return s.st.mu.Unlock
}

func (s *Server) requireService(project, svc string) error {
	if !s.opts.enforceServices {
		return nil
	}
	if s.serviceEnabled(project, svc) {
		return nil
	}
	num := projectNumber(project)
	activation := fmt.Sprintf("https://console.developers.google.com/apis/api/%s/overview?project=%d", svc, num)
	return &Error{Code: codes.PermissionDenied, HTTP: 403, Reason: "accessNotConfigured",
		Message: fmt.Sprintf("%s has not been used in project %d before or it is disabled. Enable it by visiting %s then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.", svc, num, activation),
		Info: &ErrorInfo{Reason: "SERVICE_DISABLED", Domain: "googleapis.com", Metadata: map[string]string{
			"service": svc, "consumer": fmt.Sprintf("projects/%d", num), "activationUrl": activation, "containerInfo": fmt.Sprint(num)}}}
}

func (s *Server) autoSubnet(project, network, region, cidr string) *computepb.Subnetwork {
	fqn := "projects/" + project + "/regions/" + region + "/subnetworks/" + network
	sn := &computepb.Subnetwork{
		Name:        proto.String(network),
		IpCidrRange: proto.String(cidr),
		Network:     proto.String(computeLink("projects/" + project + "/global/networks/" + network)),
	}
	s.subnetDefaults(fqn, region, sn)
	return sn
}

func (s *Server) subnetDefaults(fqn, region string, sn *computepb.Subnetwork) {
	project := strings.Split(fqn, "/")[1]
	sn.Kind = proto.String("compute#subnetwork")
	sn.Id = proto.Uint64(s.st.nextID(fqn))
	sn.CreationTimestamp = proto.String(s.ts())
	sn.SelfLink = proto.String(computeLink(fqn))
	sn.Region = proto.String(computeLink("projects/" + project + "/regions/" + region))
	if sn.PrivateIpGoogleAccess == nil {
		sn.PrivateIpGoogleAccess = proto.Bool(false)
	}
	if sn.StackType == nil {
		sn.StackType = proto.String("IPV4_ONLY")
	}
	if sn.Purpose == nil {
		sn.Purpose = proto.String("PRIVATE")
	}
	if p, err := netip.ParsePrefix(sn.GetIpCidrRange()); err == nil {
		sn.GatewayAddress = proto.String(p.Addr().Next().String())
	}
	sn.Fingerprint = nil
	sn.Fingerprint = proto.String(fingerprint(sn))
}

// ensureProject creates a project on first use, as if it had been made in
// the console: a project number, the compute project record and, unless
// disabled, the auto-mode default network.
func (s *Server) ensureProject(project string) {
	if s.st.get("rm/projects/"+project) != nil {
		return
	}
	s.createProjectRecord(project)
	num := projectNumber(project)
	s.st.put("compute/projects/"+project, &computepb.Project{
		Kind:                  proto.String("compute#project"),
		Name:                  proto.String(project),
		Id:                    proto.Uint64(uint64(num)),
		CreationTimestamp:     proto.String(s.ts()),
		SelfLink:              proto.String(computeLink("projects/" + project)),
		DefaultServiceAccount: proto.String(fmt.Sprintf("%d-compute@developer.gserviceaccount.com", num)),
		DefaultNetworkTier:    proto.String("PREMIUM"),
		XpnProjectStatus:      proto.String("UNSPECIFIED_XPN_PROJECT_STATUS"),
		CommonInstanceMetadata: &computepb.Metadata{
			Kind: proto.String("compute#metadata"), Fingerprint: proto.String("AAAAAAAAAAA="),
		},
	})
	if s.opts.noDefaultNetwork {
		return
	}
	fqn := "projects/" + project + "/global/networks/default"
	n := &computepb.Network{Name: proto.String("default"), AutoCreateSubnetworks: proto.Bool(true),
		Description: proto.String("Default network for the project")}
	s.networkDefaults(fqn, n)
	s.st.put("compute/"+fqn, n)
	for _, a := range autoSubnets {
		sn := s.autoSubnet(project, "default", a.region, a.cidr)
		s.st.put("compute/projects/"+project+"/regions/"+a.region+"/subnetworks/default", sn)
	}
}

func (s *Server) networkDefaults(fqn string, n *computepb.Network) {
	id := s.st.nextID(fqn)
	n.Kind = proto.String("compute#network")
	n.Id = proto.Uint64(id)
	n.CreationTimestamp = proto.String(s.ts())
	n.SelfLink = proto.String(computeLink(fqn))
	n.SelfLinkWithId = proto.String(computeLink(strings.TrimSuffix(fqn, n.GetName()) + strconv.FormatUint(id, 10)))
	if n.RoutingConfig == nil {
		n.RoutingConfig = &computepb.NetworkRoutingConfig{}
	}
	if n.RoutingConfig.RoutingMode == nil {
		n.RoutingConfig.RoutingMode = proto.String("REGIONAL")
	}
	if n.RoutingConfig.BgpBestPathSelectionMode == nil {
		n.RoutingConfig.BgpBestPathSelectionMode = proto.String("LEGACY")
	}
	if n.Mtu == nil {
		n.Mtu = proto.Int32(1460)
	}
	if n.NetworkFirewallPolicyEnforcementOrder == nil {
		n.NetworkFirewallPolicyEnforcementOrder = proto.String("AFTER_CLASSIC_FIREWALL")
	}
}

// resolveRef turns a reference (full URL, "projects/...", or
// "global/networks/x" relative to project) into a canonical name.
func resolveRef(project, ref string) string {
	ref = canon(ref)
	if !strings.HasPrefix(ref, "projects/") && (strings.HasPrefix(ref, "global/") || strings.HasPrefix(ref, "regions/") || strings.HasPrefix(ref, "zones/")) {
		ref = "projects/" + project + "/" + ref
	}
	return ref
}

// page applies maxResults/pageToken to sorted keys.
func page(keys []string, max *uint32, token *string) ([]string, *string) {
	start := 0
	if token != nil && *token != "" {
		start, _ = strconv.Atoi(*token)
		if start > len(keys) {
			start = len(keys)
		}
	}
	n := 500
	if max != nil && *max > 0 && *max < 500 {
		n = int(*max)
	}
	end := start + n
	if end >= len(keys) {
		return keys[start:], nil
	}
	next := strconv.Itoa(end)
	return keys[start:end], &next
}

var filterRE = regexp.MustCompile(`\(?\s*([a-zA-Z.]+)\s+(eq|ne)\s+"?([^"()]*?)"?\s*\)?(\s|$)`)

// matchFilter implements the compute list filter forms gcloud and the
// clients send ("name eq x", "(name eq x) (network eq y)"): each term a
// regular expression that must match the whole field value.
func matchFilter(m proto.Message, filter *string) bool {
	if filter == nil || strings.TrimSpace(*filter) == "" {
		return true
	}
	terms := filterRE.FindAllStringSubmatch(*filter, -1)
	if len(terms) == 0 {
		return true
	}
	for _, t := range terms {
		v := fieldString(m.ProtoReflect(), strings.Split(t[1], "."))
		re, err := regexp.Compile("^(?:" + t[3] + ")$")
		if err != nil {
			continue
		}
		if re.MatchString(v) != (t[2] == "eq") {
			return false
		}
	}
	return true
}

func fieldString(m protoreflect.Message, path []string) string {
	fd := m.Descriptor().Fields().ByJSONName(path[0])
	if fd == nil {
		fd = m.Descriptor().Fields().ByName(protoreflect.Name(path[0]))
	}
	if fd == nil || !m.Has(fd) {
		return ""
	}
	v := m.Get(fd)
	if len(path) > 1 && fd.Message() != nil && !fd.IsList() {
		return fieldString(v.Message(), path[1:])
	}
	if fd.IsList() {
		return ""
	}
	return fmt.Sprint(v.Interface())
}

// patchMerge copies every field set in src over dst, replacing scalars and lists and merging
// nested objects, which is the JSON merge patch Compute Engine applies on PATCH: a field the
// request leaves out keeps its value.
func patchMerge(dst, src proto.Message) {
	d := dst.ProtoReflect()
	src.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		// JSON merge patch: an object present on both sides is merged, member by member;
		// scalars and lists are replaced.
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() && d.Has(fd) {
			patchMerge(d.Mutable(fd).Message().Interface(), v.Message().Interface())
			return true
		}
		d.Set(fd, v)
		return true
	})
}

// --- Networks ---

type networks struct {
	computepb.UnimplementedNetworksServer
	s *Server
}

func (x *networks) Insert(ctx context.Context, req *computepb.InsertNetworkRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	if err := s.requireService(req.Project, "compute.googleapis.com"); err != nil {
		return nil, err
	}
	n := proto.Clone(req.GetNetworkResource()).(*computepb.Network)
	if n == nil {
		n = &computepb.Network{}
	}
	if err := checkName("resource.name", n.GetName()); err != nil {
		return nil, err
	}
	fqn := "projects/" + req.Project + "/global/networks/" + n.GetName()
	if s.st.get("compute/"+fqn) != nil || s.st.inFlight("compute/"+fqn) {
		return nil, computeExists(fqn)
	}
	if n.IPv4Range != nil {
		return nil, computeInvalid("resource.IPv4Range", "Invalid value for field 'resource.IPv4Range': '%s'. Legacy networks are not supported.", n.GetIPv4Range())
	}
	if n.AutoCreateSubnetworks == nil {
		n.AutoCreateSubnetworks = proto.Bool(true)
	}
	if m := n.GetMtu(); n.Mtu != nil && (m < 1300 || m > 8896) {
		return nil, computeInvalid("resource.mtu", "Invalid value for field 'resource.mtu': '%d'. Must be between 1300 and 8896.", m)
	}
	s.networkDefaults(fqn, n)
	p := &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: n}}
	if n.GetAutoCreateSubnetworks() {
		for _, a := range autoSubnets {
			p.Puts["compute/projects/"+req.Project+"/regions/"+a.region+"/subnetworks/"+n.GetName()] = s.autoSubnet(req.Project, n.GetName(), a.region, a.cidr)
		}
	}
	return s.computeOp(ctx, req.Project, "global", "insert", fqn, n.GetId(), p), nil
}

func (s *Server) networkView(fqn string) *computepb.Network {
	n, _ := s.st.get("compute/" + fqn).(*computepb.Network)
	if n == nil {
		return nil
	}
	n = proto.Clone(n).(*computepb.Network)
	project := strings.Split(fqn, "/")[1]
	n.Subnetworks = nil
	for _, k := range s.st.match("compute/projects/" + project + "/regions/*/subnetworks/*") {
		if sn := s.st.get(k).(*computepb.Subnetwork); canon(sn.GetNetwork()) == fqn {
			n.Subnetworks = append(n.Subnetworks, sn.GetSelfLink())
		}
	}
	return n
}

func (x *networks) Get(ctx context.Context, req *computepb.GetNetworkRequest) (*computepb.Network, error) {
	s := x.s
	defer s.lock(req.Project)()
	fqn := "projects/" + req.Project + "/global/networks/" + req.Network
	n := s.networkView(fqn)
	if n == nil {
		return nil, computeNotFound(fqn)
	}
	return n, nil
}

func (x *networks) List(ctx context.Context, req *computepb.ListNetworksRequest) (*computepb.NetworkList, error) {
	s := x.s
	defer s.lock(req.Project)()
	var keys []string
	for _, k := range s.st.list("compute/projects/" + req.Project + "/global/networks/") {
		if matchFilter(s.st.get(k), req.Filter) {
			keys = append(keys, k)
		}
	}
	keys, next := page(keys, req.MaxResults, req.PageToken)
	out := &computepb.NetworkList{Kind: proto.String("compute#networkList"), Id: proto.String("projects/" + req.Project + "/global/networks"),
		SelfLink: proto.String(computeLink("projects/" + req.Project + "/global/networks")), NextPageToken: next}
	for _, k := range keys {
		out.Items = append(out.Items, s.networkView(strings.TrimPrefix(k, "compute/")))
	}
	return out, nil
}

// usersOf lists resources referencing the network, which block its deletion.
func (s *Server) usersOf(network string, autoName string) []string {
	project := strings.Split(network, "/")[1]
	var users []string
	for _, pat := range []string{"compute/projects/" + project + "/global/firewalls/*", "compute/projects/" + project + "/regions/*/routers/*", "compute/projects/" + project + "/regions/*/subnetworks/*"} {
		for _, k := range s.st.match(pat) {
			var ref string
			switch r := s.st.get(k).(type) {
			case *computepb.Firewall:
				ref = r.GetNetwork()
			case *computepb.Router:
				ref = r.GetNetwork()
			case *computepb.Subnetwork:
				if autoName != "" && r.GetName() == autoName {
					continue
				}
				ref = r.GetNetwork()
			}
			if canon(ref) == network {
				users = append(users, strings.TrimPrefix(k, "compute/"))
			}
		}
	}
	return users
}

func (x *networks) Delete(ctx context.Context, req *computepb.DeleteNetworkRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	fqn := "projects/" + req.Project + "/global/networks/" + req.Network
	n, _ := s.st.get("compute/" + fqn).(*computepb.Network)
	if n == nil {
		return nil, computeNotFound(fqn)
	}
	auto := ""
	if n.GetAutoCreateSubnetworks() {
		auto = n.GetName()
	}
	if users := s.usersOf(fqn, auto); len(users) > 0 {
		return nil, computeInUse(fqn, users[0])
	}
	p := &pendingOp{Dels: []string{"compute/" + fqn}}
	if auto != "" {
		p.Dels = append(p.Dels, s.st.match("compute/projects/"+req.Project+"/regions/*/subnetworks/"+auto)...)
	}
	return s.computeOp(ctx, req.Project, "global", "delete", fqn, n.GetId(), p), nil
}

func (x *networks) Patch(ctx context.Context, req *computepb.PatchNetworkRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	fqn := "projects/" + req.Project + "/global/networks/" + req.Network
	n, _ := s.st.get("compute/" + fqn).(*computepb.Network)
	if n == nil {
		return nil, computeNotFound(fqn)
	}
	upd := proto.Clone(n).(*computepb.Network)
	in := req.GetNetworkResource()
	// networks.patch modifies the routing configuration and the MTU, nothing else: a network's
	// description, like its mode, is set when it is created (the mode changes only through
	// switchToCustomMode). A field sent with the value it already has is not a change.
	if in.Description != nil && in.GetDescription() != n.GetDescription() {
		return nil, notUpdatable("resource.description", in.GetDescription())
	}
	if in.AutoCreateSubnetworks != nil && in.GetAutoCreateSubnetworks() != n.GetAutoCreateSubnetworks() {
		return nil, notUpdatable("resource.autoCreateSubnetworks", strconv.FormatBool(in.GetAutoCreateSubnetworks()))
	}
	if in.RoutingConfig != nil {
		upd.RoutingConfig = in.RoutingConfig
	}
	if in.Mtu != nil {
		upd.Mtu = in.Mtu
	}
	return s.computeOp(ctx, req.Project, "global", "patch", fqn, n.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: upd}}), nil
}

func (x *networks) SwitchToCustomMode(ctx context.Context, req *computepb.SwitchToCustomModeNetworkRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	fqn := "projects/" + req.Project + "/global/networks/" + req.Network
	n, _ := s.st.get("compute/" + fqn).(*computepb.Network)
	if n == nil {
		return nil, computeNotFound(fqn)
	}
	upd := proto.Clone(n).(*computepb.Network)
	upd.AutoCreateSubnetworks = proto.Bool(false)
	return s.computeOp(ctx, req.Project, "global", "switchToCustomMode", fqn, n.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: upd}}), nil
}

// --- operations ---

type globalOps struct {
	computepb.UnimplementedGlobalOperationsServer
	s *Server
}

func (s *Server) getComputeOp(fqn string) (*computepb.Operation, error) {
	op, _ := s.st.get("compute/" + fqn).(*computepb.Operation)
	if op == nil {
		return nil, computeNotFound(fqn)
	}
	return proto.Clone(op).(*computepb.Operation), nil
}

// waitComputeOp blocks like the real wait call: until the operation is
// DONE, the context ends, or two minutes pass, polling the (possibly fake)
// clock so another goroutine advancing it releases the waiter.
func (s *Server) waitComputeOp(ctx context.Context, project, fqn string) (*computepb.Operation, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		unlock := s.lock(project)
		op, err := s.getComputeOp(fqn)
		unlock()
		if err != nil || op.GetStatus() == computepb.Operation_DONE || time.Now().After(deadline) {
			return op, err
		}
		select {
		case <-ctx.Done():
			return op, nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *Server) listComputeOps(pattern string, filter *string, max *uint32, token *string) ([]*computepb.Operation, *string) {
	var keys []string
	for _, k := range s.st.match(pattern) {
		if matchFilter(s.st.get(k), filter) {
			keys = append(keys, k)
		}
	}
	keys, next := page(keys, max, token)
	var out []*computepb.Operation
	for _, k := range keys {
		out = append(out, proto.Clone(s.st.get(k)).(*computepb.Operation))
	}
	return out, next
}

func (x *globalOps) Get(ctx context.Context, req *computepb.GetGlobalOperationRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.getComputeOp("projects/" + req.Project + "/global/operations/" + req.Operation)
}

func (x *globalOps) Wait(ctx context.Context, req *computepb.WaitGlobalOperationRequest) (*computepb.Operation, error) {
	return x.s.waitComputeOp(ctx, req.Project, "projects/"+req.Project+"/global/operations/"+req.Operation)
}

func (x *globalOps) List(ctx context.Context, req *computepb.ListGlobalOperationsRequest) (*computepb.OperationList, error) {
	defer x.s.lock(req.Project)()
	items, next := x.s.listComputeOps("compute/projects/"+req.Project+"/global/operations/*", req.Filter, req.MaxResults, req.PageToken)
	return &computepb.OperationList{Kind: proto.String("compute#operationList"), Items: items, NextPageToken: next,
		SelfLink: proto.String(computeLink("projects/" + req.Project + "/global/operations"))}, nil
}

func (x *globalOps) Delete(ctx context.Context, req *computepb.DeleteGlobalOperationRequest) (*computepb.DeleteGlobalOperationResponse, error) {
	defer x.s.lock(req.Project)()
	fqn := "projects/" + req.Project + "/global/operations/" + req.Operation
	if _, err := x.s.getComputeOp(fqn); err != nil {
		return nil, err
	}
	x.s.st.del("compute/" + fqn)
	return &computepb.DeleteGlobalOperationResponse{}, nil
}

func (x *globalOps) AggregatedList(ctx context.Context, req *computepb.AggregatedListGlobalOperationsRequest) (*computepb.OperationAggregatedList, error) {
	defer x.s.lock(req.Project)()
	out := &computepb.OperationAggregatedList{Kind: proto.String("compute#operationAggregatedList"), Items: map[string]*computepb.OperationsScopedList{}}
	for _, k := range x.s.st.match("compute/projects/" + req.Project + "/*/operations/*") {
		out.Items["global"] = appendOp(out.Items["global"], x.s.st.get(k))
	}
	for _, scope := range []string{"regions", "zones"} {
		for _, k := range x.s.st.match("compute/projects/" + req.Project + "/" + scope + "/*/operations/*") {
			key := scope + "/" + strings.Split(k, "/")[4]
			out.Items[key] = appendOp(out.Items[key], x.s.st.get(k))
		}
	}
	return out, nil
}

func appendOp(l *computepb.OperationsScopedList, m proto.Message) *computepb.OperationsScopedList {
	if l == nil {
		l = &computepb.OperationsScopedList{}
	}
	l.Operations = append(l.Operations, proto.Clone(m).(*computepb.Operation))
	return l
}

type regionOps struct {
	computepb.UnimplementedRegionOperationsServer
	s *Server
}

func (x *regionOps) Get(ctx context.Context, req *computepb.GetRegionOperationRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.getComputeOp("projects/" + req.Project + "/regions/" + req.Region + "/operations/" + req.Operation)
}

func (x *regionOps) Wait(ctx context.Context, req *computepb.WaitRegionOperationRequest) (*computepb.Operation, error) {
	return x.s.waitComputeOp(ctx, req.Project, "projects/"+req.Project+"/regions/"+req.Region+"/operations/"+req.Operation)
}

func (x *regionOps) List(ctx context.Context, req *computepb.ListRegionOperationsRequest) (*computepb.OperationList, error) {
	defer x.s.lock(req.Project)()
	items, next := x.s.listComputeOps("compute/projects/"+req.Project+"/regions/"+req.Region+"/operations/*", req.Filter, req.MaxResults, req.PageToken)
	return &computepb.OperationList{Kind: proto.String("compute#operationList"), Items: items, NextPageToken: next}, nil
}

func (x *regionOps) Delete(ctx context.Context, req *computepb.DeleteRegionOperationRequest) (*computepb.DeleteRegionOperationResponse, error) {
	defer x.s.lock(req.Project)()
	fqn := "projects/" + req.Project + "/regions/" + req.Region + "/operations/" + req.Operation
	if _, err := x.s.getComputeOp(fqn); err != nil {
		return nil, err
	}
	x.s.st.del("compute/" + fqn)
	return &computepb.DeleteRegionOperationResponse{}, nil
}

type zoneOps struct {
	computepb.UnimplementedZoneOperationsServer
	s *Server
}

func (x *zoneOps) Get(ctx context.Context, req *computepb.GetZoneOperationRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.getComputeOp("projects/" + req.Project + "/zones/" + req.Zone + "/operations/" + req.Operation)
}

func (x *zoneOps) Wait(ctx context.Context, req *computepb.WaitZoneOperationRequest) (*computepb.Operation, error) {
	return x.s.waitComputeOp(ctx, req.Project, "projects/"+req.Project+"/zones/"+req.Zone+"/operations/"+req.Operation)
}

func (x *zoneOps) List(ctx context.Context, req *computepb.ListZoneOperationsRequest) (*computepb.OperationList, error) {
	defer x.s.lock(req.Project)()
	items, next := x.s.listComputeOps("compute/projects/"+req.Project+"/zones/"+req.Zone+"/operations/*", req.Filter, req.MaxResults, req.PageToken)
	return &computepb.OperationList{Kind: proto.String("compute#operationList"), Items: items, NextPageToken: next}, nil
}
