package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/sandbox"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/cli"
	"github.com/asmfed/kubectl-asmfed/pkg/kube"
)

// The sample, with a plug-in CA, applied to a sandbox with workloads, waiting for the control plane
// as on GKE: each cluster's istiod pod is a real pilot-discovery that port-forward through the API
// server reaches, whose /debug/clusterz lists its own cluster and its peer synced through the
// remote secret apply wrote, and which publishes the plug-in root from cacerts; the API server
// reaches it for injection; deleting the pod replaces the process with one behind the new pod;
// stopping the sandbox leaves no process.
func TestIstiodBehindPod(t *testing.T) {
	sandbox.RequireWorkloads(t)
	ctx := context.Background()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "access-token")
	var log testutil.SyncBuffer
	kb, err := sandbox.StartKube(ctx, filepath.Join(dir, "kube"), tokenFile, &log, sandbox.WithWorkloads())
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			kb.Stop()
		}
		if t.Failed() {
			t.Logf("sandbox log:\n%s", log.String())
		}
	})
	srv := gcpfake.Start(t, gcpfake.WithClusterBackend(kb))
	for _, kv := range gcpfake.Env(srv.URL()) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv(sandbox.AccessTokenEnv, tokenFile)
	file := filepath.Join(dir, "federation.yaml")
	data, err := os.ReadFile("testdata/federation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := cli.Run(ctx, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return errOut.String()
	}
	run("ca", "init", "--out", filepath.Join(dir, "ca"))
	root, err := os.ReadFile(filepath.Join(dir, "ca", "root-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	applied := run("apply", "-f", file, "--auto-approve")
	t.Logf("apply with waiting took %s", time.Since(start).Round(time.Second))
	if !strings.Contains(applied, "Deployment/istiod-1-31-0: done") {
		t.Errorf("apply did not report istiod's Deployment done:\n%s", applied)
	}

	const project, location = "asm-multicluster-demo", "us-west2"
	clusters := map[string]*testenv.Cluster{}
	for _, name := range []string{"cluster3", "cluster4"} {
		if clusters[name] = kb.Cluster(project, location, name); clusters[name] == nil {
			t.Fatalf("no local cluster behind %s", name)
		}
	}
	for name, c := range clusters {
		peer := map[string]string{"cluster3": "cluster4", "cluster4": "cluster3"}[name]
		pod := readyIstiodPod(t, c, "")
		var zs []clusterStatus
		getJSON(t, c, pod.Name, "/debug/clusterz", &zs)
		slices.SortFunc(zs, func(a, b clusterStatus) int { return strings.Compare(a.ID, b.ID) })
		want := []clusterStatus{{ID: name, SyncStatus: "synced"}, {ID: peer, SecretName: "istio-system/istio-remote-secret-" + peer, SyncStatus: "synced"}}
		if name == "cluster4" {
			want[0], want[1] = want[1], want[0]
		}
		if diff := cmp.Diff(want, zs); diff != "" {
			t.Errorf("%s: istiod's /debug/clusterz (-want +got):\n%s", name, diff)
		}
		// istiod signs with the plug-in intermediate apply wrote into cacerts, and publishes
		// the root of the ca init above, not one of its own.
		cm, err := c.Client().CoreV1().ConfigMaps("istio-system").Get(ctx, "istio-ca-root-cert", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := cm.Data["root-cert.pem"]; strings.TrimSpace(got) != strings.TrimSpace(string(root)) {
			t.Errorf("%s: istiod's root (istio-ca-root-cert) is not the plug-in root:\n%s", name, got)
		}
	}

	checkInjection(t, clusters["cluster3"], readyIstiodPod(t, clusters["cluster3"], ""))

	// A deleted pod is replaced by its Deployment, and its process by one behind the new pod.
	c := clusters["cluster3"]
	old := readyIstiodPod(t, c, "")
	oldPIDs := istiodPIDs(kb, old.Name)
	if len(oldPIDs) != 1 {
		t.Fatalf("istiod processes for pod %s: %v, want one", old.Name, oldPIDs)
	}
	if err := c.Client().CoreV1().Pods("istio-system").Delete(ctx, old.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	replaced := readyIstiodPod(t, c, old.Name)
	var zs []clusterStatus
	getJSON(t, c, replaced.Name, "/debug/clusterz", &zs)
	if len(zs) != 2 || zs[0].SyncStatus != "synced" || zs[1].SyncStatus != "synced" {
		t.Errorf("the new istiod's /debug/clusterz: %+v", zs)
	}
	testutil.Eventually(t, 30*time.Second, "the old pod's process stopped", func() error {
		if pids := istiodPIDs(kb, old.Name); len(pids) > 0 {
			return fmt.Errorf("still running: %v", pids)
		}
		if !gone(oldPIDs[0]) {
			return fmt.Errorf("PID %d still runs", oldPIDs[0])
		}
		return nil
	})

	all := kb.Processes()
	stopped = true
	if err := kb.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if !gone(p.PID) {
			t.Errorf("%s (PID %d) still runs after Stop", p.Name, p.PID)
		}
	}
}

type clusterStatus struct {
	ID         string `json:"id"`
	SecretName string `json:"secretName"`
	SyncStatus string `json:"syncStatus"`
}

// readyIstiodPod waits for the istiod pod of c other than notName to be Ready, and for its
// /ready to answer through port-forward.
func readyIstiodPod(t *testing.T, c *testenv.Cluster, notName string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	testutil.Eventually(t, 3*time.Minute, "a Ready istiod pod in "+c.Name, func() error {
		list, err := c.Client().CoreV1().Pods("istio-system").List(context.Background(), metav1.ListOptions{LabelSelector: "app=istiod"})
		if err != nil {
			return err
		}
		for i, p := range list.Items {
			if p.Name == notName || p.DeletionTimestamp != nil {
				continue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					pod = &list.Items[i]
					return nil
				}
			}
			return fmt.Errorf("pod %s is %s and not Ready", p.Name, p.Status.Phase)
		}
		return fmt.Errorf("no istiod pod besides %q", notName)
	})
	body := get(t, c, pod.Name, "/ready")
	t.Logf("%s: pod %s on %s, IP %s: /ready through port-forward: %q", c.Name, pod.Name, pod.Spec.NodeName, pod.Status.PodIP, body)
	return pod
}

// get fetches path from istiod's HTTP port (8080) of the pod through the API server's
// port-forward.
func get(t *testing.T, c *testenv.Cluster, pod, path string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fw, err := kube.PortForward(ctx, c.RESTConfig(), "istio-system", pod)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pod+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := fw.HTTPClient(8080, 30*time.Second).Do(req)
	if err != nil {
		t.Fatalf("GET %s of pod %s through port-forward: %v", path, pod, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s of pod %s through port-forward: %s %v: %s", path, pod, resp.Status, err, body)
	}
	return body
}

func getJSON(t *testing.T, c *testenv.Cluster, pod, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(get(t, c, pod, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// istiodPIDs are the PIDs of the running istiod processes behind pod.
func istiodPIDs(kb *sandbox.KubeBackend, pod string) []int {
	var out []int
	for _, p := range kb.Processes() {
		if strings.HasSuffix(p.Name, "/istiod/"+pod) {
			out = append(out, p.PID)
		}
	}
	return out
}

// gone reports whether pid no longer runs: it does not exist, or it is a zombie waiting for an
// init process that does not reap orphans.
func gone(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// checkInjection proves the part of sidecar injection the sandbox carries: the API server calls the
// istiod behind pod, which injects with the template apply installed. The rendered webhook
// configuration names Service istiod-<revision>, whose ClusterIP nothing serves here, so a copy of
// its rule for a namespace of the test's points at istiod's webhook listener on loopback (what the
// pod's port 15017 is forwarded to) and trusts istiod's root (istio-ca-root-cert).
func checkInjection(t *testing.T, c *testenv.Cluster, pod *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	pf, err := dyn.Resource(schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "portforwards"}).
		Namespace("istio-system").Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the forwarding of pod %s: %v", pod.Name, err)
	}
	var webhookPort int64
	forwards, _, _ := unstructured.NestedSlice(pf.Object, "spec", "forwards")
	for _, f := range forwards {
		ports, _, _ := unstructured.NestedSlice(f.(map[string]any), "ports")
		if slices.Contains(ports, any(int64(15017))) {
			webhookPort, _, _ = unstructured.NestedInt64(f.(map[string]any), "target", "port")
		}
	}
	if webhookPort == 0 {
		t.Fatalf("pod %s's port 15017 is not forwarded: %v", pod.Name, forwards)
	}
	root, err := c.Client().CoreV1().ConfigMaps("istio-system").Get(ctx, "istio-ca-root-cert", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const ns = "inject-check"
	if _, err := c.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{ns: "on"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("https://localhost:%d/inject", webhookPort)
	none, fail := admissionregistrationv1.SideEffectClassNone, admissionregistrationv1.Fail
	hook := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "sandbox-inject-check"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "inject-check.sidecar-injector.istio.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: []byte(root.Data["root-cert.pem"])},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{ns: "on"}},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := c.Client().AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, hook, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	app := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{"app": "app"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app"}}},
	}
	var created *corev1.Pod
	// The webhook configuration takes effect in the API server within a second or so.
	testutil.Eventually(t, 30*time.Second, "a pod created with a sidecar", func() error {
		p, err := c.Client().CoreV1().Pods(ns).Create(ctx, app, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		created = p
		if p.Annotations["sidecar.istio.io/status"] == "" {
			_ = c.Client().CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			return fmt.Errorf("pod created without injection: containers %v", p.Spec.Containers)
		}
		return nil
	})
	var names []string
	for _, ctr := range append(created.Spec.InitContainers, created.Spec.Containers...) {
		names = append(names, ctr.Name)
	}
	if !slices.Contains(names, "istio-proxy") || created.Annotations["istio.io/rev"] != "1-31-0" {
		t.Errorf("injected pod: containers %v, annotations %v; want istio-proxy, revision 1-31-0", names, created.Annotations)
	}
	t.Logf("the API server called istiod's /inject: pod %s/%s has containers %v", ns, created.Name, names)
}
