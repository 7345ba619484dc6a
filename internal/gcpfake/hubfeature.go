package gcpfake

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// hubFeature and the types below are the JSON shape of a GKE Hub Feature.
// Handlers work on these plain structs and convert to and from the dynamic
// proto messages at the edge.
type hubFeature struct {
	Name                     string                         `json:"name,omitempty"`
	Labels                   map[string]string              `json:"labels,omitempty"`
	ResourceState            *hubResourceState              `json:"resourceState,omitempty"`
	Spec                     map[string]any                 `json:"spec,omitempty"`
	MembershipSpecs          map[string]*hubMembershipSpec  `json:"membershipSpecs,omitempty"`
	State                    *hubCommonState                `json:"state,omitempty"`
	MembershipStates         map[string]*hubMembershipState `json:"membershipStates,omitempty"`
	CreateTime               string                         `json:"createTime,omitempty"`
	UpdateTime               string                         `json:"updateTime,omitempty"`
	DeleteTime               string                         `json:"deleteTime,omitempty"`
	FleetDefaultMemberConfig *hubDefaultConfig              `json:"fleetDefaultMemberConfig,omitempty"`
}

type hubResourceState struct {
	State string `json:"state,omitempty"`
}

type hubCommonState struct {
	State *hubFeatureState `json:"state,omitempty"`
}

type hubFeatureState struct {
	Code        string `json:"code,omitempty"`
	Description string `json:"description,omitempty"`
	UpdateTime  string `json:"updateTime,omitempty"`
}

type hubDefaultConfig struct {
	Mesh *hubMeshSpec `json:"mesh,omitempty"`
}

type hubMembershipSpec struct {
	Mesh   *hubMeshSpec `json:"mesh,omitempty"`
	Origin *struct {
		Type string `json:"type,omitempty"`
	} `json:"origin,omitempty"`
}

type hubMeshSpec struct {
	ControlPlane string `json:"controlPlane,omitempty"`
	Management   string `json:"management,omitempty"`
	ConfigAPI    string `json:"configApi,omitempty"`
}

func (m *hubMeshSpec) automatic() bool {
	return m != nil && (m.Management == "MANAGEMENT_AUTOMATIC" || (m.Management == "" && m.ControlPlane == "AUTOMATIC"))
}

type hubMembershipState struct {
	Servicemesh *hubMeshState    `json:"servicemesh,omitempty"`
	State       *hubFeatureState `json:"state,omitempty"`
}

type hubMeshState struct {
	ControlPlaneManagement *hubPlane       `json:"controlPlaneManagement,omitempty"`
	DataPlaneManagement    *hubPlane       `json:"dataPlaneManagement,omitempty"`
	Conditions             []*hubCondition `json:"conditions,omitempty"`
}

type hubPlane struct {
	Details        []*hubDetail `json:"details,omitempty"`
	State          string       `json:"state,omitempty"`
	Implementation string       `json:"implementation,omitempty"`
}

type hubDetail struct {
	Code    string `json:"code,omitempty"`
	Details string `json:"details,omitempty"`
}

type hubCondition struct {
	Code              string `json:"code,omitempty"`
	DocumentationLink string `json:"documentationLink,omitempty"`
	Details           string `json:"details,omitempty"`
	Severity          string `json:"severity,omitempty"`
}

// hubFeatureIDs are the features the simulator accepts; others get the
// real API's 400.
var hubFeatureIDs = map[string]bool{
	"servicemesh": true, "multiclusteringress": true, "multiclusterservicediscovery": true,
	"configmanagement": true, "fleetobservability": true, "policycontroller": true,
}

// hubMeshProvisioning is the latency key for how long a managed control
// plane takes to go from PROVISIONING to ACTIVE after a membership asks
// for automatic management.
const hubMeshProvisioning = "Servicemesh/ManagedControlPlane"

type hubFeatureAPI interface{ hubFeatureService() }

type hubFeatures struct{ s *Server }

func (*hubFeatures) hubFeatureService() {}

func hubMsg(name string) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(hubFeaturePkg + "." + name))
	if err != nil {
		panic(err)
	}
	return mt.New().Interface()
}

func fromHubMsg(m proto.Message, v any) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func toHubMsg(name string, v any) proto.Message {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	m := hubMsg(name)
	if err := unmarshalOpts.Unmarshal(b, m); err != nil {
		panic(err)
	}
	return m
}

// hubFeatureServiceDesc dispatches the dynamic GkeHub service to the
// typed handlers, on gRPC and through the REST gateway alike.
func hubFeatureServiceDesc() *grpc.ServiceDesc {
	name := hubFeaturePkg + ".GkeHub"
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		panic(err)
	}
	sd := d.(protoreflect.ServiceDescriptor)
	desc := &grpc.ServiceDesc{ServiceName: name, HandlerType: (*hubFeatureAPI)(nil), Metadata: sd.ParentFile().Path()}
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		method := string(md.Name())
		full := "/" + name + "/" + method
		input := md.Input().FullName()
		desc.Methods = append(desc.Methods, grpc.MethodDesc{MethodName: method, Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			mt, _ := protoregistry.GlobalTypes.FindMessageByName(input)
			in := mt.New().Interface()
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				return srv.(*hubFeatures).dispatch(ctx, method, req.(proto.Message))
			}
			if ic == nil {
				return call(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, call)
		}})
	}
	return desc
}

type hubFeatureRequest struct {
	Parent     string      `json:"parent"`
	Name       string      `json:"name"`
	FeatureID  string      `json:"featureId"`
	Resource   *hubFeature `json:"resource"`
	UpdateMask string      `json:"updateMask"`
	PageSize   int         `json:"pageSize"`
	PageToken  string      `json:"pageToken"`
	// v2
	MembershipFeature *hubMembershipFeature `json:"membershipFeature"`
	AllowMissing      bool                  `json:"allowMissing"`
}

// hubMembershipFeature is the v2 MembershipFeature: one membership's
// slice of a fleet feature, stored as that feature's membership spec.
type hubMembershipFeature struct {
	Name          string            `json:"name,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	ResourceState *hubResourceState `json:"resourceState,omitempty"`
	Spec          *struct {
		Servicemesh *hubMeshSpec `json:"servicemesh,omitempty"`
		Origin      *struct {
			Type string `json:"type,omitempty"`
		} `json:"origin,omitempty"`
	} `json:"spec,omitempty"`
	State *struct {
		Servicemesh *hubMeshState    `json:"servicemesh,omitempty"`
		State       *hubFeatureState `json:"state,omitempty"`
	} `json:"state,omitempty"`
	CreateTime string `json:"createTime,omitempty"`
	UpdateTime string `json:"updateTime,omitempty"`
}

func (x *hubFeatures) dispatch(ctx context.Context, method string, in proto.Message) (proto.Message, error) {
	var req hubFeatureRequest
	if err := fromHubMsg(in, &req); err != nil {
		return nil, badRequest("Invalid request: %v", err)
	}
	switch method {
	case "ListFeatures":
		return x.list(req)
	case "GetFeature":
		return x.get(req)
	case "CreateFeature":
		return x.create(ctx, req)
	case "UpdateFeature":
		return x.update(ctx, req)
	case "DeleteFeature":
		return x.delete(ctx, req)
	case "GetMembershipFeature":
		return x.getMF(req.Name)
	case "ListMembershipFeatures":
		return x.listMF(req.Parent)
	case "UpdateMembershipFeature":
		return x.updateMF(ctx, req)
	}
	return nil, gkeErr(codes.Unimplemented, "Method %s is not implemented.", method)
}

func splitFeatureName(name string) (project, loc, id string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "features" {
		return "", "", "", gkeField("name", "Invalid feature name %q.", name)
	}
	return parts[1], parts[3], parts[5], nil
}

func featureNotFound(name string) error {
	return gkeErr(codes.NotFound, "Resource '%s' was not found", name)
}

func (s *Server) hubTime() string { return s.st.now().UTC().Format(time.RFC3339Nano) }

// storedFeature reads a feature from the store. Caller holds the lock.
func (s *Server) storedFeature(key string) *hubFeature {
	m, _ := s.st.get(key).(proto.Message)
	if m == nil {
		return nil
	}
	var f hubFeature
	if err := fromHubMsg(m, &f); err != nil {
		return nil
	}
	return &f
}

func (x *hubFeatures) list(req hubFeatureRequest) (proto.Message, error) {
	s := x.s
	project, loc, err := hubParent(req.Parent)
	if err != nil {
		return nil, err
	}
	defer s.lock(project)()
	if err := s.requireService(project, "gkehub.googleapis.com"); err != nil {
		return nil, err
	}
	if loc == "-" {
		loc = "*"
	}
	var out struct {
		Resources []*hubFeature `json:"resources,omitempty"`
	}
	for _, k := range s.st.match("hubfeature/projects/" + project + "/locations/" + loc + "/features/*") {
		out.Resources = append(out.Resources, s.renderFeature(project, s.storedFeature(k)))
	}
	return toHubMsg("ListFeaturesResponse", out), nil
}

func (x *hubFeatures) get(req hubFeatureRequest) (proto.Message, error) {
	s := x.s
	project, _, _, err := splitFeatureName(req.Name)
	if err != nil {
		return nil, err
	}
	defer s.lock(project)()
	if err := s.requireService(project, "gkehub.googleapis.com"); err != nil {
		return nil, err
	}
	f := s.storedFeature("hubfeature/" + req.Name)
	if f == nil {
		return nil, featureNotFound(req.Name)
	}
	return toHubMsg("Feature", s.renderFeature(project, f)), nil
}

func (x *hubFeatures) create(ctx context.Context, req hubFeatureRequest) (proto.Message, error) {
	s := x.s
	project, loc, err := hubParent(req.Parent)
	if err != nil {
		return nil, err
	}
	defer s.lock(project)()
	if err := s.requireService(project, "gkehub.googleapis.com"); err != nil {
		return nil, err
	}
	if loc != "global" {
		return nil, gkeField("parent", "Features are global: the parent must be projects/%s/locations/global, not %q.", project, req.Parent)
	}
	if !hubFeatureIDs[req.FeatureID] {
		return nil, gkeField("feature_id", "Feature %q is not supported.", req.FeatureID)
	}
	name := req.Parent + "/features/" + req.FeatureID
	key := "hubfeature/" + name
	if s.st.get(key) != nil {
		return nil, gkeErr(codes.AlreadyExists, "Resource '%s' already exists", name)
	}
	f := req.Resource
	if f == nil {
		f = &hubFeature{}
	}
	f.Name = name
	f.CreateTime = s.hubTime()
	f.UpdateTime = f.CreateTime
	f.MembershipStates, f.State, f.DeleteTime = nil, nil, ""
	specs, err := s.canonicalSpecs(project, f.MembershipSpecs)
	if err != nil {
		return nil, err
	}
	f.MembershipSpecs = nil
	_, doneAt, _ := s.peekOpTiming(ctx)
	s.mergeSpecs(f, specs, doneAt)
	enabling := *f
	enabling.ResourceState = &hubResourceState{State: "ENABLING"}
	s.st.put(key, toHubMsg("Feature", &enabling))
	done := *f
	done.ResourceState = &hubResourceState{State: "ACTIVE"}
	return s.lroOp(ctx, s.hubOpName(project, loc), &gkehubpb.OperationMetadata{Target: name, Verb: "create", ApiVersion: "v1", CreateTime: timestamppb.New(s.st.now())},
		&pendingOp{Puts: map[string]proto.Message{key: toHubMsg("Feature", &done)}, Response: toHubMsg("Feature", &done)}), nil
}

func (x *hubFeatures) update(ctx context.Context, req hubFeatureRequest) (proto.Message, error) {
	s := x.s
	project, loc, _, err := splitFeatureName(req.Name)
	if err != nil {
		return nil, err
	}
	defer s.lock(project)()
	if err := s.requireService(project, "gkehub.googleapis.com"); err != nil {
		return nil, err
	}
	key := "hubfeature/" + req.Name
	cur := s.storedFeature(key)
	if cur == nil {
		return nil, featureNotFound(req.Name)
	}
	in := req.Resource
	if in == nil {
		in = &hubFeature{}
	}
	paths := map[string]bool{}
	for _, p := range strings.Split(req.UpdateMask, ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths[camelLower(p)] = true
		}
	}
	if len(paths) == 0 {
		// No mask: every field the request carries.
		paths = map[string]bool{"labels": in.Labels != nil, "spec": in.Spec != nil,
			"membershipSpecs": in.MembershipSpecs != nil, "fleetDefaultMemberConfig": in.FleetDefaultMemberConfig != nil}
	}
	upd := *cur
	_, doneAt, _ := s.peekOpTiming(ctx)
	for p, on := range paths {
		if !on {
			continue
		}
		switch p {
		case "labels":
			upd.Labels = in.Labels
		case "spec":
			upd.Spec = in.Spec
		case "fleetDefaultMemberConfig":
			upd.FleetDefaultMemberConfig = in.FleetDefaultMemberConfig
		case "membershipSpecs":
			specs, err := s.canonicalSpecs(project, in.MembershipSpecs)
			if err != nil {
				return nil, err
			}
			s.mergeSpecs(&upd, specs, doneAt)
		default:
			return nil, gkeField("update_mask", "Invalid update_mask path %q.", p)
		}
	}
	upd.UpdateTime = s.hubTime()
	upd.ResourceState = &hubResourceState{State: "ACTIVE"}
	return s.lroOp(ctx, s.hubOpName(project, loc), &gkehubpb.OperationMetadata{Target: req.Name, Verb: "update", ApiVersion: "v1", CreateTime: timestamppb.New(s.st.now())},
		&pendingOp{Puts: map[string]proto.Message{key: toHubMsg("Feature", &upd)}, Response: toHubMsg("Feature", &upd)}), nil
}

func (x *hubFeatures) delete(ctx context.Context, req hubFeatureRequest) (proto.Message, error) {
	s := x.s
	project, loc, _, err := splitFeatureName(req.Name)
	if err != nil {
		return nil, err
	}
	defer s.lock(project)()
	if err := s.requireService(project, "gkehub.googleapis.com"); err != nil {
		return nil, err
	}
	key := "hubfeature/" + req.Name
	cur := s.storedFeature(key)
	if cur == nil {
		return nil, featureNotFound(req.Name)
	}
	disabling := *cur
	disabling.ResourceState = &hubResourceState{State: "DISABLING"}
	s.st.put(key, toHubMsg("Feature", &disabling))
	dels := []string{key}
	for k := range s.st.objs {
		if strings.HasPrefix(k, "hubmesh/"+req.Name+"/") {
			dels = append(dels, k)
		}
	}
	sort.Strings(dels)
	return s.lroOp(ctx, s.hubOpName(project, loc), &gkehubpb.OperationMetadata{Target: req.Name, Verb: "delete", ApiVersion: "v1", CreateTime: timestamppb.New(s.st.now())},
		&pendingOp{Dels: dels}), nil
}

// peekOpTiming is when an operation started now would finish, without
// consuming an at-completion fault (opTiming does that when the operation
// is actually started).
func (s *Server) peekOpTiming(ctx context.Context) (runAt, doneAt time.Time, _ error) {
	s.ctl.mu.Lock()
	d := s.ctl.latency.lookup(s.ctl.latency.opMap(), methodFrom(ctx))
	s.ctl.mu.Unlock()
	now := s.st.now()
	return now.Add(d / 5), now.Add(d), nil
}

func camelLower(p string) string {
	c := camel(p)
	if c == "" {
		return c
	}
	return strings.ToLower(c[:1]) + c[1:]
}

// canonicalSpecs keys membership specs by project number, as the real API
// stores them, and refuses memberships that do not exist. Caller holds the
// lock.
func (s *Server) canonicalSpecs(project string, in map[string]*hubMembershipSpec) (map[string]*hubMembershipSpec, error) {
	out := map[string]*hubMembershipSpec{}
	for k, v := range in {
		parts := strings.Split(canon(k), "/")
		if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "memberships" {
			return nil, gkeField("resource.membership_specs", "Invalid membership name %q in membership_specs.", k)
		}
		pid := s.projectID("projects/" + parts[1])
		if s.st.get("hub/projects/"+pid+"/locations/"+parts[3]+"/memberships/"+parts[5]) == nil {
			return nil, gkeField("resource.membership_specs", "Membership %q does not exist in the fleet of project %q.", k, project)
		}
		out["projects/"+itoa(projectNumber(pid))+"/locations/"+parts[3]+"/memberships/"+parts[5]] = v
	}
	return out, nil
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// mergeSpecs applies a membership_specs patch: each key given replaces
// that membership's spec, an empty spec removes it. A membership newly set
// to automatic management gets its provisioning deadline. Caller holds
// the lock.
func (s *Server) mergeSpecs(f *hubFeature, patch map[string]*hubMembershipSpec, from time.Time) {
	if f.MembershipSpecs == nil {
		f.MembershipSpecs = map[string]*hubMembershipSpec{}
	}
	s.ctl.mu.Lock()
	prov := s.ctl.latency.lookup(s.ctl.latency.opMap(), hubMeshProvisioning)
	s.ctl.mu.Unlock()
	for k, v := range patch {
		side := hubMeshKey(f.Name, k)
		was := f.MembershipSpecs[k]
		if v == nil || (v.Mesh == nil && v.Origin == nil) {
			delete(f.MembershipSpecs, k)
			s.st.del(side)
			continue
		}
		f.MembershipSpecs[k] = v
		switch {
		case v.Mesh.automatic() && (was == nil || !was.Mesh.automatic()):
			s.st.put(side, timestamppb.New(from.Add(prov)))
		case !v.Mesh.automatic():
			s.st.del(side)
		}
	}
	if len(f.MembershipSpecs) == 0 {
		f.MembershipSpecs = nil
	}
}

func hubMeshKey(feature, membership string) string {
	parts := strings.Split(membership, "/")
	return "hubmesh/" + feature + "/" + parts[3] + "/" + parts[5]
}

// renderFeature fills in the states the real service reports: one per
// fleet membership, and for servicemesh the managed control and data
// plane moving from PROVISIONING to ACTIVE when their deadline passes.
// Caller holds the lock.
func (s *Server) renderFeature(project string, f *hubFeature) *hubFeature {
	out := *f
	if f.ResourceState == nil || f.ResourceState.State != "ACTIVE" {
		return &out
	}
	now := s.st.now()
	ts := now.UTC().Format(time.RFC3339Nano)
	out.State = &hubCommonState{State: &hubFeatureState{Code: "OK", Description: "Ready", UpdateTime: ts}}
	num := itoa(projectNumber(project))
	for _, k := range s.st.match("hub/projects/" + project + "/locations/*/memberships/*") {
		parts := strings.Split(k, "/")
		key := "projects/" + num + "/locations/" + parts[4] + "/memberships/" + parts[6]
		if out.MembershipStates == nil {
			out.MembershipStates = map[string]*hubMembershipState{}
		}
		st := &hubMembershipState{State: &hubFeatureState{Code: "OK", UpdateTime: ts}}
		out.MembershipStates[key] = st
		if !strings.HasSuffix(f.Name, "/features/servicemesh") {
			continue
		}
		spec := f.MembershipSpecs[key]
		if spec == nil || !spec.Mesh.automatic() {
			st.State.Description = "Please see https://cloud.google.com/service-mesh/docs/install for instructions to onboard to Anthos Service Mesh."
			st.Servicemesh = &hubMeshState{
				ControlPlaneManagement: &hubPlane{State: "DISABLED"},
				DataPlaneManagement:    &hubPlane{State: "DISABLED"},
			}
			continue
		}
		activeAt := now
		if t, ok := s.st.get(hubMeshKey(f.Name, key)).(*timestamppb.Timestamp); ok {
			activeAt = t.AsTime()
		}
		if now.Before(activeAt) {
			st.State.Description = "Provisioning the managed control plane."
			st.Servicemesh = &hubMeshState{
				ControlPlaneManagement: &hubPlane{State: "PROVISIONING",
					Details: []*hubDetail{{Code: "PROVISIONING", Details: "Service is provisioning."}}},
				DataPlaneManagement: &hubPlane{State: "PROVISIONING",
					Details: []*hubDetail{{Code: "PROVISIONING", Details: "Service is provisioning."}}},
			}
			continue
		}
		st.State.Description = "Revision ready for use: asm-managed."
		st.Servicemesh = &hubMeshState{
			ControlPlaneManagement: &hubPlane{State: "ACTIVE", Implementation: "TRAFFIC_DIRECTOR",
				Details: []*hubDetail{{Code: "REVISION_READY", Details: "Ready: asm-managed"}}},
			DataPlaneManagement: &hubPlane{State: "ACTIVE",
				Details: []*hubDetail{{Code: "OK", Details: "Service is running."}}},
			Conditions: []*hubCondition{{Code: "VPCSC_GA_SUPPORTED", Details: "This control plane supports VPC-SC GA.",
				DocumentationLink: "http://cloud.google.com/service-mesh/docs/managed/vpc-sc", Severity: "INFO"}},
		}
	}
	return &out
}

// splitMFName parses projects/P/locations/L/memberships/M/features/F into
// the fleet feature's name and the membership's canonical spec key.
func (s *Server) splitMFName(name string) (project, feature, member, memberKey string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 8 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "memberships" || parts[6] != "features" {
		return "", "", "", "", gkeField("name", "Invalid membership feature name %q.", name)
	}
	project = s.projectID("projects/" + parts[1])
	feature = "projects/" + project + "/locations/global/features/" + parts[7]
	member = "hub/projects/" + project + "/locations/" + parts[3] + "/memberships/" + parts[5]
	memberKey = "projects/" + itoa(projectNumber(project)) + "/locations/" + parts[3] + "/memberships/" + parts[5]
	return project, feature, member, memberKey, nil
}

// membershipFeature renders one membership's view of a feature. Caller
// holds the lock.
func (s *Server) membershipFeature(project, name string, f *hubFeature, memberKey string) *hubMembershipFeature {
	r := s.renderFeature(project, f)
	mf := &hubMembershipFeature{Name: name, ResourceState: r.ResourceState, CreateTime: r.CreateTime, UpdateTime: r.UpdateTime}
	if spec := f.MembershipSpecs[memberKey]; spec != nil {
		mf.Spec = &struct {
			Servicemesh *hubMeshSpec `json:"servicemesh,omitempty"`
			Origin      *struct {
				Type string `json:"type,omitempty"`
			} `json:"origin,omitempty"`
		}{Servicemesh: spec.Mesh, Origin: spec.Origin}
	}
	if st := r.MembershipStates[memberKey]; st != nil {
		mf.State = &struct {
			Servicemesh *hubMeshState    `json:"servicemesh,omitempty"`
			State       *hubFeatureState `json:"state,omitempty"`
		}{Servicemesh: st.Servicemesh, State: st.State}
	}
	return mf
}

func (x *hubFeatures) getMF(name string) (proto.Message, error) {
	s := x.s
	s.st.mu.Lock()
	project, feature, member, key, err := s.splitMFName(name)
	s.st.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer s.lock(project)()
	if err := s.requireService(project, "gkehub.googleapis.com"); err != nil {
		return nil, err
	}
	f := s.storedFeature("hubfeature/" + feature)
	if f == nil || s.st.get(member) == nil {
		return nil, featureNotFound(name)
	}
	return toHubMsg("MembershipFeature", s.membershipFeature(project, name, f, key)), nil
}

func (x *hubFeatures) listMF(parent string) (proto.Message, error) {
	s := x.s
	s.st.mu.Lock()
	project, _, member, key, err := s.splitMFName(parent + "/features/-")
	s.st.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer s.lock(project)()
	if err := s.requireService(project, "gkehub.googleapis.com"); err != nil {
		return nil, err
	}
	if s.st.get(member) == nil {
		return nil, featureNotFound(parent)
	}
	var out struct {
		MembershipFeatures []*hubMembershipFeature `json:"membershipFeatures,omitempty"`
	}
	for _, k := range s.st.match("hubfeature/projects/" + project + "/locations/global/features/*") {
		f := s.storedFeature(k)
		id := k[strings.LastIndex(k, "/")+1:]
		out.MembershipFeatures = append(out.MembershipFeatures, s.membershipFeature(project, parent+"/features/"+id, f, key))
	}
	return toHubMsg("ListMembershipFeaturesResponse", out), nil
}

func (x *hubFeatures) updateMF(ctx context.Context, req hubFeatureRequest) (proto.Message, error) {
	s := x.s
	in := req.MembershipFeature
	if in == nil {
		return nil, gkeField("membership_feature", "membership_feature is required.")
	}
	s.st.mu.Lock()
	project, feature, member, key, err := s.splitMFName(in.Name)
	s.st.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer s.lock(project)()
	if err := s.requireService(project, "gkehub.googleapis.com"); err != nil {
		return nil, err
	}
	if s.st.get(member) == nil {
		return nil, featureNotFound(in.Name)
	}
	fkey := "hubfeature/" + feature
	cur := s.storedFeature(fkey)
	if cur == nil {
		return nil, &Error{Code: codes.FailedPrecondition, HTTP: 400,
			Message: "Feature " + feature + " is not enabled for this fleet; enable it first (gcloud container fleet mesh enable)."}
	}
	for _, p := range strings.Split(req.UpdateMask, ",") {
		switch strings.TrimSpace(p) {
		case "spec", "":
		default:
			return nil, gkeField("update_mask", "Invalid update_mask path %q: only spec can be updated.", p)
		}
	}
	spec := &hubMembershipSpec{}
	if in.Spec != nil {
		spec.Mesh, spec.Origin = in.Spec.Servicemesh, in.Spec.Origin
	}
	upd := *cur
	_, doneAt, _ := s.peekOpTiming(ctx)
	s.mergeSpecs(&upd, map[string]*hubMembershipSpec{key: spec}, doneAt)
	upd.UpdateTime = s.hubTime()
	parts := strings.Split(in.Name, "/")
	resp := s.membershipFeature(project, in.Name, &upd, key)
	return s.lroOp(ctx, s.hubOpName(project, parts[3]), &gkehubpb.OperationMetadata{Target: in.Name, Verb: "update", ApiVersion: "v2", CreateTime: timestamppb.New(s.st.now())},
		&pendingOp{Puts: map[string]proto.Message{fkey: toHubMsg("Feature", &upd)}, Response: toHubMsg("MembershipFeature", resp)}), nil
}
