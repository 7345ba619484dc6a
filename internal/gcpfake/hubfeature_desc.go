package gcpfake

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	_ "cloud.google.com/go/longrunning/autogen/longrunningpb" // registers google/longrunning/operations.proto
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The GKE Hub Features API (v1) has no Go proto package that carries the
// service mesh fields (genproto's gkehub/v1 predates them and
// cloud.google.com/go/gkehub ships only the v1beta1 membership service).
// So the simulator describes the part it serves here, field for field as
// the REST API documents it, under its own proto package so it can never
// clash with an official one linked into the same binary. JSON names are
// what matters on the wire and they match the real API.
const hubFeaturePkg = "gcpfake.gkehub.v1"

// field kinds for the descriptor builder below.
const (
	kString = "string"
	kBool   = "bool"
)

type fdef struct {
	name string
	kind string // kString, kBool, "enum:Name", "msg:Name", "map:Name" (string → Name), "strmap"
	rep  bool
}

type mdef struct {
	name   string
	fields []fdef
	enums  map[string][]string // nested enums, values in number order
}

var hubMessages = []mdef{
	{name: "Feature", fields: []fdef{
		{"name", kString, false}, {"labels", "strmap", false},
		{"resource_state", "msg:FeatureResourceState", false},
		{"spec", "msg:CommonFeatureSpec", false},
		{"membership_specs", "map:MembershipFeatureSpec", false},
		{"state", "msg:CommonFeatureState", false},
		{"membership_states", "map:MembershipFeatureState", false},
		{"create_time", kString, false}, {"update_time", kString, false}, {"delete_time", kString, false},
		{"fleet_default_member_config", "msg:CommonFleetDefaultMemberConfigSpec", false},
	}},
	{name: "FeatureResourceState", fields: []fdef{{"state", "enum:FeatureResourceState.State", false}},
		enums: map[string][]string{"State": {"STATE_UNSPECIFIED", "ENABLING", "ACTIVE", "DISABLING", "UPDATING", "SERVICE_UPDATING"}}},
	{name: "CommonFeatureSpec"},
	{name: "CommonFeatureState", fields: []fdef{{"state", "msg:FeatureState", false}}},
	{name: "FeatureState", fields: []fdef{{"code", "enum:FeatureState.Code", false}, {"description", kString, false}, {"update_time", kString, false}},
		enums: map[string][]string{"Code": {"CODE_UNSPECIFIED", "OK", "WARNING", "ERROR"}}},
	{name: "CommonFleetDefaultMemberConfigSpec", fields: []fdef{{"mesh", "msg:ServiceMeshMembershipSpec", false}}},
	{name: "MembershipFeatureSpec", fields: []fdef{{"mesh", "msg:ServiceMeshMembershipSpec", false}, {"origin", "msg:Origin", false}}},
	{name: "Origin", fields: []fdef{{"type", "enum:Origin.Type", false}},
		enums: map[string][]string{"Type": {"TYPE_UNSPECIFIED", "FLEET", "FLEET_OUT_OF_SYNC", "USER"}}},
	{name: "ServiceMeshMembershipSpec", fields: []fdef{
		{"control_plane", "enum:ServiceMeshMembershipSpec.ControlPlaneManagement", false},
		{"management", "enum:ServiceMeshMembershipSpec.Management", false},
		{"config_api", "enum:ServiceMeshMembershipSpec.ConfigApi", false},
	}, enums: map[string][]string{
		"ControlPlaneManagement": {"CONTROL_PLANE_MANAGEMENT_UNSPECIFIED", "AUTOMATIC", "MANUAL"},
		"Management":             {"MANAGEMENT_UNSPECIFIED", "MANAGEMENT_AUTOMATIC", "MANAGEMENT_MANUAL"},
		"ConfigApi":              {"CONFIG_API_UNSPECIFIED", "CONFIG_API_ISTIO", "CONFIG_API_GATEWAY"},
	}},
	{name: "MembershipFeatureState", fields: []fdef{{"servicemesh", "msg:ServiceMeshMembershipState", false}, {"state", "msg:FeatureState", false}}},
	{name: "ServiceMeshMembershipState", fields: []fdef{
		{"control_plane_management", "msg:ServiceMeshControlPlaneManagement", false},
		{"data_plane_management", "msg:ServiceMeshDataPlaneManagement", false},
		{"conditions", "msg:ServiceMeshCondition", true},
	}},
	{name: "ServiceMeshControlPlaneManagement", fields: []fdef{
		{"details", "msg:ServiceMeshStatusDetails", true},
		{"state", "enum:LifecycleState", false},
		{"implementation", "enum:ServiceMeshControlPlaneManagement.Implementation", false},
	}, enums: map[string][]string{"Implementation": {"IMPLEMENTATION_UNSPECIFIED", "ISTIOD", "TRAFFIC_DIRECTOR", "UPDATING"}}},
	{name: "ServiceMeshDataPlaneManagement", fields: []fdef{
		{"state", "enum:LifecycleState", false}, {"details", "msg:ServiceMeshStatusDetails", true},
	}},
	{name: "ServiceMeshStatusDetails", fields: []fdef{{"code", kString, false}, {"details", kString, false}}},
	{name: "ServiceMeshCondition", fields: []fdef{
		{"code", "enum:ServiceMeshCondition.Code", false}, {"documentation_link", kString, false},
		{"details", kString, false}, {"severity", "enum:ServiceMeshCondition.Severity", false},
	}, enums: map[string][]string{
		"Code": {"CODE_UNSPECIFIED", "MESH_IAM_PERMISSION_DENIED", "MESH_IAM_CROSS_PROJECT_PERMISSION_DENIED",
			"CNI_CONFIG_UNSUPPORTED", "GKE_SANDBOX_UNSUPPORTED", "NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED",
			"CNI_INSTALLATION_FAILED", "CNI_POD_UNSCHEDULABLE", "CLUSTER_HAS_ZERO_NODES", "CANONICAL_SERVICE_ERROR",
			"UNSUPPORTED_MULTIPLE_CONTROL_PLANES", "VPCSC_GA_SUPPORTED", "DEPRECATED_SPEC_CONTROL_PLANE_MANAGEMENT",
			"DEPRECATED_SPEC_CONTROL_PLANE_MANAGEMENT_SAFE", "CONFIG_APPLY_INTERNAL_ERROR", "CONFIG_VALIDATION_ERROR",
			"CONFIG_VALIDATION_WARNING", "QUOTA_EXCEEDED_BACKEND_SERVICES", "QUOTA_EXCEEDED_HEALTH_CHECKS",
			"LEGACY_MC_SECRETS", "WORKLOAD_IDENTITY_REQUIRED"},
		"Severity": {"SEVERITY_UNSPECIFIED", "ERROR", "WARNING", "INFO"},
	}},
	// Requests.
	{name: "ListFeaturesRequest", fields: []fdef{{"parent", kString, false}, {"page_size", "int32", false},
		{"page_token", kString, false}, {"filter", kString, false}, {"order_by", kString, false}, {"return_partial_success", kBool, false}}},
	{name: "ListFeaturesResponse", fields: []fdef{{"resources", "msg:Feature", true}, {"next_page_token", kString, false}}},
	{name: "GetFeatureRequest", fields: []fdef{{"name", kString, false}, {"return_partial_success", kBool, false}}},
	{name: "CreateFeatureRequest", fields: []fdef{{"parent", kString, false}, {"feature_id", kString, false},
		{"resource", "msg:Feature", false}, {"request_id", kString, false}}},
	{name: "DeleteFeatureRequest", fields: []fdef{{"name", kString, false}, {"force", kBool, false}, {"request_id", kString, false}}},
	// update_mask is a google.protobuf.FieldMask in the real proto; its
	// JSON and query forms are the same comma-separated string.
	{name: "UpdateFeatureRequest", fields: []fdef{{"name", kString, false}, {"update_mask", kString, false},
		{"resource", "msg:Feature", false}, {"request_id", kString, false}}},
	// v2: one membership's view of a feature (gcloud's GA "fleet mesh
	// update" writes through it). Message names differ from the real
	// v2 package where they would clash with v1's; JSON is the same.
	{name: "MembershipFeature", fields: []fdef{
		{"name", kString, false}, {"labels", "strmap", false},
		{"resource_state", "msg:FeatureResourceState", false},
		{"spec", "msg:FeatureSpecV2", false},
		{"state", "msg:FeatureStateV2", false},
		{"create_time", kString, false}, {"update_time", kString, false}, {"delete_time", kString, false},
	}},
	{name: "FeatureSpecV2", fields: []fdef{{"servicemesh", "msg:ServiceMeshMembershipSpec", false}, {"origin", "msg:Origin", false}}},
	{name: "FeatureStateV2", fields: []fdef{{"servicemesh", "msg:ServiceMeshMembershipState", false}, {"state", "msg:FeatureState", false}}},
	{name: "GetMembershipFeatureRequest", fields: []fdef{{"name", kString, false}}},
	{name: "ListMembershipFeaturesRequest", fields: []fdef{{"parent", kString, false}, {"page_size", "int32", false},
		{"page_token", kString, false}, {"filter", kString, false}, {"order_by", kString, false}}},
	{name: "ListMembershipFeaturesResponse", fields: []fdef{{"membership_features", "msg:MembershipFeature", true},
		{"next_page_token", kString, false}, {"unreachable", kString, true}}},
	{name: "UpdateMembershipFeatureRequest", fields: []fdef{{"update_mask", kString, false},
		{"membership_feature", "msg:MembershipFeature", false}, {"request_id", kString, false}, {"allow_missing", kBool, false}}},
}

// hubEnumsTop are file-level enums.
var hubEnumsTop = map[string][]string{
	"LifecycleState": {"LIFECYCLE_STATE_UNSPECIFIED", "DISABLED", "FAILED_PRECONDITION", "PROVISIONING", "ACTIVE", "STALLED", "NEEDS_ATTENTION", "DEGRADED", "DEPROVISIONING"},
}

type hubMethod struct{ name, in, out, verb, path, body string }

const lroOut = ".google.longrunning.Operation"

// hubMethods are bound under /v1 (v1beta, v1alpha as additional
// bindings, for gcloud's other tracks); the MembershipFeature methods
// under /v2 (v2beta, v2alpha).
var hubMethods = []hubMethod{
	{"ListFeatures", "ListFeaturesRequest", "ListFeaturesResponse", "GET", "/v1/{parent=projects/*/locations/*}/features", ""},
	{"GetFeature", "GetFeatureRequest", "Feature", "GET", "/v1/{name=projects/*/locations/*/features/*}", ""},
	{"CreateFeature", "CreateFeatureRequest", lroOut, "POST", "/v1/{parent=projects/*/locations/*}/features", "resource"},
	{"DeleteFeature", "DeleteFeatureRequest", lroOut, "DELETE", "/v1/{name=projects/*/locations/*/features/*}", ""},
	{"UpdateFeature", "UpdateFeatureRequest", lroOut, "PATCH", "/v1/{name=projects/*/locations/*/features/*}", "resource"},
	{"ListMembershipFeatures", "ListMembershipFeaturesRequest", "ListMembershipFeaturesResponse", "GET", "/v2/{parent=projects/*/locations/*/memberships/*}/features", ""},
	{"GetMembershipFeature", "GetMembershipFeatureRequest", "MembershipFeature", "GET", "/v2/{name=projects/*/locations/*/memberships/*/features/*}", ""},
	{"UpdateMembershipFeature", "UpdateMembershipFeatureRequest", lroOut, "PATCH", "/v2/{membership_feature.name=projects/*/locations/*/memberships/*/features/*}", "membership_feature"},
}

func qualify(n string) string {
	if n[0] == '.' {
		return n
	}
	return "." + hubFeaturePkg + "." + n
}

func enumDesc(name string, vals []string) *descriptorpb.EnumDescriptorProto {
	e := &descriptorpb.EnumDescriptorProto{Name: proto.String(name)}
	for i, v := range vals {
		e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{Name: proto.String(v), Number: proto.Int32(int32(i))})
	}
	return e
}

func buildHubFeatureFile() *descriptorpb.FileDescriptorProto {
	f := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("gcpfake/gkehub/v1/feature.proto"),
		Package:    proto.String(hubFeaturePkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/longrunning/operations.proto"},
	}
	for _, n := range sortedKeys(hubEnumsTop) {
		f.EnumType = append(f.EnumType, enumDesc(n, hubEnumsTop[n]))
	}
	for _, m := range hubMessages {
		d := &descriptorpb.DescriptorProto{Name: proto.String(m.name)}
		for _, n := range sortedKeys(m.enums) {
			d.EnumType = append(d.EnumType, enumDesc(n, m.enums[n]))
		}
		for i, fd := range m.fields {
			p := &descriptorpb.FieldDescriptorProto{Name: proto.String(fd.name), Number: proto.Int32(int32(i + 1)),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
			if fd.rep {
				p.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
			}
			kind, ref, _ := cutKind(fd.kind)
			switch kind {
			case kString:
				p.Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
			case kBool:
				p.Type = descriptorpb.FieldDescriptorProto_TYPE_BOOL.Enum()
			case "int32":
				p.Type = descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum()
			case "enum":
				p.Type = descriptorpb.FieldDescriptorProto_TYPE_ENUM.Enum()
				p.TypeName = proto.String(qualify(ref))
			case "msg":
				p.Type = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
				p.TypeName = proto.String(qualify(ref))
			case "map", "strmap":
				entry := camel(fd.name) + "Entry"
				val := &descriptorpb.FieldDescriptorProto{Name: proto.String("value"), Number: proto.Int32(2),
					Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()}
				if kind == "map" {
					val.Type = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
					val.TypeName = proto.String(qualify(ref))
				}
				d.NestedType = append(d.NestedType, &descriptorpb.DescriptorProto{
					Name: proto.String(entry),
					Field: []*descriptorpb.FieldDescriptorProto{
						{Name: proto.String("key"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
						val,
					},
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				})
				p.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
				p.Type = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
				p.TypeName = proto.String(qualify(m.name + "." + entry))
			default:
				panic("gcpfake: bad field kind " + fd.kind)
			}
			d.Field = append(d.Field, p)
		}
		f.MessageType = append(f.MessageType, d)
	}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("GkeHub")}
	for _, m := range hubMethods {
		rule := &annotations.HttpRule{Body: m.body}
		setPattern := func(r *annotations.HttpRule, path string) {
			switch m.verb {
			case "GET":
				r.Pattern = &annotations.HttpRule_Get{Get: path}
			case "POST":
				r.Pattern = &annotations.HttpRule_Post{Post: path}
			case "PATCH":
				r.Pattern = &annotations.HttpRule_Patch{Patch: path}
			case "DELETE":
				r.Pattern = &annotations.HttpRule_Delete{Delete: path}
			}
		}
		setPattern(rule, m.path)
		// gcloud's alpha and beta tracks call the same resource under
		// their own versions.
		for _, v := range []string{"beta", "alpha"} {
			b := &annotations.HttpRule{Body: m.body}
			ver, rest, _ := strings.Cut(strings.TrimPrefix(m.path, "/"), "/")
			setPattern(b, "/"+ver+v+"/"+rest)
			rule.AdditionalBindings = append(rule.AdditionalBindings, b)
		}
		opts := &descriptorpb.MethodOptions{}
		proto.SetExtension(opts, annotations.E_Http, rule)
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name: proto.String(m.name), InputType: proto.String(qualify(m.in)), OutputType: proto.String(qualify(m.out)), Options: opts,
		})
	}
	f.Service = []*descriptorpb.ServiceDescriptorProto{svc}
	return f
}

func cutKind(k string) (kind, ref string, ok bool) {
	for i := 0; i < len(k); i++ {
		if k[i] == ':' {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}

func camel(snake string) string {
	out := make([]byte, 0, len(snake))
	up := true
	for i := 0; i < len(snake); i++ {
		c := snake[i]
		if c == '_' {
			up = true
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		out = append(out, c)
	}
	return string(out)
}

var (
	hubFeatureOnce sync.Once
	hubFeatureErr  error
)

// registerHubFeatureTypes adds the descriptor and dynamic message types to
// the global registries once per process, so the REST gateway, protojson
// and Any (operation responses, the state file) resolve them by name.
func registerHubFeatureTypes() error {
	hubFeatureOnce.Do(func() {
		fd, err := protodesc.NewFile(buildHubFeatureFile(), protoregistry.GlobalFiles)
		if err != nil {
			hubFeatureErr = fmt.Errorf("gkehub feature descriptors: %w", err)
			return
		}
		if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
			hubFeatureErr = err
			return
		}
		var reg func(msgs protoreflect.MessageDescriptors, enums protoreflect.EnumDescriptors)
		reg = func(msgs protoreflect.MessageDescriptors, enums protoreflect.EnumDescriptors) {
			for i := 0; i < enums.Len(); i++ {
				protoregistry.GlobalTypes.RegisterEnum(dynamicpb.NewEnumType(enums.Get(i)))
			}
			for i := 0; i < msgs.Len(); i++ {
				md := msgs.Get(i)
				if !md.IsMapEntry() {
					protoregistry.GlobalTypes.RegisterMessage(dynamicpb.NewMessageType(md))
				}
				reg(md.Messages(), md.Enums())
			}
		}
		reg(fd.Messages(), fd.Enums())
	})
	return hubFeatureErr
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
