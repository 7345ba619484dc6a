package gcpfake

import (
	"context"
	"fmt"
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
	if link := m.GetEndpoint().GetGkeCluster().GetResourceLink(); link != "" {
		c := canon(link)
		parts := strings.Split(c, "/")
		if len(parts) != 6 || s.st.get(clusterKey(parts[1], parts[3], parts[5])) == nil {
			return nil, gkeField("resource.endpoint.gkeCluster.resourceLink", "GKE cluster %q does not exist.", link)
		}
	}
	m.Name = name
	m.UniqueId = fmt.Sprintf("%016x", s.st.nextID(key))
	m.CreateTime = timestamppb.New(s.st.now())
	m.UpdateTime = m.CreateTime
	if m.Authority != nil && m.Authority.Issuer != "" {
		m.Authority.WorkloadIdentityPool = project + ".svc.id.goog"
		m.Authority.IdentityProvider = "https://gkehub.googleapis.com/projects/" + project + "/locations/global/memberships/" + req.MembershipId
	}
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
	upd := proto.Clone(cur).(*gkehubpb.Membership)
	for _, p := range req.GetUpdateMask().GetPaths() {
		switch p {
		case "labels":
			upd.Labels = req.GetResource().GetLabels()
		case "description":
			upd.Description = req.GetResource().GetDescription()
		case "authority":
			upd.Authority = req.GetResource().GetAuthority()
		}
	}
	upd.UpdateTime = timestamppb.New(s.st.now())
	return s.lroOp(ctx, s.hubOpName(parts[1], parts[3]), &gkehubpb.OperationMetadata{Target: req.Name, Verb: "update", ApiVersion: "v1beta1"},
		&pendingOp{Puts: map[string]proto.Message{key: upd}, Response: upd}), nil
}
