package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := moduleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestGeneratedFilesUpToDate fails when the committed schema or field reference differs from
// what the types and their comments produce now.
func TestGeneratedFilesUpToDate(t *testing.T) {
	root := testRoot(t)
	files, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		committed, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Errorf("%s: %v\nrun `go run ./hack/gen` and commit the result", f.Path, err)
			continue
		}
		if diff := cmp.Diff(strings.Split(string(committed), "\n"), strings.Split(string(f.Data), "\n")); diff != "" {
			t.Errorf("%s is stale; run `go run ./hack/gen` and commit the result (-committed +generated):\n%s", f.Path, diff)
		}
	}
}

// TestEveryTypeAndFieldDocumented keeps the reference complete: a field without a comment would
// appear with an empty description.
func TestEveryTypeAndFieldDocumented(t *testing.T) {
	c, err := readComments(filepath.Join(testRoot(t), apiDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objects(c) {
		if o.Doc == "" {
			t.Errorf("type %s has no doc comment", o.Type.Name())
		}
		for _, f := range o.Fields {
			if c[f.Key] == "" {
				t.Errorf("field %s (%s) has no doc comment", f.Key, f.Path)
			}
		}
	}
}

// TestRuleTablesMatchTypes keeps the hand-written tables honest: each names an existing field,
// and each enum value is one the field's comment lists.
func TestRuleTablesMatchTypes(t *testing.T) {
	c, err := readComments(filepath.Join(testRoot(t), apiDir))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	types := map[string]bool{}
	for _, o := range objects(c) {
		types[o.Type.Name()] = true
		for _, f := range o.Fields {
			fields[f.Key] = true
		}
	}
	for key, values := range enums {
		if !fields[key] {
			t.Errorf("enums: %s is not a field of the federation file", key)
			continue
		}
		for _, v := range values {
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(v) + `\b`).MatchString(c[key]) {
				t.Errorf("enums: %s lists %q but its comment does not: %q", key, v, c[key])
			}
		}
	}
	for key := range fieldRules {
		if !fields[key] {
			t.Errorf("fieldRules: %s is not a field of the federation file", key)
		}
	}
	for key := range typeRules {
		if !types[key] {
			t.Errorf("typeRules: %s is not a type of the federation file", key)
		}
	}
}

func TestSplitDefault(t *testing.T) {
	tests := []struct {
		name, doc, def, rest string
	}{
		{name: "none", doc: "Name of the VM.", def: "", rest: "Name of the VM."},
		{name: "last sentence", doc: "MachineType of the VM. Default: e2-small.", def: "e2-small", rest: "MachineType of the VM."},
		{name: "dotted value", doc: "Hub is the registry. Default: docker.io/istio. Use an ASM hub.", def: "docker.io/istio", rest: "Hub is the registry. Use an ASM hub."},
		{name: "e.g. inside", doc: "Revision. Default: derived from the tag, e.g. 1-31-0.", def: "derived from the tag, e.g. 1-31-0", rest: "Revision."},
		{name: "no period", doc: "Hosts. Default: [\"*\"]", def: `["*"]`, rest: "Hosts."},
		{name: "parenthesis", doc: "Enabled. Default: true (private nodes have no external IPs).", def: "true (private nodes have no external IPs)", rest: "Enabled."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, rest := splitDefault(tt.doc)
			if diff := cmp.Diff([]string{tt.def, tt.rest}, []string{def, rest}); diff != "" {
				t.Errorf("splitDefault(%q) (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestAnchor(t *testing.T) {
	tests := []struct{ heading, want string }{
		{"Top level", "top-level"},
		{"`spec.clusters[].nodePools[]`", "specclustersnodepools"},
		{"`spec.addons.cloudSQL`", "specaddonscloudsql"},
	}
	for _, tt := range tests {
		if got := anchor(tt.heading); got != tt.want {
			t.Errorf("anchor(%q) = %q, want %q", tt.heading, got, tt.want)
		}
	}
}
