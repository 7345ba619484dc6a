package verify_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/verify"
)

func byCheck(r *verify.Report, id string) []verify.Finding {
	var out []verify.Finding
	for _, res := range r.Results {
		if res.Check == id {
			out = append(out, res)
		}
	}
	return out
}

const execKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c2, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: c2, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: gke-gcloud-auth-plugin}}}]
contexts: [{name: c2, context: {cluster: c2, user: c2}}]
current-context: c2
`

// Remote secrets that istiod would ignore or that cannot be used fail with a hint; cacerts that do
// not carry the federation's root fail; managed states are judged per cluster.
func TestChecksFindProblems(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	ctx := context.Background()
	c1 := cs[0]
	client := c1.Client()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, labels map[string]string, data map[string][]byte) {
		t.Helper()
		if _, err := client.CoreV1().Secrets("istio-system").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: data}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("istio-remote-secret-c2", map[string]string{"istio/multiCluster": "true"}, map[string][]byte{"c2": []byte(execKubeconfig)})
	mk("istio-remote-secret-c3", nil, map[string][]byte{"c3": []byte(execKubeconfig)})

	dir := t.TempDir()
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := root.WriteFiles(dir, false); err != nil {
		t.Fatal(err)
	}
	other, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.IssueIntermediate("c1", istio.IntermediateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mk("cacerts", nil, foreign)

	f := &v1alpha1.Federation{Spec: v1alpha1.FederationSpec{
		Clusters: []v1alpha1.Cluster{{Name: "c1"}, {Name: "c2"}, {Name: "c3"}},
		Mesh:     v1alpha1.Mesh{ControlPlane: v1alpha1.ControlPlaneManaged, CA: v1alpha1.CA{Mode: v1alpha1.CAPlugin, RootCertFile: istio.RootCertFile}},
	}}
	d := &federation.Desired{RemoteSecrets: []federation.RemoteSecret{
		{Holder: "c1", Target: "c2", Namespace: "istio-system", Name: "istio-remote-secret-c2", DataKey: "c2"},
		{Holder: "c1", Target: "c3", Namespace: "istio-system", Name: "istio-remote-secret-c3", DataKey: "c3"},
		{Holder: "c1", Target: "c4", Namespace: "istio-system", Name: "istio-remote-secret-c4", DataKey: "c4"},
	}}
	env := &verify.Env{Federation: f, Derived: d, BaseDir: dir, Clusters: map[string]*rest.Config{"c1": c1.RESTConfig()},
		NotReady: []string{"c3"},
		MeshStates: map[string]verify.MeshState{
			"c1": {ControlPlane: "ACTIVE", DataPlane: "ACTIVE"},
			"c2": {ControlPlane: "PROVISIONING", DataPlane: "PROVISIONING"},
			"c3": {ControlPlane: "FAILED_PRECONDITION", DataPlane: "DISABLED", Conditions: []string{"ERROR CNI_CONFIG_UNSUPPORTED: …"}},
		}}
	r := verify.Run(ctx, env, verify.Checks())

	// Remote secrets are read only where istiod runs in the clusters.
	inCluster := *f
	inCluster.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneInCluster
	inClusterEnv := *env
	inClusterEnv.Federation = &inCluster
	access := byCheck(verify.Run(ctx, &inClusterEnv, verify.Checks()), "ASMFED-ACCESS-001")
	want := []string{"exec, which istiod refuses", "lacks the label istio/multiCluster=true", "istio-remote-secret-c4: secrets \"istio-remote-secret-c4\" not found"}
	if len(access) != 3 {
		t.Fatalf("access results: %+v", access)
	}
	for i, res := range access {
		if res.Status != verify.Fail || !strings.Contains(res.Message, want[i]) || res.Hint == "" {
			t.Errorf("access %d: %+v, want a failure about %q with a hint", i, res, want[i])
		}
	}
	trust := byCheck(r, "ASMFED-TRUST-001")
	if len(trust) == 0 || trust[0].Subject != "c1" || trust[0].Status != verify.Fail || !strings.Contains(trust[0].Message, "is not the federation's root") {
		t.Errorf("trust: %+v", trust)
	}
	mesh := byCheck(r, "ASMFED-MESH-001")
	wantMesh := []verify.Status{verify.OK, verify.Warn, verify.Fail}
	for i, res := range mesh {
		if res.Status != wantMesh[i] {
			t.Errorf("mesh %s: %s, want %s", res.Subject, res.Status, wantMesh[i])
		}
	}
	if pre := byCheck(r, "ASMFED-PRE-001"); len(pre) != 3 || pre[2].Status != verify.Fail {
		t.Errorf("prerequisites: %+v", pre)
	}
	// The root, the failed control plane, the missing cluster, and c1 without asm-options.
	if connected := byCheck(r, "ASMFED-ACCESS-002"); len(connected) != 3 || connected[0].Status != verify.Fail {
		t.Errorf("asm-options: %+v", connected)
	}
	if !r.Failed() || r.Counts.Fail < 4 {
		t.Errorf("counts: %+v", r.Counts)
	}

	// The federation's own root and an intermediate it issued pass.
	if err := client.CoreV1().Secrets("istio-system").Delete(ctx, "cacerts", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	own, err := root.IssueIntermediate("c1", istio.IntermediateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mk("cacerts", nil, own)
	if _, err := os.Stat(filepath.Join(dir, istio.RootCertFile)); err != nil {
		t.Fatal(err)
	}
	r = verify.Run(ctx, env, verify.Checks())
	if trust := byCheck(r, "ASMFED-TRUST-001"); len(trust) == 0 || trust[0].Subject != "c1" || trust[0].Status != verify.OK {
		t.Errorf("trust with the federation's own root: %+v", trust)
	}
}
