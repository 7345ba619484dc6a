package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
)

// render --addon cloudsql --deployment keeps the team's Deployment and adds the proxy, and a real
// API server takes the result.
func TestRenderCloudSQLPatchedDeployment(t *testing.T) {
	dir := t.TempDir()
	dep := filepath.Join(samplesDir, "addons", "orders-deployment.yaml")
	appDeployment, err := os.ReadFile(dep)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(samplesDir, "addons", "federation.yaml")
	r := run(t, "render", "-f", file, "--addon", "cloudsql", "--deployment", dep)
	if r.code != 0 {
		t.Fatalf("render: code %d\n%s", r.code, r.stderr)
	}
	var got struct {
		Spec struct {
			Template struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
				Spec corev1.PodSpec `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &got, yaml.DisallowUnknownFields); err != nil && !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("output is not a Deployment: %v\n%s", err, r.stdout)
	}
	pod := got.Spec.Template
	byName := map[string]corev1.Container{}
	for _, c := range pod.Spec.Containers {
		byName[c.Name] = c
	}
	proxy, ok := byName["cloud-sql-proxy"]
	if pod.Spec.ServiceAccountName != "ksa-sqlproxy" || len(pod.Spec.Containers) != 2 || byName["orders"].Image != "example.com/orders:1.0" || !ok {
		t.Fatalf("patched pod: service account %q, containers %+v", pod.Spec.ServiceAccountName, pod.Spec.Containers)
	}
	args := strings.Join(proxy.Args, " ")
	for _, want := range []string{"--private-ip", "--port=5432", "--structured-logs", "--health-check", "asm-multicluster-demo:us-west2:orders-db"} {
		if !strings.Contains(args, want) {
			t.Errorf("proxy args %q lack %s", args, want)
		}
	}
	if !strings.HasPrefix(proxy.Image, "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.") {
		t.Errorf("proxy image %s", proxy.Image)
	}
	if pod.Metadata.Annotations["team"] != "orders" || !strings.Contains(pod.Metadata.Annotations["proxy.istio.io/config"], `"holdApplicationUntilProxyStarts": true`) {
		t.Errorf("annotations %v", pod.Metadata.Annotations)
	}

	// A Deployment of another namespace is refused, naming the way out.
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte(strings.Replace(string(appDeployment), "namespace: sample", "namespace: payments", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "render", "-f", file, "--addon", "cloudsql", "--deployment", other); r.code == 0 || !strings.Contains(r.stderr, "is in namespace payments") {
		t.Errorf("a Deployment of another namespace: code %d\n%s", r.code, r.stderr)
	}

	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl: %v", err)
	}
	c := testenv.Clusters(t, 1)[0]
	if _, err := c.Client().CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sample"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patched := filepath.Join(dir, "patched.yaml")
	if err := os.WriteFile(patched, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kubectl, "apply", "--dry-run=server", "-f", patched)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "deployment.apps/orders created (server dry run)") {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
	}
}
