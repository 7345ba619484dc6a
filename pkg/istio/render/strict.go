package render

import (
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/operator/pkg/apis"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// fieldError is one problem found by the strict check, at a field path relative to the overlay's
// root (spec.meshConfig.outboundTrafficPolcy).
type fieldError struct {
	Path    string
	Message string
	Hint    string
}

// checkStrict checks an IstioOperator overlay against Istio's own types, field by field, and
// returns every problem. It is stricter than istioctl: unknown fields under meshConfig are errors
// (Istio drops them silently, so a typo such as outboundTrafficPolcy leaves the mesh on ALLOW_ANY).
//
// The schema comes from Istio itself: the apis.IstioOperatorSpec Go type (with the Kubernetes
// types of components.*.k8s), the istio.mesh.v1alpha1.MeshConfig proto for spec.meshConfig and
// the istio.operator.v1alpha1.Values proto for spec.values. spec.unvalidatedValues stays free-form:
// it is Istio's escape hatch.
func checkStrict(iop map[string]any) []fieldError {
	c := &checker{}
	for _, k := range slices.Sorted(maps.Keys(iop)) {
		v := iop[k]
		switch k {
		case "apiVersion", "kind":
			c.goValue(v, reflect.TypeOf(""), k)
		case "metadata":
			c.goValue(v, reflect.TypeOf(apis.IstioOperator{}.ObjectMeta), k)
		case "spec":
			c.spec(v)
		default:
			c.unknown(k, k, []string{"apiVersion", "kind", "metadata", "spec"}, "IstioOperator")
		}
	}
	return c.errs
}

type checker struct{ errs []fieldError }

func (c *checker) errorf(path, hint, format string, args ...any) {
	c.errs = append(c.errs, fieldError{Path: path, Message: fmt.Sprintf(format, args...), Hint: hint})
}

func (c *checker) unknown(path, key string, known []string, in string) {
	c.errorf(path, suggest(key, known), "unknown field %q in %s", key, in)
}

func (c *checker) spec(v any) {
	m, ok := c.mapping(v, "spec")
	if !ok {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		p := "spec." + k
		switch k {
		case "meshConfig":
			c.proto(m[k], (&meshv1alpha1.MeshConfig{}).ProtoReflect().Descriptor(), p)
		case "values":
			c.proto(m[k], (&apis.Values{}).ProtoReflect().Descriptor(), p)
		case "unvalidatedValues":
		default:
			f, found := jsonFields(reflect.TypeOf(apis.IstioOperatorSpec{}))[k]
			if !found {
				c.unknown(p, k, slices.Sorted(maps.Keys(jsonFields(reflect.TypeOf(apis.IstioOperatorSpec{})))), "IstioOperator spec")
				continue
			}
			c.goValue(m[k], f.Type, p)
		}
	}
}

func (c *checker) mapping(v any, path string) (map[string]any, bool) {
	if v == nil {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.errorf(path, "", "expected a mapping, got %s", kindOf(v))
	}
	return m, ok
}

func (c *checker) sequence(v any, path string) ([]any, bool) {
	if v == nil {
		return nil, false
	}
	l, ok := v.([]any)
	if !ok {
		c.errorf(path, "", "expected a list, got %s", kindOf(v))
	}
	return l, ok
}

var (
	unmarshalerType     = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	rawMessageType      = reflect.TypeOf(json.RawMessage{})
)

// goValue checks v against a Go type the way encoding/json with DisallowUnknownFields would, but
// reports every problem instead of the first.
func (c *checker) goValue(v any, t reflect.Type, path string) {
	if v == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		// Quantities, IntOrString, BoolValue and the like parse themselves; they take scalars.
		if _, isMap := v.(map[string]any); isMap {
			c.errorf(path, "", "expected a value, got a mapping")
		} else if _, isList := v.([]any); isList {
			c.errorf(path, "", "expected a value, got a list")
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := c.mapping(v, path)
		if !ok {
			return
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			f, found := fields[k]
			if !found {
				c.unknown(path+"."+k, k, slices.Sorted(maps.Keys(fields)), t.Name())
				continue
			}
			c.goValue(m[k], f.Type, path+"."+k)
		}
	case reflect.Map:
		m, ok := c.mapping(v, path)
		if !ok {
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			c.goValue(m[k], t.Elem(), path+"."+k)
		}
	case reflect.Slice, reflect.Array:
		l, ok := c.sequence(v, path)
		if !ok {
			return
		}
		for i, e := range l {
			c.goValue(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			c.errorf(path, quoteHint(v), "expected a string, got %s", kindOf(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.errorf(path, "use true or false", "expected a boolean, got %s", kindOf(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !isInteger(v, false) {
			c.errorf(path, "", "expected an integer, got %s", kindOf(v))
		}
	case reflect.Float32, reflect.Float64:
		if !isNumber(v, false) {
			c.errorf(path, "", "expected a number, got %s", kindOf(v))
		}
	}
}

// jsonFields maps the JSON names of a struct's fields, following inline and embedded structs.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if (f.Anonymous && name == "") || strings.Contains(opts, "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, sf := range jsonFields(ft) {
					out[k] = sf
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

// proto checks v against a protobuf message the way protojson would, accepting both the JSON
// (camelCase) and the proto (snake_case) names of fields.
func (c *checker) proto(v any, md protoreflect.MessageDescriptor, path string) {
	if v == nil {
		return
	}
	switch md.FullName() {
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any":
		return
	case "google.protobuf.Duration", "google.protobuf.Timestamp", "google.protobuf.FieldMask":
		if _, ok := v.(string); !ok {
			c.errorf(path, "e.g. \"10s\"", "expected a string, got %s", kindOf(v))
		}
		return
	case "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
		"google.protobuf.Int32Value", "google.protobuf.Int64Value", "google.protobuf.UInt32Value",
		"google.protobuf.UInt64Value", "google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		c.scalar(v, md.Fields().ByName("value"), path)
		return
	}
	m, ok := c.mapping(v, path)
	if !ok {
		return
	}
	fields := md.Fields()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByTextName(k)
		}
		p := path + "." + k
		if fd == nil {
			known := make([]string, 0, fields.Len())
			for i := 0; i < fields.Len(); i++ {
				known = append(known, fields.Get(i).JSONName())
			}
			c.unknown(p, k, known, string(md.FullName()))
			continue
		}
		c.protoField(m[k], fd, p)
	}
}

func (c *checker) protoField(v any, fd protoreflect.FieldDescriptor, path string) {
	if v == nil {
		return
	}
	switch {
	case fd.IsMap():
		m, ok := c.mapping(v, path)
		if !ok {
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			c.singular(m[k], fd.MapValue(), path+"."+k)
		}
	case fd.IsList():
		l, ok := c.sequence(v, path)
		if !ok {
			return
		}
		for i, e := range l {
			c.singular(e, fd, fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		c.singular(v, fd, path)
	}
}

func (c *checker) singular(v any, fd protoreflect.FieldDescriptor, path string) {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		c.proto(v, fd.Message(), path)
		return
	}
	c.scalar(v, fd, path)
}

func (c *checker) scalar(v any, fd protoreflect.FieldDescriptor, path string) {
	if v == nil {
		return
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			c.errorf(path, "use true or false", "expected a boolean, got %s", kindOf(v))
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			c.errorf(path, quoteHint(v), "expected a string, got %s", kindOf(v))
		}
	case protoreflect.EnumKind:
		ev := fd.Enum().Values()
		switch x := v.(type) {
		case string:
			if ev.ByName(protoreflect.Name(x)) == nil {
				names := make([]string, ev.Len())
				for i := range names {
					names[i] = string(ev.Get(i).Name())
				}
				hint := suggest(x, names)
				if hint == "" {
					hint = "one of " + strings.Join(names, ", ")
				}
				c.errorf(path, hint, "unknown value %q for enum %s", x, fd.Enum().FullName())
			}
		default:
			if !isInteger(v, false) {
				c.errorf(path, "", "expected an enum name, got %s", kindOf(v))
			}
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if !isNumber(v, true) {
			c.errorf(path, "", "expected a number, got %s", kindOf(v))
		}
	default: // integers; protojson also accepts them as strings
		if !isInteger(v, true) {
			c.errorf(path, "", "expected an integer, got %s", kindOf(v))
		}
	}
}

func isInteger(v any, stringsToo bool) bool {
	switch x := v.(type) {
	case int, int64, int32, uint, uint64, uint32:
		return true
	case float64:
		return x == float64(int64(x))
	case string:
		if stringsToo {
			_, err := strconv.ParseInt(x, 10, 64)
			return err == nil
		}
	}
	return false
}

func isNumber(v any, stringsToo bool) bool {
	switch x := v.(type) {
	case int, int64, int32, uint, uint64, uint32, float64, float32:
		return true
	case string:
		if stringsToo {
			_, err := strconv.ParseFloat(x, 64)
			return err == nil
		}
	}
	return false
}

func quoteHint(v any) string {
	switch v.(type) {
	case bool, int, int64, float64, uint64:
		return "quote the value"
	}
	return ""
}

func kindOf(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	case int, int64, int32, uint, uint64, uint32, float64, float32:
		return fmt.Sprintf("the number %v", x)
	}
	return fmt.Sprintf("%T", v)
}

// suggest names the known field closest to a misspelt one, or returns "".
func suggest(got string, known []string) string {
	best, bestDist := "", 0
	for _, k := range known {
		d := editDistance(strings.ToLower(got), strings.ToLower(k))
		if best == "" || d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if best == "" || bestDist > max(2, len(got)/4) {
		return ""
	}
	return "did you mean " + best + "?"
}

func editDistance(a, b string) int { return v1alpha1.EditDistance(a, b) }
