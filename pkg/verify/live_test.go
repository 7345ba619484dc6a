package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// applyPolicies creates a cluster's namespaces and NetworkPolicies of the model in a real API
// server, as apply leaves them.
func applyPolicies(t *testing.T, client kubernetes.Interface, cd federation.ClusterDesired) {
	t.Helper()
	ctx := context.Background()
	for _, o := range cd.Objects {
		var err error
		switch o.Kind {
		case "Namespace":
			var ns corev1.Namespace
			if err = runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ns); err == nil {
				_, err = client.CoreV1().Namespaces().Create(ctx, &ns, metav1.CreateOptions{})
			}
		case "NetworkPolicy":
			var np networkingv1.NetworkPolicy
			if err = runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &np); err == nil {
				_, err = client.NetworkingV1().NetworkPolicies(np.Namespace).Create(ctx, &np, metav1.CreateOptions{})
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", o.Address, err)
		}
	}
}

// NetworkPolicies are read from a real API server and evaluated over the flows the mesh needs:
// the federation's own pass; a deleted federation policy fails naming the namespace, the policy
// that isolates the pods and the missing one; a deny applied by hand to a namespace without the
// default policies fails naming it.
func TestPolicyFlowsOnALiveCluster(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	client := cs[0].Client()
	ctx := context.Background()
	f, d := sample(t, "two-cluster-private")
	c3 := d.Clusters[0]
	applyPolicies(t, client, c3)
	env := &Env{Federation: f, Derived: d, Clusters: map[string]*rest.Config{"cluster3": cs[0].RESTConfig()}}
	check := []Check{byID(t, "ASMFED-NET-006")}
	statuses := func(r *Report) string {
		var out []string
		for _, res := range r.Results {
			out = append(out, fmt.Sprintf("%s %s", res.Subject, res.Status))
		}
		return strings.Join(out, ", ")
	}

	r := Run(ctx, env, check)
	if got := statuses(r); got != "cluster3/sample ok, cluster4 skipped" {
		t.Fatalf("healthy: %s\n%+v", got, r.Results)
	}
	ok := r.Results[0].Message
	for _, want := range []string{"istiod on tcp:15012", "kube-dns on udp:53", "NodeLocal DNSCache 169.254.20.10 on udp:53", "the pods of cluster4 (10.185.192.0/18) on tcp:15443",
		"the GKE metadata server 169.254.169.254 on tcp:80", "the node's gke-metadata-server 169.254.169.252 on tcp:988", "the allow-listed *.googleapis.com on tcp:443"} {
		if !strings.Contains(ok, want) {
			t.Errorf("the healthy finding does not list %q: %s", want, ok)
		}
	}

	// The federation's DNS policy deleted: DNS is blocked, the default deny named, the fix is to
	// recreate the policy.
	if err := client.NetworkingV1().NetworkPolicies("sample").Delete(ctx, "asmfed-allow-dns", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r = Run(ctx, env, check)
	if got := statuses(r); got != "cluster3/sample failed, cluster3/sample failed, cluster3/sample failed, cluster4 skipped" {
		t.Fatalf("without the DNS policy: %s\n%+v", got, r.Results)
	}
	for _, res := range r.Results[:3] {
		if !strings.Contains(res.Message, "pods of sample → ") || !strings.Contains(res.Message, "blocked, isolated by NetworkPolicy sample/") ||
			!strings.Contains(res.Message, "sample/asmfed-default-deny and allowed by none") ||
			!strings.Contains(res.Hint, "the federation's NetworkPolicy sample/asmfed-allow-dns, which allows it, is missing") {
			t.Errorf("finding %+v", res)
		}
	}
	if !strings.Contains(r.Results[0].Message, "kube-dns on udp:53") {
		t.Errorf("first failure: %s", r.Results[0].Message)
	}

	// A namespace without the default policies, where someone applied a deny of their own.
	legacy := false
	f.Spec.Namespaces = append(f.Spec.Namespaces, f.Spec.Namespaces[0])
	f.Spec.Namespaces[1].Name, f.Spec.Namespaces[1].DefaultNetworkPolicy = "legacy", &legacy
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = Run(ctx, env, check)
	if r.Results[3].Subject != "cluster3/legacy" || r.Results[3].Status != OK {
		t.Fatalf("a namespace without policies is not isolated: %+v", r.Results[3])
	}
	deny := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny-egress", Namespace: "legacy"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}}
	if _, err := client.NetworkingV1().NetworkPolicies("legacy").Create(ctx, deny, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = Run(ctx, env, check)
	var legacyFails int
	for _, res := range r.Results {
		if res.Subject != "cluster3/legacy" {
			continue
		}
		if res.Status != Fail || !strings.Contains(res.Message, "isolated by NetworkPolicy legacy/deny-egress") ||
			!strings.Contains(res.Hint, "allow it in a NetworkPolicy of legacy, or change legacy/deny-egress") {
			t.Errorf("legacy: %+v", res)
		}
		legacyFails++
	}
	if want := len(podFlows(f, d, c3)); legacyFails != want {
		t.Errorf("%d flows of legacy failed, want all %d", legacyFails, want)
	}
}

// A remote secret passes when it points at its peer's private endpoint (or the file's
// peerAPIServer), and fails naming both clusters when it points elsewhere.
func TestPrivateEndpointOnALiveCluster(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	client := cs[0].Client()
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := func(server string) []byte {
		return []byte(`apiVersion: v1
kind: Config
clusters: [{name: c2, cluster: {server: "` + server + `"}}]
users: [{name: c2, user: {token: abc}}]
contexts: [{name: c2, context: {cluster: c2, user: c2}}]
current-context: c2
`)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "istio-remote-secret-c2", Namespace: "istio-system"}}
	put := func(server string) {
		t.Helper()
		secret.Data = map[string][]byte{"c2": kubeconfig(server)}
		var err error
		if secret.ResourceVersion == "" {
			secret, err = client.CoreV1().Secrets("istio-system").Create(ctx, secret, metav1.CreateOptions{})
		} else {
			secret, err = client.CoreV1().Secrets("istio-system").Update(ctx, secret, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	f := fed(t)
	f.Spec.Clusters = f.Spec.Clusters[:1]
	f.Spec.Clusters[0].Name = "c2"
	d := &federation.Desired{RemoteSecrets: []federation.RemoteSecret{
		{Holder: "c1", Target: "c2", Namespace: "istio-system", Name: "istio-remote-secret-c2", DataKey: "c2"},
		{Holder: "c3", Target: "c2", Namespace: "istio-system", Name: "istio-remote-secret-c2", DataKey: "c2"},
	}}
	gke := map[string]*containerpb.Cluster{"c2": {Name: "c2", PrivateClusterConfig: &containerpb.PrivateClusterConfig{PrivateEndpoint: "192.168.3.2", PublicEndpoint: "34.1.1.2"}}}
	env := &Env{Federation: f, Derived: d, GKE: gke, Clusters: map[string]*rest.Config{"c1": cs[0].RESTConfig()}}
	run := func() []Finding {
		return Run(ctx, env, []Check{byID(t, "ASMFED-NET-003")}).Results
	}

	put("https://192.168.3.2")
	if r := run(); r[0].Status != OK || r[0].Message != "c1's remote secret for c2 points at https://192.168.3.2, c2's private endpoint" ||
		r[1].Status != Skipped || r[1].Message != "c3 cannot be reached" {
		t.Errorf("private endpoint: %+v", r)
	}
	put("https://34.1.1.2")
	if r := run(); r[0].Status != Fail || r[0].Subject != "c1 → c2" ||
		!strings.HasPrefix(r[0].Message, "c1's remote secret for c2 points at https://34.1.1.2, not at c2's private endpoint https://192.168.3.2") {
		t.Errorf("public endpoint: %+v", r[0])
	}
	f.Spec.Clusters[0].PeerAPIServer = "https://34.1.1.2"
	if r := run(); r[0].Status != OK || !strings.HasSuffix(r[0].Message, "the file's peerAPIServer for c2") {
		t.Errorf("the file's peerAPIServer: %+v", r[0])
	}
	f.Spec.Clusters[0].PeerAPIServer = ""
	put("https://192.168.3.2:443")
	if r := run(); r[0].Status != OK {
		t.Errorf("https's default port: %+v", r[0])
	}
}

// With a managed control plane, sidecars reach it at Google's APIs on 443, not an istiod on
// 15012: the federation's policies pass, and without its managed-control-plane policy the flow is
// blocked, naming it.
func TestPolicyFlowsManagedOnALiveCluster(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	client := cs[0].Client()
	ctx := context.Background()
	f, _ := sample(t, "two-cluster-private")
	f.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneManaged
	// Without an allow-list, whose policy would open 443 to Google's APIs as well.
	f.Spec.Mesh.Egress.Allow = nil
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	applyPolicies(t, client, d.Clusters[0])
	env := &Env{Federation: f, Derived: d, Clusters: map[string]*rest.Config{"cluster3": cs[0].RESTConfig()}}
	check := []Check{byID(t, "ASMFED-NET-006")}
	r := Run(ctx, env, check)
	if r.Results[0].Subject != "cluster3/sample" || r.Results[0].Status != OK {
		t.Fatalf("healthy managed: %+v", r.Results)
	}
	if msg := r.Results[0].Message; !strings.Contains(msg, "the managed control plane (Google APIs) on tcp:443") || strings.Contains(msg, "istiod") {
		t.Errorf("the managed flows: %s", msg)
	}
	if err := client.NetworkingV1().NetworkPolicies("sample").Delete(ctx, federation.PolicyManagedControlPlane, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r = Run(ctx, env, check)
	var blocked []string
	for _, res := range r.Results {
		if res.Status == Fail {
			blocked = append(blocked, res.Message)
			if !strings.Contains(res.Hint, "sample/"+federation.PolicyManagedControlPlane) {
				t.Errorf("the hint does not name the missing policy: %s", res.Hint)
			}
		}
	}
	if len(blocked) == 0 || !strings.Contains(blocked[0], "the managed control plane (Google APIs) on tcp:443: blocked") {
		t.Errorf("without the managed-control-plane policy: %v", blocked)
	}
}
