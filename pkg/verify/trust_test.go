package verify_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/verify"
)

// secretServer is just enough of a kube-apiserver for the trust check: it serves
// istio-system/cacerts with data, or 404 when data is nil.
func secretServer(t *testing.T, data map[string][]byte) *rest.Config {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/namespaces/istio-system/secrets/cacerts" || data == nil {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
				"reason": "NotFound", "code": 404, "message": `secrets "cacerts" not found`})
			return
		}
		enc := map[string]string{}
		for k, v := range data {
			enc[k] = base64.StdEncoding.EncodeToString(v)
		}
		json.NewEncoder(w).Encode(map[string]any{"kind": "Secret", "apiVersion": "v1",
			"metadata": map[string]any{"name": "cacerts", "namespace": "istio-system"}, "data": enc})
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}
}

func newRoot(t *testing.T) *istio.Root {
	t.Helper()
	r, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func intermediate(t *testing.T, r *istio.Root) istio.CACerts {
	t.Helper()
	c, err := r.IssueIntermediate("c1", istio.IntermediateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func trustCheck(t *testing.T) []verify.Check {
	t.Helper()
	for _, c := range verify.Checks() {
		if c.ID == "ASMFED-TRUST-001" {
			return []verify.Check{c}
		}
	}
	t.Fatal("no check ASMFED-TRUST-001")
	return nil
}

// TestSharedTrust runs the trust check against a served cacerts Secret, and pins that its
// findings name the root in the form plans show it (rootFingerprint), istio.Fingerprint.
func TestSharedTrust(t *testing.T) {
	root, other := newRoot(t), newRoot(t)
	fp := root.Fingerprint()
	mixed := intermediate(t, other)
	mixed[istio.KeyRootCert] = root.CertPEM // claims our root, but other signed the intermediate
	tests := []struct {
		name    string
		mode    string
		rootPEM []byte // written as the file's root; nil: no file
		cacerts map[string][]byte
		want    verify.Finding
	}{
		{name: "managed CA is skipped", mode: v1alpha1.CAManaged,
			want: verify.Finding{Status: verify.Skipped, Message: "managed CA: Google's CA issues every cluster's workload certificates from one root"}},
		{name: "the root file is missing", mode: v1alpha1.CAPlugin,
			want: verify.Finding{Status: verify.Fail, Message: "read the root certificate: open ROOT: no such file or directory"}},
		{name: "the root file is not a certificate", mode: v1alpha1.CAPlugin, rootPEM: []byte("not PEM\n"),
			want: verify.Finding{Status: verify.Fail, Message: "the root certificate: "}},
		{name: "no cacerts", mode: v1alpha1.CAPlugin, rootPEM: root.CertPEM,
			want: verify.Finding{Subject: "c1", Status: verify.Fail, Message: `istio-system/cacerts: secrets "cacerts" not found`, Hint: "kubectl asmfed apply installs it"}},
		{name: "another root", mode: v1alpha1.CAPlugin, rootPEM: root.CertPEM, cacerts: intermediate(t, other),
			want: verify.Finding{Subject: "c1", Status: verify.Fail, Message: "root-cert.pem is not the federation's root " + fp,
				Hint: "workloads of this cluster would not trust the others'; kubectl asmfed apply replaces cacerts"}},
		{name: "an intermediate the root did not sign", mode: v1alpha1.CAPlugin, rootPEM: root.CertPEM, cacerts: mixed,
			want: verify.Finding{Subject: "c1", Status: verify.Fail, Message: "ca-cert.pem does not chain to the root: x509: "}},
		{name: "the federation's root and its intermediate", mode: v1alpha1.CAPlugin, rootPEM: root.CertPEM, cacerts: intermediate(t, root),
			want: verify.Finding{Subject: "c1", Status: verify.OK, Message: "intermediate Intermediate CA chains to root " + fp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.rootPEM != nil {
				if err := os.WriteFile(filepath.Join(dir, "root-cert.pem"), tt.rootPEM, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f := &v1alpha1.Federation{Spec: v1alpha1.FederationSpec{
				Clusters: []v1alpha1.Cluster{{Name: "c1"}},
				Mesh:     v1alpha1.Mesh{CA: v1alpha1.CA{Mode: tt.mode, RootCertFile: "root-cert.pem"}},
			}}
			env := &verify.Env{Federation: f, BaseDir: dir, Clusters: map[string]*rest.Config{"c1": secretServer(t, tt.cacerts)}}
			r := verify.Run(context.Background(), env, trustCheck(t))
			if len(r.Results) != 1 {
				t.Fatalf("results: %+v", r.Results)
			}
			got := r.Results[0]
			got.Check, got.Name = "", ""
			got.Message = strings.ReplaceAll(got.Message, filepath.Join(dir, "root-cert.pem"), "ROOT")
			// Messages that quote a parser's or x509's own words are compared by their start.
			if strings.HasSuffix(tt.want.Message, ": ") && strings.HasPrefix(got.Message, tt.want.Message) {
				got.Message = tt.want.Message
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("trust check (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFingerprintIsWhatOpensslPrints: verify and plans name a root by istio.Fingerprint; a user
// compares it with `openssl x509 -fingerprint -sha256` run on the file.
func TestFingerprintIsWhatOpensslPrints(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	root := newRoot(t)
	file := filepath.Join(t.TempDir(), "root-cert.pem")
	if err := os.WriteFile(file, root.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "x509", "-in", file, "-noout", "-fingerprint", "-sha256").Output()
	if err != nil {
		t.Fatal(err)
	}
	// OpenSSL 3 prints "sha256 Fingerprint=AB:…", 1.1 "SHA256 Fingerprint=AB:…".
	_, hexPairs, ok := strings.Cut(strings.TrimSpace(string(out)), "Fingerprint=")
	if !ok {
		t.Fatalf("openssl printed %q", out)
	}
	if got, want := root.Fingerprint(), "SHA256:"+hexPairs; got != want {
		t.Errorf("Fingerprint = %s, openssl says %s", got, want)
	}
}
