package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/invopop/jsonschema"
)

// schemaID is the $id of the schema: where the committed file is served from, so editors can
// fetch it from the yaml-language-server comment of a federation file.
const schemaID = "https://raw.githubusercontent.com/asmfed/kubectl-asmfed/main/schema/federation.v1alpha1.json"

// renderSchema builds the JSON Schema of the federation file: every object strict, the fields
// without omitempty required, descriptions from the Go comments, and the rules tables applied.
func renderSchema(c comments, objs []object) ([]byte, error) {
	r := &jsonschema.Reflector{
		ExpandedStruct: true,
		LookupComment: func(t reflect.Type, name string) string {
			if t.PkgPath() != apiPkg {
				return ""
			}
			if name == "" {
				return c[t.Name()]
			}
			return c[t.Name()+"."+name]
		},
	}
	root := r.Reflect(&v1alpha1.Federation{})
	root.ID = schemaID
	root.Title = v1alpha1.Kind + " (" + v1alpha1.APIVersion + ")"
	root.Comments = "Generated from the Go types in pkg/api/v1alpha1 by `go run ./hack/gen`; do not edit."

	done := map[reflect.Type]bool{}
	for _, o := range objs {
		if done[o.Type] {
			continue
		}
		done[o.Type] = true
		s := root
		if o.Type != reflect.TypeOf(v1alpha1.Federation{}) {
			s = root.Definitions[o.Type.Name()]
		}
		if s == nil {
			return nil, fmt.Errorf("no schema definition for %s", o.Type.Name())
		}
		for _, f := range o.Fields {
			prop, ok := s.Properties.Get(f.JSONName)
			if !ok {
				return nil, fmt.Errorf("no schema property for %s", f.Key)
			}
			if len(f.Enum) > 0 {
				for _, v := range f.Enum {
					prop.Enum = append(prop.Enum, v)
				}
			}
			if v := literalDefault(f, prop); v != nil {
				prop.Default = v
			}
			if rule := fieldRules[f.Key]; rule != nil {
				rule(prop)
			}
		}
		if rule := typeRules[o.Type.Name()]; rule != nil {
			rule(s)
		}
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// literalDefault returns a field's default as a JSON value when the comment states it as a
// literal of the field's type (true, 100, [15017], one of the enum values), and nil for a default
// described in words (e.g. "the cluster's name").
func literalDefault(f field, prop *jsonschema.Schema) any {
	if f.Default == "" {
		return nil
	}
	if len(f.Enum) > 0 {
		if slices.Contains(f.Enum, f.Default) {
			return f.Default
		}
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(f.Default))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil
	}
	switch v.(type) {
	case bool:
		if prop.Type == "boolean" {
			return v
		}
	case json.Number:
		if prop.Type == "integer" || prop.Type == "number" {
			return v
		}
	case []any:
		if prop.Type == "array" {
			return v
		}
	}
	return nil
}

func jsonNumber(s string) json.Number { return json.Number(s) }
