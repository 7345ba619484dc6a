package verify_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/verify"
)

func newRoot(t *testing.T) *istio.Root {
	t.Helper()
	r, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func intermediate(t *testing.T, r *istio.Root, cluster string) istio.CACerts {
	t.Helper()
	c, err := r.IssueIntermediate(cluster, istio.IntermediateOptions{})
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

// clusterState is what one cluster holds for the trust check: its cacerts (nil: none) and the
// root its control plane published, by namespace (absent: no istio-ca-root-cert there).
type clusterState struct {
	cacerts   istio.CACerts
	published map[string][]byte
}

// TestSharedTrust runs ASMFED-TRUST-001 against three real API servers holding cacerts and the
// istio-ca-root-cert ConfigMaps a control plane publishes, in every state that matters: each
// broken state fails naming the cluster, and the findings name roots as plans and openssl do
// (istio.Fingerprint).
func TestSharedTrust(t *testing.T) {
	cs := testenv.Clusters(t, 3)
	ctx := context.Background()
	const app = "sample"
	for _, c := range cs {
		for _, ns := range []string{"istio-system", app} {
			if _, err := c.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	root, other := newRoot(t), newRoot(t)
	mixed := intermediate(t, other, "c1")
	mixed[istio.KeyRootCert] = root.CertPEM // claims our root, but other signed the intermediate
	both := append(append([]byte{}, root.CertPEM...), other.CertPEM...)
	everywhere := func(pem []byte) map[string][]byte { return map[string][]byte{"istio-system": pem, app: pem} }
	good := func(c string) clusterState {
		return clusterState{cacerts: intermediate(t, root, c), published: everywhere(root.CertPEM)}
	}
	const (
		plugin  = v1alpha1.CAPlugin
		managed = v1alpha1.CAManaged
	)
	selfSigned := "istiod signs with a root of its own when it has no cacerts or started before they existed: kubectl asmfed apply installs cacerts, then restart istiod (kubectl -n istio-system rollout restart deployment -l app=istiod) to load them"
	notRunning := "istiod publishes its root in every namespace it watches once it runs: see its pods with kubectl -n istio-system get pods"
	tests := []struct {
		name        string
		mode        string
		rootPEM     []byte // written as the file's root; nil: no file
		unreachable string
		clusters    map[string]clusterState
		want        []verify.Finding
	}{
		{name: "the root file is missing", mode: plugin,
			want: []verify.Finding{{Status: verify.Fail, Message: "read the root certificate: open ROOT_FILE: no such file or directory"}}},
		{name: "the root file is not a certificate", mode: plugin, rootPEM: []byte("not PEM\n"),
			want: []verify.Finding{{Status: verify.Fail, Message: "the root certificate: no PEM CERTIFICATE block"}}},
		{name: "one root, published everywhere", mode: plugin, rootPEM: root.CertPEM,
			clusters: map[string]clusterState{"c1": good("c1"), "c2": good("c2"), "c3": good("c3")},
			want: []verify.Finding{
				{Subject: "c1", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c2", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c3", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c1", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
				{Subject: "c2", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
				{Subject: "c3", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
			}},
		{name: "cacerts installed, istiod not running anywhere yet", mode: plugin, rootPEM: root.CertPEM,
			clusters: map[string]clusterState{"c1": {cacerts: intermediate(t, root, "c1")}, "c2": {cacerts: intermediate(t, root, "c2")}, "c3": {cacerts: intermediate(t, root, "c3")}},
			want: []verify.Finding{
				{Subject: "c1", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c2", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c3", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Status: verify.Warn, Message: "no cluster publishes istio-ca-root-cert yet: the root the control plane signs with cannot be measured", Hint: notRunning},
			}},
		{name: "no cacerts in c2: its istiod signs with a root of its own", mode: plugin, rootPEM: root.CertPEM,
			clusters: map[string]clusterState{"c1": good("c1"), "c2": {published: everywhere(other.CertPEM)}, "c3": good("c3")},
			want: []verify.Finding{
				{Subject: "c1", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c2", Status: verify.Fail, Message: `istio-system/cacerts: secrets "cacerts" not found`,
					Hint: "without it istiod signs with a root of its own; kubectl asmfed apply installs it"},
				{Subject: "c3", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c1", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
				{Subject: "c2", Status: verify.Fail, Message: "publishes root OTHER in istio-system, sample, but the federation's root is ROOT: workloads here and in the other clusters do not trust each other",
					Hint: selfSigned},
				{Subject: "c3", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
			}},
		{name: "good cacerts in c3, but istiod still publishes the root it started with", mode: plugin, rootPEM: root.CertPEM,
			clusters: map[string]clusterState{"c1": good("c1"), "c2": good("c2"), "c3": {cacerts: intermediate(t, root, "c3"), published: everywhere(other.CertPEM)}},
			want: []verify.Finding{
				{Subject: "c1", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c2", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c3", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c1", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
				{Subject: "c2", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
				{Subject: "c3", Status: verify.Fail, Message: "publishes root OTHER in istio-system, sample, but the federation's root is ROOT: workloads here and in the other clusters do not trust each other",
					Hint: selfSigned},
			}},
		{name: "cacerts of another root, an intermediate the root did not sign, a cluster publishing nothing, a namespace without the root, a bundle of two roots",
			mode: plugin, rootPEM: root.CertPEM,
			clusters: map[string]clusterState{
				"c1": {cacerts: intermediate(t, other, "c1"), published: map[string][]byte{"istio-system": root.CertPEM, app: both}},
				"c2": {cacerts: mixed},
				"c3": {cacerts: intermediate(t, root, "c3"), published: map[string][]byte{"istio-system": root.CertPEM}},
			},
			want: []verify.Finding{
				{Subject: "c1", Status: verify.Fail, Message: "cacerts: root-cert.pem is not the federation's root ROOT",
					Hint: "workloads of this cluster would not trust the others'; kubectl asmfed apply replaces cacerts"},
				{Subject: "c2", Status: verify.Fail, Message: `cacerts: ca-cert.pem does not chain to the root: x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification failure" while trying to verify candidate authority certificate "asmfed root CA")`,
					Hint: "kubectl asmfed apply issues a new intermediate"},
				{Subject: "c3", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c1", Status: verify.Fail, Message: "publishes root BOTH in sample, but the federation's root is ROOT: workloads here and in the other clusters do not trust each other",
					Hint: selfSigned},
				{Subject: "c2", Status: verify.Fail, Message: "no istio-ca-root-cert in istio-system, sample: the control plane publishes no root here, while the other clusters do",
					Hint: "istiod writes it into every namespace once it runs: see its pods with kubectl -n istio-system get pods"},
				{Subject: "c3", Status: verify.Fail, Message: "publishes root ROOT, but not in sample",
					Hint: "istiod writes istio-ca-root-cert into every namespace it watches: check that the namespace exists (kubectl asmfed apply creates it) and is not excluded by meshConfig.discoverySelectors"},
			}},
		{name: "a published ConfigMap without a certificate", mode: plugin, rootPEM: root.CertPEM,
			clusters: map[string]clusterState{"c1": good("c1"), "c2": good("c2"),
				"c3": {cacerts: intermediate(t, root, "c3"), published: map[string][]byte{"istio-system": root.CertPEM, app: []byte("not PEM")}}},
			want: []verify.Finding{
				{Subject: "c1", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c2", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c3", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c1", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
				{Subject: "c2", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
				{Subject: "c3", Status: verify.Fail, Message: "publishes root (no certificate) in sample, but the federation's root is ROOT: workloads here and in the other clusters do not trust each other",
					Hint: selfSigned},
			}},
		{name: "an unreachable cluster is skipped", mode: plugin, rootPEM: root.CertPEM, unreachable: "c2",
			clusters: map[string]clusterState{"c1": good("c1"), "c3": good("c3")},
			want: []verify.Finding{
				{Subject: "c1", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c2", Status: verify.Skipped, Message: "the cluster cannot be reached"},
				{Subject: "c3", Status: verify.OK, Message: "cacerts: intermediate Intermediate CA chains to root ROOT"},
				{Subject: "c1", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
				{Subject: "c3", Status: verify.OK, Message: "publishes the federation's root ROOT in istio-system, sample"},
			}},
		{name: "Google's CA: one root everywhere", mode: managed,
			clusters: map[string]clusterState{"c1": {published: everywhere(other.CertPEM)}, "c2": {published: everywhere(other.CertPEM)}, "c3": {published: everywhere(other.CertPEM)}},
			want: []verify.Finding{
				{Subject: "c1", Status: verify.OK, Message: "publishes root OTHER in istio-system, sample, as every cluster does"},
				{Subject: "c2", Status: verify.OK, Message: "publishes root OTHER in istio-system, sample, as every cluster does"},
				{Subject: "c3", Status: verify.OK, Message: "publishes root OTHER in istio-system, sample, as every cluster does"},
			}},
		{name: "Google's CA: c2 differs from the others", mode: managed,
			clusters: map[string]clusterState{"c1": {published: everywhere(other.CertPEM)}, "c2": {published: everywhere(root.CertPEM)}, "c3": {published: everywhere(other.CertPEM)}},
			want: []verify.Finding{
				{Subject: "c1", Status: verify.OK, Message: "publishes root OTHER in istio-system, sample, as every cluster does"},
				{Subject: "c2", Status: verify.Fail, Message: "publishes root ROOT in istio-system, sample, but c1, c3 publish OTHER: workloads here and in the other clusters do not trust each other",
					Hint: "every cluster must get its certificates from the fleet's CA: check the cluster's fleet membership and ASMFED-MESH-001"},
				{Subject: "c3", Status: verify.OK, Message: "publishes root OTHER in istio-system, sample, as every cluster does"},
			}},
		{name: "Google's CA: nothing published yet", mode: managed,
			want: []verify.Finding{{Status: verify.Warn, Message: "no cluster publishes istio-ca-root-cert yet: the root the control plane signs with cannot be measured",
				Hint: "the managed control plane publishes it once it runs (ASMFED-MESH-001)"}}},
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
				Clusters:   []v1alpha1.Cluster{{Name: "c1"}, {Name: "c2"}, {Name: "c3"}},
				Namespaces: []v1alpha1.Namespace{{Name: app}},
				Mesh:       v1alpha1.Mesh{ControlPlane: v1alpha1.ControlPlaneInCluster, CA: v1alpha1.CA{Mode: tt.mode}},
			}}
			if tt.mode == plugin {
				f.Spec.Mesh.CA.RootCertFile = "root-cert.pem"
			} else {
				f.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneManaged
			}
			configs := map[string]*rest.Config{}
			for _, c := range cs {
				setTrustState(t, ctx, c, tt.clusters[c.Name])
				if c.Name != tt.unreachable {
					configs[c.Name] = c.RESTConfig()
				}
			}
			env := &verify.Env{Federation: f, BaseDir: dir, Clusters: configs}
			r := verify.Run(ctx, env, trustCheck(t))
			got := make([]verify.Finding, len(r.Results))
			for i, res := range r.Results {
				res.Check, res.Name = "", ""
				res.Message = strings.NewReplacer(filepath.Join(dir, "root-cert.pem"), "ROOT_FILE",
					root.Fingerprint()+" + "+other.Fingerprint(), "BOTH", other.Fingerprint()+" + "+root.Fingerprint(), "BOTH",
					root.Fingerprint(), "ROOT", other.Fingerprint(), "OTHER").Replace(res.Message)
				got[i] = res
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ASMFED-TRUST-001 (-want +got):\n%s", diff)
			}
			if wantFail := slicesContainStatus(tt.want, verify.Fail); r.Failed() != wantFail {
				t.Errorf("report failed = %t, want %t", r.Failed(), wantFail)
			}
		})
	}
}

func slicesContainStatus(fs []verify.Finding, s verify.Status) bool {
	for _, f := range fs {
		if f.Status == s {
			return true
		}
	}
	return false
}

// setTrustState makes cluster c hold exactly st: cacerts or none, istio-ca-root-cert in the
// namespaces st names and in no other.
func setTrustState(t *testing.T, ctx context.Context, c *testenv.Cluster, st clusterState) {
	t.Helper()
	secrets := c.Client().CoreV1().Secrets("istio-system")
	if err := secrets.Delete(ctx, "cacerts", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if st.cacerts != nil {
		if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cacerts"}, Data: st.cacerts}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{"istio-system", "sample"} {
		cms := c.Client().CoreV1().ConfigMaps(ns)
		if err := cms.Delete(ctx, verify.RootConfigMap, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if pem, ok := st.published[ns]; ok {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: verify.RootConfigMap}, Data: map[string]string{"root-cert.pem": string(pem)}}
			if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
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
