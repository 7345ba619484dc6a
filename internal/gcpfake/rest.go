package gcpfake

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// route is one REST binding of an RPC, compiled from a google.api.http rule.
type route struct {
	httpMethod string
	pattern    string
	re         *regexp.Regexp
	vars       []string // field paths filled from the capture groups, in order
	body       string   // "", "*" or a top-level field name
	respBody   string
	hasVerb    bool
	group      string
	svc        *service
	fullMethod string
	input      protoreflect.MessageType
	handler    grpc.MethodHandler
	// claim, when set, lets a route decline a match so that a later route
	// sharing the same template (GKE and GKE Hub operations) can take it.
	claim func(req proto.Message) bool
}

type service struct {
	impl    any
	desc    *grpc.ServiceDesc
	group   string
	compute bool // compute omits "status" from error bodies, as the real API does
}

// gateway serves RPCs over REST using the http annotations in the official
// descriptors, so a route table never has to be written by hand.
type gateway struct {
	routes      []*route
	groups      map[string]bool
	interceptor grpc.UnaryServerInterceptor
}

func newGateway(ic grpc.UnaryServerInterceptor) *gateway {
	return &gateway{groups: map[string]bool{}, interceptor: ic}
}

// register adds every annotated method of desc. group names the API host
// (compute, container, ...) and doubles as an optional path prefix.
func (g *gateway) register(desc *grpc.ServiceDesc, impl any, group string) error {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(desc.ServiceName))
	if err != nil {
		return fmt.Errorf("service %s: %w", desc.ServiceName, err)
	}
	sd := d.(protoreflect.ServiceDescriptor)
	svc := &service{impl: impl, desc: desc, group: group, compute: group == "compute"}
	g.groups[group] = true
	for i := range desc.Methods {
		m := desc.Methods[i]
		md := sd.Methods().ByName(protoreflect.Name(m.MethodName))
		if md == nil {
			continue
		}
		rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
		if rule == nil {
			continue
		}
		for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
			verb, path := ruleVerbPath(r)
			if path == "" {
				continue
			}
			if err := g.add(svc, md, m.Handler, verb, path, r.GetBody(), r.GetResponseBody(), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// addRoute binds an extra template to a method, for paths clients use that
// the descriptors do not declare (operations polled under another version).
func (g *gateway) addRoute(desc *grpc.ServiceDesc, impl any, group, method, httpMethod, path, body string, claim func(proto.Message) bool) error {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(desc.ServiceName))
	if err != nil {
		return err
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(method))
	for i := range desc.Methods {
		if desc.Methods[i].MethodName == method {
			svc := &service{impl: impl, desc: desc, group: group, compute: group == "compute"}
			g.groups[group] = true
			return g.add(svc, md, desc.Methods[i].Handler, httpMethod, path, body, "", claim)
		}
	}
	return fmt.Errorf("no method %s in %s", method, desc.ServiceName)
}

func ruleVerbPath(r *annotations.HttpRule) (string, string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}

var tmplVar = regexp.MustCompile(`\{([a-zA-Z0-9_.]+)(=([^}]*))?\}`)

func (g *gateway) add(svc *service, md protoreflect.MethodDescriptor, h grpc.MethodHandler, verb, path, body, respBody string, claim func(proto.Message) bool) error {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		return err
	}
	r := &route{httpMethod: verb, pattern: path, body: body, respBody: respBody, group: svc.group, svc: svc,
		fullMethod: "/" + svc.desc.ServiceName + "/" + string(md.Name()), input: mt, handler: h, claim: claim}
	// A verb is a ":name" suffix after the last segment, outside any {}.
	if i := strings.LastIndex(path, ":"); i > strings.LastIndex(path, "}") && i > strings.LastIndex(path, "/") {
		r.hasVerb = true
	}
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range tmplVar.FindAllStringSubmatchIndex(path, -1) {
		b.WriteString(regexp.QuoteMeta(path[last:m[0]]))
		r.vars = append(r.vars, path[m[2]:m[3]])
		seg := "*"
		if m[6] >= 0 {
			seg = path[m[6]:m[7]]
		}
		b.WriteString("(")
		for j, part := range strings.Split(seg, "/") {
			if j > 0 {
				b.WriteString("/")
			}
			switch part {
			case "*":
				b.WriteString(`[^/:]+`)
			case "**":
				b.WriteString(`[^:]+`)
			default:
				b.WriteString(regexp.QuoteMeta(part))
			}
		}
		b.WriteString(")")
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(path[last:]))
	b.WriteString("$")
	r.re, err = regexp.Compile(b.String())
	if err != nil {
		return fmt.Errorf("route %s: %w", path, err)
	}
	g.routes = append(g.routes, r)
	// Routes with a verb first: their templates are otherwise prefixes of
	// plain ones. Stable so registration order breaks the remaining ties.
	sort.SliceStable(g.routes, func(i, j int) bool { return g.routes[i].hasVerb && !g.routes[j].hasVerb })
	return nil
}

var unmarshalOpts = protojson.UnmarshalOptions{DiscardUnknown: true}
var marshalOpts = protojson.MarshalOptions{}

// ServeHTTP matches the request against the routes and dispatches it
// through the same interceptor chain as gRPC.
func (g *gateway) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := req.URL.EscapedPath()
	group := ""
	if seg, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/"); ok && seg != "compute" && g.groups[seg] {
		group, path = seg, "/"+rest
	}
	if group == "" {
		if host, _, _ := strings.Cut(req.Host, "."); strings.HasSuffix(req.Host, ".googleapis.com") && g.groups[host] {
			group = host
		}
	}
	var body []byte
	for _, r := range g.routes {
		if r.httpMethod != req.Method || (group != "" && r.group != group) {
			continue
		}
		m := r.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		if body == nil {
			b, err := io.ReadAll(io.LimitReader(req.Body, 32<<20))
			if err != nil {
				writeError(w, r.svc.compute, badRequest("could not read request body: %v", err))
				return
			}
			body = append(b, 0)[:len(b)]
		}
		msg, err := r.decode(m[1:], body, req.URL.Query())
		if err != nil {
			writeError(w, r.svc.compute, err)
			return
		}
		if r.claim != nil && !r.claim(msg) {
			continue
		}
		ctx := context.WithValue(withHTTP(req.Context(), req), ctxBody, body)
		resp, err := r.handler(r.svc.impl, ctx, func(v any) error {
			proto.Merge(v.(proto.Message), msg)
			return nil
		}, func(ctx context.Context, in any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return g.interceptor(ctx, in, &grpc.UnaryServerInfo{Server: r.svc.impl, FullMethod: r.fullMethod}, h)
		})
		if err != nil {
			writeError(w, r.svc.compute, err)
			return
		}
		out := resp.(proto.Message)
		if r.respBody != "" {
			fd := out.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(r.respBody))
			if fd != nil && fd.Message() != nil {
				out = out.ProtoReflect().Get(fd).Message().Interface()
			}
		}
		data, err := marshalOpts.Marshal(out)
		if err != nil {
			writeError(w, r.svc.compute, internalErr("marshal response: %v", err))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Write(data)
		return
	}
	writeError(w, strings.HasPrefix(path, "/compute/"), &Error{HTTP: http.StatusNotFound, Reason: "notFound",
		Message: fmt.Sprintf("The requested URL %s was not found on this server.", req.URL.Path)})
}

func (r *route) decode(vals []string, body []byte, query url.Values) (proto.Message, error) {
	msg := r.input.New().Interface()
	mr := msg.ProtoReflect()
	if len(body) > 0 && r.body != "" {
		if r.body == "*" {
			if err := unmarshalOpts.Unmarshal(body, msg); err != nil {
				return nil, badRequest("Invalid JSON payload received. %v", err)
			}
		} else {
			fd := mr.Descriptor().Fields().ByName(protoreflect.Name(r.body))
			if fd == nil || fd.Message() == nil {
				return nil, internalErr("bad body field %q", r.body)
			}
			sub := mr.NewField(fd)
			if err := unmarshalOpts.Unmarshal(body, sub.Message().Interface()); err != nil {
				return nil, badRequest("Invalid JSON payload received. %v", err)
			}
			mr.Set(fd, sub)
		}
	}
	for i, v := range vals {
		s, err := url.PathUnescape(v)
		if err != nil {
			return nil, badRequest("bad path segment %q", v)
		}
		if err := setField(mr, strings.Split(r.vars[i], "."), []string{s}, false); err != nil {
			return nil, err
		}
	}
	if r.body == "*" {
		return msg, nil
	}
	for k, vs := range query {
		switch k {
		case "alt", "$alt", "prettyPrint", "fields", "$fields", "key", "quotaUser", "userIp", "access_token", "callback", "upload_protocol", "uploadType":
			continue
		}
		if err := setField(mr, strings.Split(k, "."), vs, true); err != nil {
			return nil, err
		}
	}
	return msg, nil
}

// setField assigns string values to the field at path, matching names the
// way the REST mapping does (proto name or JSON name). Unknown query
// parameters are ignored, as Google's frontends do for most of them.
func setField(m protoreflect.Message, path []string, vals []string, lenient bool) error {
	fields := m.Descriptor().Fields()
	fd := fields.ByName(protoreflect.Name(path[0]))
	if fd == nil {
		fd = fields.ByJSONName(path[0])
	}
	if fd == nil {
		if lenient {
			return nil
		}
		return badRequest("unknown field %q", path[0])
	}
	if len(path) > 1 {
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return badRequest("field %q is not a message", path[0])
		}
		return setField(m.Mutable(fd).Message(), path[1:], vals, lenient)
	}
	if fd.IsMap() {
		return badRequest("cannot set map field %q from a parameter", path[0])
	}
	for _, s := range vals {
		v, err := scalar(fd, s)
		if err != nil {
			return badRequest("Invalid value at '%s' (%s), %q", fd.JSONName(), fd.Kind(), s)
		}
		if fd.IsList() {
			m.Mutable(fd).List().Append(v)
		} else {
			m.Set(fd, v)
		}
	}
	return nil
}

func scalar(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		return protoreflect.ValueOfBool(b), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(n)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(n), err
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 32)
		return protoreflect.ValueOfFloat32(float32(f)), err
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(s, 64)
		return protoreflect.ValueOfFloat64(f), err
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(s)), nil
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), err
	case protoreflect.MessageKind:
		// Well-known wrappers and FieldMask arrive as strings in queries.
		msg := dynamicNew(fd.Message())
		if msg == nil {
			return protoreflect.Value{}, fmt.Errorf("unsupported")
		}
		q := strconv.Quote(s)
		if err := protojson.Unmarshal([]byte(q), msg); err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfMessage(msg.ProtoReflect()), nil
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported kind %s", fd.Kind())
}

func dynamicNew(md protoreflect.MessageDescriptor) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		return nil
	}
	return mt.New().Interface()
}
