package gcpfake

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

type iamAdmin struct {
	adminpb.UnimplementedIAMServer
	s *Server
}

var accountIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{4,28}[a-z0-9])$`)

func saKey(project, email string) string {
	return "iam/projects/" + project + "/serviceAccounts/" + email
}

// findSA resolves projects/{p|-}/serviceAccounts/{email|uniqueId}.
func (s *Server) findSA(name string) (*adminpb.ServiceAccount, string, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "serviceAccounts" {
		return nil, "", gkeField("name", "Invalid service account name %q.", name)
	}
	for _, k := range s.st.match("iam/projects/*/serviceAccounts/*") {
		sa := s.st.get(k).(*adminpb.ServiceAccount)
		if (parts[1] == "-" || parts[1] == sa.ProjectId) && (parts[3] == sa.Email || parts[3] == sa.UniqueId) {
			return sa, k, nil
		}
	}
	return nil, "", gkeErr(codes.NotFound, "Unknown service account")
}

func (x *iamAdmin) CreateServiceAccount(ctx context.Context, req *adminpb.CreateServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	s := x.s
	project := strings.TrimPrefix(req.Name, "projects/")
	defer s.lock(project)()
	if err := s.requireService(project, "iam.googleapis.com"); err != nil {
		return nil, err
	}
	if !accountIDRE.MatchString(req.AccountId) {
		return nil, gkeField("account_id", "Invalid account ID %q: must be 6-30 characters, lowercase letters, digits and hyphens, starting with a letter.", req.AccountId)
	}
	email := req.AccountId + "@" + project + ".iam.gserviceaccount.com"
	key := saKey(project, email)
	if s.st.get(key) != nil {
		return nil, gkeErr(codes.AlreadyExists, "Service account %s already exists within project projects/%s.", req.AccountId, project)
	}
	sa := proto.Clone(req.GetServiceAccount()).(*adminpb.ServiceAccount)
	if sa == nil {
		sa = &adminpb.ServiceAccount{}
	}
	id := fmt.Sprintf("1%020d", s.st.nextID(key)%100000000000000000)
	sa.Name = "projects/" + project + "/serviceAccounts/" + email
	sa.ProjectId, sa.Email, sa.UniqueId, sa.Oauth2ClientId = project, email, id, id
	sa.Etag = []byte("MDEwMjE5MjA=")
	s.st.put(key, sa)
	return proto.Clone(sa).(*adminpb.ServiceAccount), nil
}

func (x *iamAdmin) GetServiceAccount(ctx context.Context, req *adminpb.GetServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	defer x.s.lock("")()
	sa, _, err := x.s.findSA(req.Name)
	if err != nil {
		return nil, err
	}
	return proto.Clone(sa).(*adminpb.ServiceAccount), nil
}

func (x *iamAdmin) ListServiceAccounts(ctx context.Context, req *adminpb.ListServiceAccountsRequest) (*adminpb.ListServiceAccountsResponse, error) {
	project := strings.TrimPrefix(req.Name, "projects/")
	defer x.s.lock(project)()
	out := &adminpb.ListServiceAccountsResponse{}
	for _, k := range x.s.st.list("iam/projects/" + project + "/serviceAccounts/") {
		out.Accounts = append(out.Accounts, proto.Clone(x.s.st.get(k)).(*adminpb.ServiceAccount))
	}
	return out, nil
}

func (x *iamAdmin) DeleteServiceAccount(ctx context.Context, req *adminpb.DeleteServiceAccountRequest) (*emptypb.Empty, error) {
	defer x.s.lock("")()
	_, key, err := x.s.findSA(req.Name)
	if err != nil {
		return nil, err
	}
	x.s.st.del(key)
	x.s.st.del("policy/" + key)
	return &emptypb.Empty{}, nil
}

func (x *iamAdmin) PatchServiceAccount(ctx context.Context, req *adminpb.PatchServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	defer x.s.lock("")()
	sa, key, err := x.s.findSA(req.GetServiceAccount().GetName())
	if err != nil {
		return nil, err
	}
	upd := proto.Clone(sa).(*adminpb.ServiceAccount)
	for _, p := range req.GetUpdateMask().GetPaths() {
		switch p {
		case "display_name", "displayName":
			upd.DisplayName = req.ServiceAccount.DisplayName
		case "description":
			upd.Description = req.ServiceAccount.Description
		}
	}
	x.s.st.put(key, upd)
	return proto.Clone(upd).(*adminpb.ServiceAccount), nil
}

func (x *iamAdmin) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	defer x.s.lock("")()
	_, key, err := x.s.findSA(req.Resource)
	if err != nil {
		return nil, err
	}
	return x.s.iamPolicy(key), nil
}

func (x *iamAdmin) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	defer x.s.lock("")()
	_, key, err := x.s.findSA(req.Resource)
	if err != nil {
		return nil, err
	}
	for _, b := range req.GetPolicy().GetBindings() {
		for _, m := range b.Members {
			if !strings.Contains(m, ":") {
				return nil, gkeField("policy.bindings.members", "Invalid member %q: must be of the form type:value.", m)
			}
		}
	}
	return x.s.setIAMPolicy(key, req.GetPolicy())
}
