package main

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"unicode"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// renderReference writes the field reference of the federation file: one section per object, in
// document order, with a row per field giving its YAML path, type, whether it is required, its
// default as the comment states it, and the rest of the comment.
func renderReference(objs []object) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("<!-- Generated from the Go types in pkg/api/v1alpha1 by `go run ./hack/gen`; do not edit. -->\n\n")
	p("# Federation file reference (`%s`, kind `%s`)\n\n", v1alpha1.APIVersion, v1alpha1.Kind)
	p("`federation.yaml` is the only input of `kubectl asmfed`. This page lists every field it accepts,\n")
	p("generated from the doc comments of the Go types in `pkg/api/v1alpha1`. Unknown and duplicate\n")
	p("fields are errors. `kubectl asmfed validate --show-defaults -f federation.yaml` prints a file\n")
	p("with every default filled in.\n\n")
	p("The same types produce the JSON Schema [`schema/federation.v1alpha1.json`](../schema/federation.v1alpha1.json).\n")
	p("Editors that use yaml-language-server (VS Code's YAML extension, Neovim, …) complete and check\n")
	p("a federation file that starts with:\n\n")
	p("```yaml\n# yaml-language-server: $schema=%s\n```\n\n", schemaID)
	p("A path such as `spec.clusters[].nodePools[].name` means the `name` key of every item of the\n")
	p("`nodePools` list of every item of `spec.clusters`.\n\n")

	p("## Contents\n\n")
	for _, o := range objs {
		p("- [%s](#%s) (%s)\n", heading(o), anchor(heading(o)), o.Type.Name())
	}
	p("\n")

	p("## Fields\n")
	for _, o := range objs {
		p("\n### %s\n\n", heading(o))
		p("Type `%s`. %s\n\n", o.Type.Name(), escape(o.Doc))
		p("| Field | Type | Required | Default | Description |\n")
		p("| --- | --- | --- | --- | --- |\n")
		for _, f := range o.Fields {
			req := "optional"
			if f.Required {
				req = "**required**"
			}
			def := "—"
			switch {
			case f.Default == "":
			case !strings.ContainsAny(f.Default, " `"):
				def = "`" + f.Default + "`" // a literal value or a field name
			default:
				def = escape(f.Default)
			}
			p("| `%s` | %s | %s | %s | %s |\n", f.Path, typeName(f), req, def, escape(f.Doc))
		}
	}
	return b.Bytes()
}

func heading(o object) string {
	if o.Path == "" {
		return "Top level"
	}
	return "`" + o.Path + "`"
}

// anchor is the fragment GitHub gives a heading: lower case, punctuation dropped, spaces as dashes.
func anchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// typeName renders a field's type for the reference, linking to the section of an object.
func typeName(f field) string {
	s := yamlType(f.Type, f.Path)
	if len(f.Enum) > 0 {
		s += ": " + "`" + strings.Join(f.Enum, "`, `") + "`"
	}
	return s
}

func yamlType(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Pointer:
		return yamlType(t.Elem(), path)
	case reflect.Slice, reflect.Array:
		return "list of " + yamlType(t.Elem(), path+"[]")
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return "object (free-form)"
		}
		return "map of string to " + yamlType(t.Elem(), path+".*")
	case reflect.Struct:
		return fmt.Sprintf("[%s](#%s)", t.Name(), anchor("`"+path+"`"))
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Interface:
		return "any"
	}
	return t.String()
}

// escape makes comment text safe inside a Markdown table cell.
func escape(s string) string {
	return strings.NewReplacer(
		"|", `\|`,
		"*", `\*`,
		"<", "&lt;",
		">", "&gt;",
		"\n\n", "<br><br>",
	).Replace(s)
}
