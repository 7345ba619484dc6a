package v1alpha1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCADefaults: an in-cluster control plane shares the plug-in CA's root from where
// `kubectl asmfed ca init` writes it; a managed control plane uses Google's CA.
func TestCADefaults(t *testing.T) {
	tests := []struct {
		name         string
		controlPlane string
		ca           CA
		want         CA
	}{
		{name: "in-cluster", want: CA{Mode: CAPlugin, RootCertFile: "ca/root-cert.pem", RootKeyFile: "ca/root-key.pem"}},
		{name: "in-cluster with files of its own", ca: CA{RootCertFile: "pki/root.pem"},
			want: CA{Mode: CAPlugin, RootCertFile: "pki/root.pem", RootKeyFile: "ca/root-key.pem"}},
		{name: "managed", controlPlane: ControlPlaneManaged, want: CA{Mode: CAManaged}},
		{name: "managed CA written with an in-cluster control plane stays, for validate to refuse", ca: CA{Mode: CAManaged}, want: CA{Mode: CAManaged}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Federation{Spec: FederationSpec{Mesh: Mesh{ControlPlane: tt.controlPlane, CA: tt.ca}}}
			SetDefaults(f)
			if diff := cmp.Diff(tt.want, f.Spec.Mesh.CA); diff != "" {
				t.Errorf("defaulted CA (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPluginRootFiles: the plug-in root's files are checked where the file names them, and each
// problem says what to do, with the ca init command that fits.
func TestPluginRootFiles(t *testing.T) {
	base, err := os.ReadFile("testdata/valid/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := os.ReadFile("testdata/files/root-cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("testdata/files/root-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		dir   string // the federation file's directory under the temporary one
		ca    string // the mesh.ca line; empty: none
		files map[string][]byte
		want  string // the report with DIR for the temporary directory; empty: valid
	}{
		{name: "defaults, after ca init", files: map[string][]byte{"ca/root-cert.pem": cert, "ca/root-key.pem": key}},
		{name: "defaults, before ca init",
			want: `DIR/federation.yaml:39:3: spec.mesh.ca.rootCertFile: the plug-in CA's root "ca/root-cert.pem" and key "ca/root-key.pem" (relative to the federation file) do not exist (create them: kubectl asmfed ca init --out DIR/ca)`},
		{name: "a directory that needs quoting", dir: "my mesh",
			want: `DIR/my mesh/federation.yaml:39:3: spec.mesh.ca.rootCertFile: the plug-in CA's root "ca/root-cert.pem" and key "ca/root-key.pem" (relative to the federation file) do not exist (create them: kubectl asmfed ca init --out 'DIR/my mesh/ca')`},
		{name: "names ca init does not write", ca: "{rootCertFile: pki/cert.pem, rootKeyFile: pki/key.pem}",
			want: `DIR/federation.yaml:40:24: spec.mesh.ca.rootCertFile: the plug-in CA's root "pki/cert.pem" and key "pki/key.pem" (relative to the federation file) do not exist (create them with kubectl asmfed ca init --out DIR/pki, then set rootCertFile: pki/root-cert.pem and rootKeyFile: pki/root-key.pem)`},
		{name: "the key is gone", files: map[string][]byte{"ca/root-cert.pem": cert},
			want: `DIR/federation.yaml:39:3: spec.mesh.ca.rootKeyFile: file "ca/root-key.pem" does not exist (paths are relative to the federation file; restore the root's key: without it no cluster gets an intermediate, and a new root (kubectl asmfed ca init --force) is not trusted by clusters holding intermediates of the old one)`},
		{name: "the certificate is gone", files: map[string][]byte{"ca/root-key.pem": key},
			want: `DIR/federation.yaml:39:3: spec.mesh.ca.rootCertFile: file "ca/root-cert.pem" does not exist (paths are relative to the federation file; restore the root certificate of the key, or create a new root with kubectl asmfed ca init --force)`},
		{name: "a managed CA with an in-cluster control plane", ca: "{mode: managed}",
			want: `DIR/federation.yaml:40:16: spec.mesh.ca.mode: a managed CA (Mesh CA or CA Service) cannot work with an in-cluster control plane: the tool installs upstream Istio's istiod, which signs with a root of its own unless given cacerts; only Google's distribution of istiod, with the CA's address, the trust domain <fleet project>.svc.id.goog and fleet Workload Identity, uses Google's CA (use mode: plugin, the default with an in-cluster control plane, or controlPlane: managed)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			dir := filepath.Join(tmp, tt.dir)
			for name, data := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			doc := string(base)
			if tt.ca != "" {
				doc = strings.Replace(doc, "  mesh:\n", "  mesh:\n    ca: "+tt.ca+"\n", 1)
			}
			file := filepath.Join(dir, "federation.yaml")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := CheckFile(file, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSuffix(strings.ReplaceAll(report(c), tmp, "DIR"), "\n")
			if got != tt.want {
				t.Errorf("validate:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}
