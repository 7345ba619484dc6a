package main

import (
	"reflect"
	"strings"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// apiPkg is the import path of the types the generator describes.
var apiPkg = reflect.TypeOf(v1alpha1.Federation{}).PkgPath()

// object is one YAML mapping of the federation file, reached at Path.
type object struct {
	Path   string // YAML path, e.g. spec.clusters[]; empty for the document itself
	Type   reflect.Type
	Doc    string
	Fields []field
}

// field is one key of an object.
type field struct {
	Key      string // "Type.Field", the key of the comment and rule tables
	JSONName string
	Path     string // YAML path, e.g. spec.clusters[].name
	Type     reflect.Type
	Required bool
	Doc      string // comment without the default sentence
	Default  string // the default as the comment states it
	Enum     []string
}

// objects lists every object of the federation file in document order, depth first. A type
// reached through several paths (e.g. NamedCIDR) is listed once per path.
func objects(c comments) []object {
	var out []object
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		o := object{Path: path, Type: t, Doc: c[t.Name()]}
		var children []func()
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			name, omitempty, ok := jsonName(sf)
			if !ok {
				continue
			}
			key := t.Name() + "." + sf.Name
			def, rest := splitDefault(c[key])
			f := field{
				Key:      key,
				JSONName: name,
				Path:     join(path, name),
				Type:     sf.Type,
				Required: !omitempty,
				Doc:      rest,
				Default:  def,
				Enum:     enums[key],
			}
			o.Fields = append(o.Fields, f)
			if st, suffix := structOf(sf.Type); st != nil {
				children = append(children, func() { walk(st, f.Path+suffix) })
			}
		}
		out = append(out, o)
		for _, child := range children {
			child()
		}
	}
	walk(reflect.TypeOf(v1alpha1.Federation{}), "")
	return out
}

// structOf returns the API struct a field holds, directly or through pointers, slices and maps,
// and the YAML path suffix that reaches it ("[]" per list level, ".*" per map level).
func structOf(t reflect.Type) (reflect.Type, string) {
	suffix := ""
	for {
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Slice, reflect.Array:
			suffix += "[]"
			t = t.Elem()
		case reflect.Map:
			suffix += ".*"
			t = t.Elem()
		case reflect.Struct:
			if t.PkgPath() != apiPkg {
				return nil, ""
			}
			return t, suffix
		default:
			return nil, ""
		}
	}
}

func jsonName(sf reflect.StructField) (name string, omitempty, ok bool) {
	if !sf.IsExported() {
		return "", false, false
	}
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return "", false, false
	}
	parts := strings.Split(tag, ",")
	name = parts[0]
	if name == "" {
		name = sf.Name
	}
	for _, p := range parts[1:] {
		if p == "omitempty" || p == "omitzero" {
			omitempty = true
		}
	}
	return name, omitempty, true
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
