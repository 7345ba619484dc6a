package gcpfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	resourcemanagerpb "cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fieldSent reports whether a REST request body named the field at the
// top level (or inside the resource body), which proto3 cannot tell for
// empty lists: an explicit [] means "clear".
func fieldSent(ctx context.Context, field string) bool {
	if _, ok := ctx.Value(ctxHTTP).(*http.Request); !ok {
		return false
	}
	b, _ := ctx.Value(ctxBody).([]byte)
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	_, ok := m[field]
	return ok
}

const ctxBody ctxKey = 100

// defaultServices are enabled on every new project, as on a real one.
var defaultServices = []string{
	"bigquery.googleapis.com", "cloudapis.googleapis.com", "compute.googleapis.com", "logging.googleapis.com",
	"monitoring.googleapis.com", "oslogin.googleapis.com", "servicemanagement.googleapis.com",
	"serviceusage.googleapis.com", "storage.googleapis.com",
}

func serviceKey(project, svc string) string {
	return "serviceusage/projects/" + project + "/services/" + svc
}

func (s *Server) serviceEnabled(project, svc string) bool {
	sv, _ := s.st.get(serviceKey(project, svc)).(*serviceusagepb.Service)
	return sv != nil && sv.State == serviceusagepb.State_ENABLED
}

func (s *Server) serviceRecord(project, svc string, state serviceusagepb.State) *serviceusagepb.Service {
	num := projectNumber(project)
	return &serviceusagepb.Service{
		Name:   fmt.Sprintf("projects/%d/services/%s", num, svc),
		Parent: fmt.Sprintf("projects/%d", num),
		Config: &serviceusagepb.ServiceConfig{Name: svc, Title: strings.TrimSuffix(svc, ".googleapis.com")},
		State:  state,
	}
}

// createProjectRecord registers a project in resourcemanager and enables
// its default services. Caller holds the lock.
func (s *Server) createProjectRecord(project string) {
	num := projectNumber(project)
	s.st.put("rm/projects/"+project, &resourcemanagerpb.Project{
		Name:        fmt.Sprintf("projects/%d", num),
		ProjectId:   project,
		State:       resourcemanagerpb.Project_ACTIVE,
		DisplayName: project,
		CreateTime:  timestamppb.New(s.st.now()),
		Etag:        "W/\"" + strconv.FormatInt(num, 16) + "\"",
		Parent:      "organizations/123456789",
	})
	for _, svc := range defaultServices {
		s.st.put(serviceKey(project, svc), s.serviceRecord(project, svc, serviceusagepb.State_ENABLED))
	}
}

// projectID resolves "projects/<id or number>" to the project id.
func (s *Server) projectID(ref string) string {
	id := strings.TrimPrefix(ref, "projects/")
	if _, err := strconv.ParseInt(id, 10, 64); err == nil {
		for _, k := range s.st.match("rm/projects/*") {
			p := s.st.get(k).(*resourcemanagerpb.Project)
			if p.Name == "projects/"+id {
				return p.ProjectId
			}
		}
	}
	return id
}

// --- serviceusage ---

type serviceUsage struct {
	serviceusagepb.UnimplementedServiceUsageServer
	s *Server
}

func splitServiceName(name string) (project, svc string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "services" {
		return "", "", gkeField("name", "Invalid service name %q: must be projects/*/services/*.", name)
	}
	return parts[1], parts[3], nil
}

func validService(svc string) error {
	if !strings.HasSuffix(svc, ".googleapis.com") || strings.ContainsAny(svc, " /") {
		return gkeErr(codes.PermissionDenied, "Not found or permission denied for service(s): %s.", svc)
	}
	return nil
}

func (x *serviceUsage) lroName(project string) string {
	return fmt.Sprintf("operations/acf.p2-%d-%s", projectNumber(project), strings.TrimPrefix(x.s.st.opName(), "operation-"))
}

func (x *serviceUsage) EnableService(ctx context.Context, req *serviceusagepb.EnableServiceRequest) (*longrunningpb.Operation, error) {
	ref, svc, err := splitServiceName(req.Name)
	if err != nil {
		return nil, err
	}
	s := x.s
	s.st.mu.Lock()
	project := s.projectID("projects/" + ref)
	s.st.mu.Unlock()
	defer s.lock(project)()
	if err := validService(svc); err != nil {
		return nil, err
	}
	rec := s.serviceRecord(project, svc, serviceusagepb.State_ENABLED)
	return s.lroOp(ctx, x.lroName(project), &serviceusagepb.OperationMetadata{ResourceNames: []string{rec.Name}},
		&pendingOp{Puts: map[string]proto.Message{serviceKey(project, svc): rec}, Response: &serviceusagepb.EnableServiceResponse{Service: rec}}), nil
}

func (x *serviceUsage) BatchEnableServices(ctx context.Context, req *serviceusagepb.BatchEnableServicesRequest) (*longrunningpb.Operation, error) {
	s := x.s
	s.st.mu.Lock()
	project := s.projectID(req.Parent)
	s.st.mu.Unlock()
	defer s.lock(project)()
	if len(req.ServiceIds) == 0 || len(req.ServiceIds) > 20 {
		return nil, gkeField("serviceIds", "Between 1 and 20 service ids must be given, got %d.", len(req.ServiceIds))
	}
	p := &pendingOp{Puts: map[string]proto.Message{}}
	resp := &serviceusagepb.BatchEnableServicesResponse{}
	for _, svc := range req.ServiceIds {
		if err := validService(svc); err != nil {
			return nil, err
		}
		rec := s.serviceRecord(project, svc, serviceusagepb.State_ENABLED)
		p.Puts[serviceKey(project, svc)] = rec
		resp.Services = append(resp.Services, rec)
	}
	p.Response = resp
	return s.lroOp(ctx, x.lroName(project), &serviceusagepb.OperationMetadata{}, p), nil
}

func (x *serviceUsage) DisableService(ctx context.Context, req *serviceusagepb.DisableServiceRequest) (*longrunningpb.Operation, error) {
	ref, svc, err := splitServiceName(req.Name)
	if err != nil {
		return nil, err
	}
	s := x.s
	s.st.mu.Lock()
	project := s.projectID("projects/" + ref)
	s.st.mu.Unlock()
	defer s.lock(project)()
	rec := s.serviceRecord(project, svc, serviceusagepb.State_DISABLED)
	return s.lroOp(ctx, x.lroName(project), &serviceusagepb.OperationMetadata{ResourceNames: []string{rec.Name}},
		&pendingOp{Puts: map[string]proto.Message{serviceKey(project, svc): rec}, Response: &serviceusagepb.DisableServiceResponse{Service: rec}}), nil
}

func (x *serviceUsage) GetService(ctx context.Context, req *serviceusagepb.GetServiceRequest) (*serviceusagepb.Service, error) {
	ref, svc, err := splitServiceName(req.Name)
	if err != nil {
		return nil, err
	}
	s := x.s
	s.st.mu.Lock()
	project := s.projectID("projects/" + ref)
	s.st.mu.Unlock()
	defer s.lock(project)()
	if sv, ok := s.st.get(serviceKey(project, svc)).(*serviceusagepb.Service); ok {
		return proto.Clone(sv).(*serviceusagepb.Service), nil
	}
	if err := validService(svc); err != nil {
		return nil, err
	}
	return s.serviceRecord(project, svc, serviceusagepb.State_DISABLED), nil
}

func (x *serviceUsage) ListServices(ctx context.Context, req *serviceusagepb.ListServicesRequest) (*serviceusagepb.ListServicesResponse, error) {
	s := x.s
	s.st.mu.Lock()
	project := s.projectID(req.Parent)
	s.st.mu.Unlock()
	defer s.lock(project)()
	var all []*serviceusagepb.Service
	for _, k := range s.st.list("serviceusage/projects/" + project + "/services/") {
		sv := s.st.get(k).(*serviceusagepb.Service)
		switch strings.ReplaceAll(req.Filter, " ", "") {
		case "state:ENABLED":
			if sv.State != serviceusagepb.State_ENABLED {
				continue
			}
		case "state:DISABLED":
			if sv.State != serviceusagepb.State_DISABLED {
				continue
			}
		}
		all = append(all, proto.Clone(sv).(*serviceusagepb.Service))
	}
	start, _ := strconv.Atoi(req.PageToken)
	if start > len(all) {
		start = len(all)
	}
	size := int(req.PageSize)
	if size <= 0 || size > 200 {
		size = 50
	}
	out := &serviceusagepb.ListServicesResponse{}
	end := start + size
	if end < len(all) {
		out.NextPageToken = strconv.Itoa(end)
	} else {
		end = len(all)
	}
	out.Services = all[start:end]
	return out, nil
}

func (x *serviceUsage) BatchGetServices(ctx context.Context, req *serviceusagepb.BatchGetServicesRequest) (*serviceusagepb.BatchGetServicesResponse, error) {
	out := &serviceusagepb.BatchGetServicesResponse{}
	for _, n := range req.Names {
		sv, err := x.GetService(ctx, &serviceusagepb.GetServiceRequest{Name: n})
		if err != nil {
			return nil, err
		}
		out.Services = append(out.Services, sv)
	}
	return out, nil
}

// --- google.longrunning ---

type lroServer struct {
	longrunningpb.UnimplementedOperationsServer
	s *Server
}

func (x *lroServer) GetOperation(ctx context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	defer x.s.lock("")()
	op, _ := x.s.st.get("lro/" + req.Name).(*longrunningpb.Operation)
	if op == nil {
		return nil, gkeErr(codes.NotFound, "Operation %q not found.", req.Name)
	}
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

func (x *lroServer) ListOperations(ctx context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	defer x.s.lock("")()
	out := &longrunningpb.ListOperationsResponse{}
	prefix := "lro/" + strings.TrimSuffix(req.Name, "/operations")
	for k, v := range x.s.st.objs {
		if strings.HasPrefix(k, prefix) {
			if op, ok := v.(*longrunningpb.Operation); ok {
				out.Operations = append(out.Operations, proto.Clone(op).(*longrunningpb.Operation))
			}
		}
	}
	sort.Slice(out.Operations, func(i, j int) bool { return out.Operations[i].Name < out.Operations[j].Name })
	return out, nil
}

func (x *lroServer) DeleteOperation(ctx context.Context, req *longrunningpb.DeleteOperationRequest) (*emptypb.Empty, error) {
	defer x.s.lock("")()
	x.s.st.del("lro/" + req.Name)
	return &emptypb.Empty{}, nil
}

func (x *lroServer) WaitOperation(ctx context.Context, req *longrunningpb.WaitOperationRequest) (*longrunningpb.Operation, error) {
	return x.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: req.Name})
}

// --- resourcemanager ---

type rmProjects struct {
	resourcemanagerpb.UnimplementedProjectsServer
	s *Server
}

func (x *rmProjects) GetProject(ctx context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error) {
	s := x.s
	s.st.mu.Lock()
	id := s.projectID(req.Name)
	s.st.mu.Unlock()
	defer s.lock(id)()
	return proto.Clone(s.st.get("rm/projects/" + id)).(*resourcemanagerpb.Project), nil
}

func (x *rmProjects) SearchProjects(ctx context.Context, req *resourcemanagerpb.SearchProjectsRequest) (*resourcemanagerpb.SearchProjectsResponse, error) {
	defer x.s.lock("")()
	out := &resourcemanagerpb.SearchProjectsResponse{}
	for _, k := range x.s.st.match("rm/projects/*") {
		out.Projects = append(out.Projects, proto.Clone(x.s.st.get(k)).(*resourcemanagerpb.Project))
	}
	return out, nil
}

func (s *Server) iamPolicy(key string) *iampb.Policy {
	if p, ok := s.st.get("policy/" + key).(*iampb.Policy); ok {
		return proto.Clone(p).(*iampb.Policy)
	}
	p := &iampb.Policy{Version: 1}
	p.Etag = []byte(fingerprint(p))
	return p
}

// setIAMPolicy stores a policy with etag-based optimistic concurrency:
// a policy read before someone else's write is refused with ABORTED.
func (s *Server) setIAMPolicy(key string, in *iampb.Policy) (*iampb.Policy, error) {
	cur := s.iamPolicy(key)
	if len(in.GetEtag()) > 0 && string(in.Etag) != string(cur.Etag) {
		return nil, gkeErr(codes.Aborted, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. The request's ETag '%s' did not match the current policy's ETag '%s'.", in.Etag, cur.Etag)
	}
	p := proto.Clone(in).(*iampb.Policy)
	if p.Version == 0 {
		p.Version = 1
	}
	p.Etag = nil
	p.Etag = []byte(fingerprint(p))
	s.st.put("policy/"+key, p)
	return proto.Clone(p).(*iampb.Policy), nil
}

func (x *rmProjects) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	s := x.s
	s.st.mu.Lock()
	id := s.projectID(req.Resource)
	s.st.mu.Unlock()
	defer s.lock(id)()
	return s.iamPolicy("rm/projects/" + id), nil
}

func (x *rmProjects) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	s := x.s
	s.st.mu.Lock()
	id := s.projectID(req.Resource)
	s.st.mu.Unlock()
	defer s.lock(id)()
	return s.setIAMPolicy("rm/projects/"+id, req.GetPolicy())
}

func (x *rmProjects) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	// Loopback callers are trusted with everything but what a Denial takes away.
	return &iampb.TestIamPermissionsResponse{Permissions: x.s.granted(x.s.callerOf(ctx), req.Permissions)}, nil
}
