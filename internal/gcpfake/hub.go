package gcpfake

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type hubMemberships struct {
	gkehubpb.UnimplementedGkeHubMembershipServiceServer
	s *Server
}

func hubParent(parent string) (project, loc string, err error) {
	parts := strings.Split(parent, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "locations" {
		return "", "", gkeField("parent", "Invalid parent %q.", parent)
	}
	return parts[1], parts[3], nil
}

func (s *Server) hubOpName(project, loc string) string {
	return fmt.Sprintf("projects/%s/locations/%s/operations/%s", project, loc, s.st.opName())
}

func (x *hubMemberships) CreateMembership(ctx context.Context, req *gkehubpb.CreateMembershipRequest) (*longrunningpb.Operation, error) {
	s := x.s
	project, loc, err := hubParent(req.Parent)
	if err != nil {
		return nil, err
	}
	defer s.lock(project)()
	if err := s.requireService(project, "gkehub.googleapis.com"); err != nil {
		return nil, err
	}
	if !clusterNameRE.MatchString(req.MembershipId) {
		return nil, gkeField("membership_id", "Invalid membership id %q.", req.MembershipId)
	}
	name := req.Parent + "/memberships/" + req.MembershipId
	key := "hub/" + name
	if s.st.get(key) != nil || s.st.inFlight(key) {
		return nil, gkeErr(codes.AlreadyExists, "Membership %q already exists.", name)
	}
	m := proto.Clone(req.GetResource()).(*gkehubpb.Membership)
	if m == nil {
		m = &gkehubpb.Membership{}
	}
	var registered string
	if link := m.GetEndpoint().GetGkeCluster().GetResourceLink(); link != "" {
		c := canon(link)
		parts := strings.Split(c, "/")
		if len(parts) != 6 || s.st.get(clusterKey(parts[1], parts[3], parts[5])) == nil {
			return nil, gkeField("resource.endpoint.gkeCluster.resourceLink", "GKE cluster %q does not exist.", link)
		}
		registered = s.membershipOf(c)
	}
	if err := checkIssuer(m, m.GetAuthority().GetIssuer()); err != nil {
		return nil, err
	}
	if registered != "" {
		// GKE Hub accepts the request and fails the operation: a GKE cluster belongs to one
		// membership, whatever its name, location or fleet project.
		fail := gkeErr(codes.AlreadyExists, "intend to register the cluster with resource: //gkehub.googleapis.com/%s, but the cluster is already registered with resource: //gkehub.googleapis.com/%s", name, registered)
		return s.lroOp(ctx, s.hubOpName(project, loc), &gkehubpb.OperationMetadata{Target: name, Verb: "create", ApiVersion: "v1beta1", CreateTime: timestamppb.New(s.st.now())},
			&pendingOp{Fail: fail}), nil
	}
	m.Name = name
	m.UniqueId = fmt.Sprintf("%016x", s.st.nextID(key))
	m.CreateTime = timestamppb.New(s.st.now())
	m.UpdateTime = m.CreateTime
	setAuthority(m, m.GetAuthority())
	m.InfrastructureType = gkehubpb.Membership_MULTI_CLOUD
	if m.GetEndpoint().GetGkeCluster() != nil {
		m.InfrastructureType = gkehubpb.Membership_ON_PREM
	}
	creating := proto.Clone(m).(*gkehubpb.Membership)
	creating.State = &gkehubpb.MembershipState{Code: gkehubpb.MembershipState_CREATING}
	m.State = &gkehubpb.MembershipState{Code: gkehubpb.MembershipState_READY}
	s.st.put(key, creating)
	return s.lroOp(ctx, s.hubOpName(project, loc), &gkehubpb.OperationMetadata{Target: name, Verb: "create", ApiVersion: "v1beta1", CreateTime: m.CreateTime},
		&pendingOp{Puts: map[string]proto.Message{key: m}, Response: m}), nil
}

func (x *hubMemberships) GetMembership(ctx context.Context, req *gkehubpb.GetMembershipRequest) (*gkehubpb.Membership, error) {
	project := strings.Split(req.Name+"//", "/")[1]
	defer x.s.lock(project)()
	m, _ := x.s.st.get("hub/" + req.Name).(*gkehubpb.Membership)
	if m == nil {
		return nil, gkeErr(codes.NotFound, "Resource '%s' was not found", req.Name)
	}
	return proto.Clone(m).(*gkehubpb.Membership), nil
}

func (x *hubMemberships) ListMemberships(ctx context.Context, req *gkehubpb.ListMembershipsRequest) (*gkehubpb.ListMembershipsResponse, error) {
	project, loc, err := hubParent(req.Parent)
	if err != nil {
		return nil, err
	}
	defer x.s.lock(project)()
	if loc == "-" {
		loc = "*"
	}
	out := &gkehubpb.ListMembershipsResponse{}
	for _, k := range x.s.st.match("hub/projects/" + project + "/locations/" + loc + "/memberships/*") {
		out.Resources = append(out.Resources, proto.Clone(x.s.st.get(k)).(*gkehubpb.Membership))
	}
	return out, nil
}

func (x *hubMemberships) DeleteMembership(ctx context.Context, req *gkehubpb.DeleteMembershipRequest) (*longrunningpb.Operation, error) {
	parts := strings.Split(req.Name, "/")
	if len(parts) != 6 {
		return nil, gkeField("name", "Invalid membership name %q.", req.Name)
	}
	s := x.s
	defer s.lock(parts[1])()
	key := "hub/" + req.Name
	if s.st.get(key) == nil {
		return nil, gkeErr(codes.NotFound, "Resource '%s' was not found", req.Name)
	}
	return s.lroOp(ctx, s.hubOpName(parts[1], parts[3]), &gkehubpb.OperationMetadata{Target: req.Name, Verb: "delete", ApiVersion: "v1beta1"},
		&pendingOp{Dels: []string{key}, Response: &emptypb.Empty{}}), nil
}

func (x *hubMemberships) UpdateMembership(ctx context.Context, req *gkehubpb.UpdateMembershipRequest) (*longrunningpb.Operation, error) {
	parts := strings.Split(req.Name, "/")
	if len(parts) != 6 {
		return nil, gkeField("name", "Invalid membership name %q.", req.Name)
	}
	s := x.s
	defer s.lock(parts[1])()
	key := "hub/" + req.Name
	cur, _ := s.st.get(key).(*gkehubpb.Membership)
	if cur == nil {
		return nil, gkeErr(codes.NotFound, "Resource '%s' was not found", req.Name)
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, gkeField("update_mask", "At least one field path must be specified in update_mask.")
	}
	in := req.GetResource()
	upd := proto.Clone(cur).(*gkehubpb.Membership)
	for _, p := range paths {
		switch p {
		case "*":
			upd.Labels, upd.Description, upd.ExternalId = in.GetLabels(), in.GetDescription(), in.GetExternalId()
			upd.Authority = cloneAuthority(in.GetAuthority())
		case "labels":
			upd.Labels = in.GetLabels()
		case "description":
			upd.Description = in.GetDescription()
		case "external_id", "externalId":
			upd.ExternalId = in.GetExternalId()
		case "authority":
			upd.Authority = cloneAuthority(in.GetAuthority())
		case "authority.issuer":
			if upd.Authority == nil {
				upd.Authority = &gkehubpb.Authority{}
			}
			upd.Authority.Issuer = in.GetAuthority().GetIssuer()
		case "authority.oidc_jwks", "authority.oidcJwks":
			if upd.Authority == nil {
				upd.Authority = &gkehubpb.Authority{}
			}
			upd.Authority.OidcJwks = in.GetAuthority().GetOidcJwks()
		default:
			return nil, gkeField("update_mask", "Unknown or immutable field path %q in update_mask.", p)
		}
	}
	was, now := cur.GetAuthority().GetIssuer(), upd.GetAuthority().GetIssuer()
	if was != "" && now != "" && was != now {
		return nil, gkeField("resource.authority.issuer", "Issuer %q cannot be changed to %q directly: clear authority.issuer (which disables Workload Identity) first.", was, now)
	}
	if err := checkIssuer(upd, now); err != nil {
		return nil, err
	}
	setAuthority(upd, upd.GetAuthority())
	upd.UpdateTime = timestamppb.New(s.st.now())
	upd.State = &gkehubpb.MembershipState{Code: gkehubpb.MembershipState_READY}
	updating := proto.Clone(cur).(*gkehubpb.Membership)
	updating.State = &gkehubpb.MembershipState{Code: gkehubpb.MembershipState_UPDATING}
	s.st.put(key, updating)
	return s.lroOp(ctx, s.hubOpName(parts[1], parts[3]), &gkehubpb.OperationMetadata{Target: req.Name, Verb: "update", ApiVersion: "v1beta1", CreateTime: upd.UpdateTime},
		&pendingOp{Puts: map[string]proto.Message{key: upd}, FailPuts: map[string]proto.Message{key: cur}, Response: upd}), nil
}

func cloneAuthority(a *gkehubpb.Authority) *gkehubpb.Authority {
	if a == nil {
		return nil
	}
	return proto.Clone(a).(*gkehubpb.Authority)
}

// setAuthority stores a membership's authority as the API reports it: none once the issuer is
// cleared (Workload Identity off), and otherwise with the output-only fields filled in whatever
// the client sent for them: the fleet's workload identity pool, <fleet project>.svc.id.goog, and
// the membership as the identity provider that reflects the issuer in it.
func setAuthority(m *gkehubpb.Membership, a *gkehubpb.Authority) {
	if a.GetIssuer() == "" {
		m.Authority = nil
		return
	}
	parts := strings.Split(m.GetName(), "/") // projects/P/locations/L/memberships/M
	m.Authority = &gkehubpb.Authority{
		Issuer:               a.GetIssuer(),
		OidcJwks:             a.GetOidcJwks(),
		WorkloadIdentityPool: parts[1] + ".svc.id.goog",
		IdentityProvider:     "https://gkehub.googleapis.com/" + m.GetName(),
	}
}

// checkIssuer refuses an issuer the API would not take for a membership: it must be an https URL
// of fewer than 2000 characters and, for a GKE cluster, that cluster's OIDC issuer, its container
// API URL with locations/ (never zones/), https://container.googleapis.com/v1/projects/P/locations/
// L/clusters/C. The simulator stands in for container.googleapis.com: a resource link on a loopback
// host names one of its clusters, whose issuer is that host's URL over plain http (what gcloud
// pointed at the simulator sends).
func checkIssuer(m *gkehubpb.Membership, issuer string) error {
	if issuer == "" {
		return nil
	}
	const field = "resource.authority.issuer"
	u, err := url.Parse(issuer)
	if len(issuer) >= 2000 || err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && loopbackHost(u.Host)) {
		return gkeField(field, "Issuer %q is invalid: it must start with https:// and be a valid URL of fewer than 2000 characters.", issuer)
	}
	link := m.GetEndpoint().GetGkeCluster().GetResourceLink()
	if link == "" {
		return nil
	}
	if want := gkeIssuer(link); issuer != want {
		return gkeField(field, "Issuer %q does not match the GKE cluster %q of the membership: its issuer is %q.", issuer, link, want)
	}
	return nil
}

// gkeIssuer is the OIDC issuer of the GKE cluster a resource link names,
// //HOST/projects/P/{locations,zones}/L/clusters/C.
func gkeIssuer(link string) string {
	u, err := url.Parse(link)
	parts := strings.Split(canon(link), "/")
	if err != nil || len(parts) != 6 {
		return ""
	}
	scheme := "https"
	if loopbackHost(u.Host) {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s/v1/projects/%s/locations/%s/clusters/%s", scheme, u.Host, parts[1], parts[3], parts[5])
}

// membershipOf returns the name of the membership, in any fleet project and location, whose
// GKE cluster is cluster (projects/P/locations/L/clusters/C), or "".
func (s *Server) membershipOf(cluster string) string {
	for _, k := range s.st.match("hub/projects/*/locations/*/memberships/*") {
		m, _ := s.st.get(k).(*gkehubpb.Membership)
		if link := m.GetEndpoint().GetGkeCluster().GetResourceLink(); link != "" && sameCluster(canon(link), cluster) {
			return strings.TrimPrefix(k, "hub/")
		}
	}
	return ""
}

// sameCluster compares two cluster names, projects/P/locations/L/clusters/C, where either may say
// zones for locations.
func sameCluster(a, b string) bool {
	return strings.Replace(a, "/zones/", "/locations/", 1) == strings.Replace(b, "/zones/", "/locations/", 1)
}
