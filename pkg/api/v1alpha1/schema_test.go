package v1alpha1_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// repoRoot is the module root, relative to this package's directory (where go test runs).
const repoRoot = "../../.."

var schemaFile = filepath.Join(repoRoot, "schema", "federation.v1alpha1.json")

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatalf("%v (run `go run ./hack/gen` to generate it)", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("parse %s: %v", schemaFile, err)
	}
	c := jsonschema.NewCompiler()
	const url = "file:///federation.v1alpha1.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return s
}

// yamlInstance converts a YAML document to the JSON value the schema validates.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("convert YAML to JSON: %v", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatalf("parse JSON: %v", err)
	}
	return v
}

// federationFiles returns the YAML files under samples/ that are federation files; overlays and
// other YAML beside them are skipped.
func federationFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "samples"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if yaml.Unmarshal(data, &head) == nil && head.Kind == "Federation" && strings.HasPrefix(head.APIVersion, "asmfed.io/") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestSamplesValidateAgainstSchema checks every federation file under samples/ against the
// committed JSON Schema, as an editor using the yaml-language-server comment would.
func TestSamplesValidateAgainstSchema(t *testing.T) {
	files := federationFiles(t)
	if len(files) == 0 {
		t.Skip("no federation files under samples/")
	}
	s := compileSchema(t)
	for _, p := range files {
		t.Run(filepath.ToSlash(strings.TrimPrefix(p, repoRoot+string(filepath.Separator))), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(yamlInstance(t, data)); err != nil {
				t.Errorf("%s does not match %s:\n%v", p, schemaFile, err)
			}
		})
	}
}

// minimal is the smallest federation file the schema accepts.
const minimal = `
apiVersion: asmfed.io/v1alpha1
kind: Federation
metadata:
  name: demo
spec:
  fleetProject: demo-project
  network:
    name: mesh
    subnets:
    - name: west
      region: us-west2
      primaryRange: 10.0.0.0/24
  clusters:
  - name: c1
    location: us-west2
    subnet: west
    controlPlaneRange: 192.168.0.0/28
    nodePools:
    - name: default
`

// TestSchemaRules checks the schema is strict: the constraints that come from the Go types and
// from the generator's tables reject what they should.
func TestSchemaRules(t *testing.T) {
	s := compileSchema(t)
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring of the validation error; empty: valid
	}{
		{name: "minimal", yaml: minimal},
		{name: "unknown field", yaml: minimal + "  colour: blue\n", wantErr: "additional properties 'colour' not allowed"},
		{name: "missing required", yaml: strings.Replace(minimal, "    location: us-west2\n", "", 1), wantErr: "missing property 'location'"},
		{name: "wrong kind", yaml: strings.Replace(minimal, "kind: Federation", "kind: Mesh", 1), wantErr: "value must be 'Federation'"},
		{name: "wrong apiVersion", yaml: strings.Replace(minimal, "asmfed.io/v1alpha1", "asmfed.io/v1", 1), wantErr: "value must be 'asmfed.io/v1alpha1'"},
		{name: "enum", yaml: minimal + "  mesh:\n    mtls: DISABLE\n", wantErr: "value must be one of 'STRICT', 'PERMISSIVE'"},
		{name: "wrong type", yaml: minimal + "  mesh:\n    accessLogging: yes please\n", wantErr: "want boolean"},
		{name: "port range", yaml: minimal + "  mesh:\n    webhookPorts: [15017, 70000]\n", wantErr: "maximum"},
		{name: "no node pools", yaml: strings.Replace(minimal, "    nodePools:\n    - name: default\n", "    nodePools: []\n", 1), wantErr: "minItems"},
		{name: "overlay file", yaml: minimal + "  mesh:\n    overlays:\n    - file: overlay.yaml\n"},
		{name: "overlay inline", yaml: minimal + "  mesh:\n    overlays:\n    - inline: {spec: {meshConfig: {accessLogFile: /dev/stdout}}}\n"},
		{name: "overlay both", yaml: minimal + "  mesh:\n    overlays:\n    - file: overlay.yaml\n      inline: {spec: {}}\n", wantErr: "oneOf"},
		{name: "overlay neither", yaml: minimal + "  mesh:\n    overlays:\n    - {}\n", wantErr: "oneOf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(yamlInstance(t, []byte(tt.yaml)))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("want valid, got:\n%v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("want an error containing %q, got none", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("want an error containing %q, got:\n%v", tt.wantErr, err)
			}
		})
	}
}
