package gcpfake

import (
	"context"
	"reflect"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	resourcemanagerpb "cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// registerAll wires every service on both transports. Order matters for
// REST only where templates coincide (see the operations routes).
func (s *Server) registerAll() error {
	if err := registerHubFeatureTypes(); err != nil {
		return err
	}
	lro := &lroServer{s: s}
	// GKE Hub operations share GKE's /v1/projects/*/locations/*/operations/*
	// template; the hub route claims only names it owns.
	hubOp := func(m proto.Message) bool {
		name := m.(*longrunningpb.GetOperationRequest).Name
		s.st.mu.Lock()
		defer s.st.mu.Unlock()
		return s.st.get("lro/"+name) != nil
	}
	for _, v := range []string{"v1", "v1beta1", "v1beta", "v1alpha", "v2", "v2beta", "v2alpha"} {
		if err := s.gw.addRoute(&longrunningpb.Operations_ServiceDesc, lro, "gkehub", "GetOperation", "GET", "/"+v+"/{name=projects/*/locations/*/operations/*}", "", hubOp); err != nil {
			return err
		}
	}
	regs := []struct {
		desc  *grpc.ServiceDesc
		impl  any
		group string
	}{
		{&computepb.Networks_ServiceDesc, &networks{s: s}, "compute"},
		{&computepb.Subnetworks_ServiceDesc, &subnetworks{s: s}, "compute"},
		{&computepb.Firewalls_ServiceDesc, &firewalls{s: s}, "compute"},
		{&computepb.Routers_ServiceDesc, &routers{s: s}, "compute"},
		{&computepb.Instances_ServiceDesc, &instances{s: s}, "compute"},
		{&computepb.Zones_ServiceDesc, &zones{s: s}, "compute"},
		{&computepb.Regions_ServiceDesc, &regions{s: s}, "compute"},
		{&computepb.GlobalOperations_ServiceDesc, &globalOps{s: s}, "compute"},
		{&computepb.RegionOperations_ServiceDesc, &regionOps{s: s}, "compute"},
		{&computepb.ZoneOperations_ServiceDesc, &zoneOps{s: s}, "compute"},
		{&computepb.Projects_ServiceDesc, &projects{s: s}, "compute"},
		{&containerpb.ClusterManager_ServiceDesc, &clusterManager{s: s}, "container"},
		{&serviceusagepb.ServiceUsage_ServiceDesc, &serviceUsage{s: s}, "serviceusage"},
		{&longrunningpb.Operations_ServiceDesc, lro, "serviceusage"},
		{&resourcemanagerpb.Projects_ServiceDesc, &rmProjects{s: s}, "cloudresourcemanager"},
		{reflectDesc("google.iam.admin.v1.IAM", (*adminpb.IAMServer)(nil)), &iamAdmin{s: s}, "iam"},
		{&gkehubpb.GkeHubMembershipService_ServiceDesc, &hubMemberships{s: s}, "gkehub"},
		{hubFeatureServiceDesc(), &hubFeatures{s: s}, "gkehub"},
	}
	for _, r := range regs {
		s.grpc.RegisterService(r.desc, r.impl)
		if err := s.gw.register(r.desc, r.impl, r.group); err != nil {
			return err
		}
	}
	// gcloud speaks GKE Hub v1 and Resource Manager v1; the shapes used
	// here match the Go protos, so the same methods serve those paths.
	hub := &hubMemberships{s: s}
	for _, v := range []string{"v1", "v1beta"} {
		for _, m := range []struct{ method, verb, path, body string }{
			{"ListMemberships", "GET", "/{parent=projects/*/locations/*}/memberships", ""},
			{"GetMembership", "GET", "/{name=projects/*/locations/*/memberships/*}", ""},
			{"CreateMembership", "POST", "/{parent=projects/*/locations/*}/memberships", "resource"},
			{"DeleteMembership", "DELETE", "/{name=projects/*/locations/*/memberships/*}", ""},
			{"UpdateMembership", "PATCH", "/{name=projects/*/locations/*/memberships/*}", "resource"},
		} {
			if err := s.gw.addRoute(&gkehubpb.GkeHubMembershipService_ServiceDesc, hub, "gkehub", m.method, m.verb, "/"+v+m.path, m.body, nil); err != nil {
				return err
			}
		}
	}
	rm := &rmProjects{s: s}
	for _, m := range []struct{ method, path string }{
		{"GetIamPolicy", "/v1/{resource=projects/*}:getIamPolicy"},
		{"SetIamPolicy", "/v1/{resource=projects/*}:setIamPolicy"},
		{"TestIamPermissions", "/v1/{resource=projects/*}:testIamPermissions"},
	} {
		if err := s.gw.addRoute(&resourcemanagerpb.Projects_ServiceDesc, rm, "cloudresourcemanager", m.method, "POST", m.path, "*", nil); err != nil {
			return err
		}
	}
	return nil
}

// reflectDesc builds a grpc.ServiceDesc for a service whose generated
// descriptor is unexported (IAM admin), dispatching by method name.
func reflectDesc(service string, iface any) *grpc.ServiceDesc {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		panic(err)
	}
	sd := d.(protoreflect.ServiceDescriptor)
	desc := &grpc.ServiceDesc{ServiceName: service, HandlerType: iface, Metadata: sd.ParentFile().Path()}
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		if md.IsStreamingClient() || md.IsStreamingServer() {
			continue
		}
		name := string(md.Name())
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
		if err != nil {
			panic(err)
		}
		full := "/" + service + "/" + name
		desc.Methods = append(desc.Methods, grpc.MethodDesc{MethodName: name, Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := mt.New().Interface()
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				out := reflect.ValueOf(srv).MethodByName(name).Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(req)})
				if e, _ := out[1].Interface().(error); e != nil {
					return nil, e
				}
				return out[0].Interface(), nil
			}
			if ic == nil {
				return call(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, call)
		}})
	}
	return desc
}
