package istiodtest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/istiodtest"
	"github.com/asmfed/kubectl-asmfed/internal/kubelettest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
	"github.com/asmfed/kubectl-asmfed/pkg/verify"
)

var (
	sidecarsGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"}
	peerAuthGVR = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}
	seGVR       = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}
)

// meshRun is a federation applied with its rendered control plane to local clusters, each with
// an istiod started from the mesh configuration apply wrote, behind a pod of a node whose kubelet
// forwards the pod's ports 15014 and 15012 to it: verify reaches istiod as it does on GKE, through
// the API server's port-forward.
type meshRun struct {
	t       *testing.T
	cs      []*testenv.Cluster
	configs map[string]*rest.Config
	fed     *v1alpha1.Federation
	derived *federation.Desired
	root    *istio.Root
	dir     string
	ids     []*istiodtest.Istiod
	kubes   []*kubelettest.Kubelet
}

// newMeshRun builds b's federation for the clusters (the plug-in root in a temporary directory
// as `kubectl asmfed ca init` would write it) with the namespaces given.
func newMeshRun(t *testing.T, cs []*testenv.Cluster, b *fedtest.Builder, namespaces ...string) *meshRun {
	t.Helper()
	m := &meshRun{t: t, cs: cs, configs: map[string]*rest.Config{}}
	for n, c := range cs {
		b.Cluster(fedtest.Cluster(c.Name).Ranges(fmt.Sprintf("10.10.%d.0/24", n), fmt.Sprintf("10.%d.0.0/16", 100+n),
			fmt.Sprintf("172.16.%d.0/24", n), fmt.Sprintf("192.168.%d.0/28", n)))
		m.configs[c.Name] = c.RESTConfig()
	}
	f := b.Raw()
	for _, ns := range namespaces {
		f.Spec.Namespaces = append(f.Spec.Namespaces, v1alpha1.Namespace{Name: ns})
	}
	v1alpha1.SetDefaults(f)
	m.fed, m.dir = f, t.TempDir()
	m.root = fedtest.Root(t, m.dir)
	return m
}

// apply does what kubectl asmfed apply does on the cluster side for f: compile, render the
// in-cluster control plane with Istio's library and attach it to the model, plan against the
// clusters and apply, with remote secrets pointing at each peer's local API server.
func (m *meshRun) apply(ctx context.Context, f *v1alpha1.Federation) *federation.Desired {
	m.t.Helper()
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		m.t.Fatalf("compile: %v", err)
	}
	rendered, err := (&render.Renderer{}).Render(render.Input{Federation: f, Desired: d, BaseDir: m.dir})
	if err != nil {
		m.t.Fatalf("render: %v", err)
	}
	manifests := map[string][]*unstructured.Unstructured{}
	for _, c := range rendered {
		for _, man := range c.Manifests {
			manifests[c.Name] = append(manifests[c.Name], man.Object)
		}
	}
	if err := d.AttachControlPlane(manifests); err != nil {
		m.t.Fatal(err)
	}
	peers := map[string]string{}
	for _, c := range m.cs {
		peers[c.Name] = c.Host
	}
	r, err := clusterlayer.Plan(ctx, m.configs, d, clusterlayer.Options{PeerServers: peers, CARoot: m.root})
	if err != nil {
		m.t.Fatalf("plan: %v", err)
	}
	rep, err := clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{})
	if err != nil {
		m.t.Fatalf("apply: %v", err)
	}
	if err := rep.Err(); err != nil {
		m.t.Fatalf("apply: %v", err)
	}
	m.fed, m.derived = f, d
	return d
}

// startIstiods starts an istiod per cluster with the options apply's ConfigMap gives, stopping
// those running first, and points each cluster's istiod pod at it.
func (m *meshRun) startIstiods(ctx context.Context) {
	m.t.Helper()
	for _, i := range m.ids {
		i.Stop()
	}
	m.ids = make([]*istiodtest.Istiod, len(m.cs))
	errs := make([]error, len(m.cs))
	var wg sync.WaitGroup
	for n, c := range m.cs {
		wg.Go(func() {
			opts, err := istiodtest.AppliedOptions(ctx, c, m.derived.Mesh.Revision)
			if err == nil {
				m.ids[n], err = istiodtest.Start(ctx, c, opts)
			}
			errs[n] = err
		})
	}
	wg.Wait()
	for n, i := range m.ids {
		if i != nil {
			m.t.Cleanup(i.Stop)
		}
		if errs[n] != nil {
			m.t.Fatalf("start istiod for %s: %v", m.cs[n].Name, errs[n])
		}
		m.retarget(n)
	}
}

// istiodPod is the name of cluster n's istiod pod.
func (m *meshRun) istiodPod(n int) string {
	return fmt.Sprintf("istiod-%s-%s", m.derived.Mesh.Revision, m.cs[n].Name)
}

// runPods gives every cluster a node and a Running istiod pod of the federation's revision.
func (m *meshRun) runPods(ctx context.Context) {
	m.t.Helper()
	for n, c := range m.cs {
		kl := kubelettest.Start(m.t, c.RESTConfig(), "node-"+c.Name)
		m.kubes = append(m.kubes, kl)
		// The pod the istiod Deployment apply installed would run, with its template's labels
		// (app=istiod, istio.io/rev, and sidecar.istio.io/inject=false, which keeps the
		// injection webhook away).
		dep, err := c.Client().AppsV1().Deployments(istiodtest.Namespace).Get(ctx, "istiod-"+m.derived.Mesh.Revision, metav1.GetOptions{})
		if err != nil {
			m.t.Fatal(err)
		}
		labels := dep.Spec.Template.Labels
		if _, err := kl.RunPod(ctx, istiodtest.Namespace, m.istiodPod(n), labels, m.ports(n)); err != nil {
			m.t.Fatal(err)
		}
	}
}

// ports are where cluster n's istiod listens for what the pod's ports 15014 and 15012 carry.
func (m *meshRun) ports(n int) map[int32]string {
	return map[int32]string{verify.IstiodDebugPort: m.ids[n].MonitoringAddr, verify.IstiodXDSPort: m.ids[n].SecureGRPCAddr}
}

// retarget points cluster n's istiod pod at its istiod's current ports, after a restart.
func (m *meshRun) retarget(n int) {
	if n < len(m.kubes) {
		m.kubes[n].SetPorts(istiodtest.Namespace, m.istiodPod(n), m.ports(n))
	}
}

// verify runs the checks that ask istiod, with the production way of reaching it.
func (m *meshRun) verify(ctx context.Context, change func(env *verify.Env), ids ...string) *verify.Report {
	m.t.Helper()
	checks, err := verify.Select(verify.Checks(), ids, nil)
	if err != nil {
		m.t.Fatal(err)
	}
	fwd := verify.NewPortForwardedIstiods(m.configs, m.derived.Mesh.Revision)
	defer fwd.Close()
	env := &verify.Env{Federation: m.fed, Derived: m.derived, BaseDir: m.dir, Clusters: m.configs, Istiods: fwd.Istiods, ProbeTimeout: 10 * time.Second}
	if change != nil {
		change(env)
	}
	start := time.Now()
	r := verify.Run(ctx, env, checks)
	m.t.Logf("verify %v: %s", ids, time.Since(start).Round(time.Millisecond))
	for _, f := range r.Results {
		m.t.Logf("  %s %s %s: %s", f.Check, f.Status, f.Subject, f.Message)
	}
	return r
}

// statuses are a report's findings of check by subject.
func statuses(r *verify.Report, check string) map[string]verify.Status {
	out := map[string]verify.Status{}
	for _, f := range r.Results {
		if f.Check == check {
			out[f.Subject] = f.Status
		}
	}
	return out
}

// expected are the statuses of want by subject, and OK for every other subject.
func expected(subjects []string, want map[string]verify.Status) map[string]verify.Status {
	full := map[string]verify.Status{}
	for _, s := range subjects {
		full[s] = verify.OK
	}
	for s, st := range want {
		full[s] = st
	}
	return full
}

// requireStatuses fails t unless check found exactly want, by subject, every subject not in
// want being OK.
func requireStatuses(t *testing.T, r *verify.Report, check string, subjects []string, want map[string]verify.Status) {
	t.Helper()
	if got, full := statuses(r, check), expected(subjects, want); !mapsEqual(got, full) {
		t.Errorf("%s: findings %v, want %v", check, got, full)
	}
}

// await runs check until its findings are exactly want (every subject not in want OK), for
// istiod to apply a change, and fails t with the last findings when it does not within waitFor.
func (m *meshRun) await(ctx context.Context, check string, subjects []string, want map[string]verify.Status) *verify.Report {
	m.t.Helper()
	full := expected(subjects, want)
	var r *verify.Report
	testutil.Eventually(m.t, waitFor, check+" sees the change", func() error {
		r = m.verify(ctx, nil, check)
		if got := statuses(r, check); !mapsEqual(got, full) {
			return fmt.Errorf("findings %v, want %v", got, full)
		}
		return nil
	})
	return r
}

func mapsEqual(a, b map[string]verify.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// messageOf is the message and hint of check's finding for subject.
func messageOf(r *verify.Report, check, subject string) string {
	for _, f := range r.Results {
		if f.Check == check && f.Subject == subject {
			return f.Message + " (hint: " + f.Hint + ")"
		}
	}
	return ""
}

func requireMentions(t *testing.T, r *verify.Report, check, subject string, words ...string) {
	t.Helper()
	msg := messageOf(r, check, subject)
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("%s %s: %q does not name %q", check, subject, msg, w)
		}
	}
}

func create(t *testing.T, ctx context.Context, c *testenv.Cluster, gvr schema.GroupVersionResource, obj map[string]any) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(c.RESTConfig())
	u := &unstructured.Unstructured{Object: obj}
	if _, err := dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, ctx context.Context, c *testenv.Cluster, gvr schema.GroupVersionResource, ns, name string) {
	t.Helper()
	if err := dynamic.NewForConfigOrDie(c.RESTConfig()).Resource(gvr).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

const (
	mesh002 = "ASMFED-MESH-002"
	mesh003 = "ASMFED-MESH-003"
	mesh004 = "ASMFED-MESH-004"
	egress  = "ASMFED-EGRESS-001"
)

// TestSidecarsThroughIstiod applies a three-cluster federation with its rendered control plane,
// starts an istiod per cluster from the mesh configuration apply wrote, and asks each istiod, as
// verify does on GKE (a port-forward to the istiod pod through the API server, xDS over TLS
// verified against the federation's root, a token of audience istio-ca), what a synthetic
// sidecar receives. Healthy, every check passes; then each is broken the way it breaks in a real
// mesh and must fail naming what broke it.
func TestSidecarsThroughIstiod(t *testing.T) {
	istiodtest.Require(t)
	begin := time.Now()
	cs := testenv.Clusters(t, 3)
	ctx := context.Background()
	b := fedtest.New("mesh").FleetProject("fleet-project", 123456).Mesh(func(m *v1alpha1.Mesh) {
		m.Egress.Allow = []v1alpha1.EgressRule{{Hosts: []string{"www.googleapis.com"}, Ports: []v1alpha1.EgressPort{{Number: 443}}}}
	})
	m := newMeshRun(t, cs, b, "shop", "cart")
	mark := time.Now()
	m.apply(ctx, m.fed)
	t.Logf("clusters, render, plan and apply: %s", time.Since(begin).Round(time.Millisecond))
	mark = time.Now()
	m.startIstiods(ctx)
	t.Logf("3 istiods with the applied mesh configuration: %s", time.Since(mark).Round(time.Millisecond))
	if got := m.ids[0].PluggedCA; !got {
		t.Fatal("istiod started without the cacerts apply installed")
	}
	clusters := []string{"c1", "c2", "c3"}
	var pairs []string
	for _, c := range clusters {
		pairs = append(pairs, c+"/shop", c+"/cart")
	}
	all := []string{mesh002, mesh003, mesh004, egress}

	t.Run("without an istiod pod the checks are skipped, saying so", func(t *testing.T) {
		r := m.verify(ctx, nil, all...)
		for _, f := range r.Results {
			if f.Status != verify.Skipped || !strings.Contains(f.Message, "no Running istiod pod of revision "+m.derived.Mesh.Revision) {
				t.Errorf("%s %s: %s %q, want skipped: no Running istiod pod", f.Check, f.Subject, f.Status, f.Message)
			}
		}
	})
	m.runPods(ctx)

	t.Run("healthy: every check passes", func(t *testing.T) {
		// Every istiod must have its peers synced before the mesh is healthy.
		for _, i := range m.ids {
			for _, c := range cs {
				if c.Name != i.ClusterID {
					requireSynced(t, ctx, i, c.Name)
				}
			}
		}
		r := m.verify(ctx, nil, all...)
		requireStatuses(t, r, mesh002, clusters, nil)
		requireStatuses(t, r, mesh003, clusters, nil)
		requireStatuses(t, r, mesh004, pairs, nil)
		requireStatuses(t, r, egress, pairs, nil)
		for _, c := range clusters {
			requireMentions(t, r, mesh003, c, "c1, c2, c3")
		}
		requireMentions(t, r, egress, "c2/shop", "BlackHoleCluster", "www.googleapis.com:443")
		probes, err := cs[0].Client().CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: verify.ProbeLabel})
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range probes.Items {
			if ns.DeletionTimestamp == nil {
				t.Errorf("the probe namespace %s is left behind", ns.Name)
			}
		}
	})

	t.Run("a Sidecar with ALLOW_ANY in one namespace fails egress there, naming it", func(t *testing.T) {
		create(t, ctx, cs[1], sidecarsGVR, map[string]any{"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
			"metadata": map[string]any{"name": "open-egress", "namespace": "shop"},
			"spec":     map[string]any{"outboundTrafficPolicy": map[string]any{"mode": "ALLOW_ANY"}}})
		r := m.await(ctx, egress, pairs, map[string]verify.Status{"c2/shop": verify.Fail})
		requireMentions(t, r, egress, "c2/shop", "namespace shop", "Sidecar shop/open-egress", "ALLOW_ANY", "PassthroughCluster", "kubectl -n shop delete sidecar open-egress")
		remove(t, ctx, cs[1], sidecarsGVR, "shop", "open-egress")
		m.await(ctx, egress, pairs, nil)
	})

	t.Run("a namespace PeerAuthentication PERMISSIVE fails mTLS there, naming it", func(t *testing.T) {
		create(t, ctx, cs[2], peerAuthGVR, map[string]any{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
			"metadata": map[string]any{"name": "weak", "namespace": "shop"},
			"spec":     map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}})
		r := m.await(ctx, mesh004, pairs, map[string]verify.Status{"c3/shop": verify.Fail})
		requireMentions(t, r, mesh004, "c3/shop", "namespace shop", "plain text", "PeerAuthentication shop/weak sets mtls.mode PERMISSIVE")
		remove(t, ctx, cs[2], peerAuthGVR, "shop", "weak")
		m.await(ctx, mesh004, pairs, nil)
	})

	t.Run("the mesh-wide PeerAuthentication made PERMISSIVE fails mTLS, and is a warning when the file says so", func(t *testing.T) {
		dyn := dynamic.NewForConfigOrDie(cs[0].RESTConfig()).Resource(peerAuthGVR).Namespace(istiodtest.Namespace)
		pa, err := dyn.Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedField(pa.Object, "PERMISSIVE", "spec", "mtls", "mode"); err != nil {
			t.Fatal(err)
		}
		if _, err := dyn.Update(ctx, pa, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := m.await(ctx, mesh004, pairs, map[string]verify.Status{"c1/shop": verify.Fail, "c1/cart": verify.Fail})
		requireMentions(t, r, mesh004, "c1/cart", "PeerAuthentication istio-system/default sets mtls.mode PERMISSIVE for the whole mesh", "kubectl asmfed apply")
		permissive := *m.fed
		permissive.Spec.Mesh.MTLS = v1alpha1.MTLSPermissive
		r = m.verify(ctx, func(env *verify.Env) { env.Federation = &permissive }, mesh004)
		requireStatuses(t, r, mesh004, pairs, map[string]verify.Status{"c1/shop": verify.Warn, "c1/cart": verify.Warn})
		requireMentions(t, r, mesh004, "c1/shop", "as spec.mesh.mtls says")
		m.apply(ctx, m.fed) // apply restores STRICT
		m.await(ctx, mesh004, pairs, nil)
	})

	t.Run("a missing allow-list ServiceEntry fails egress, naming host:port", func(t *testing.T) {
		se := "asmfed-egress-" + m.fed.Spec.Mesh.Egress.Allow[0].Name
		remove(t, ctx, cs[0], seGVR, istiodtest.Namespace, se)
		r := m.await(ctx, egress, pairs, map[string]verify.Status{"c1/shop": verify.Fail, "c1/cart": verify.Fail})
		requireMentions(t, r, egress, "c1/shop", "www.googleapis.com:443", "ServiceEntry istio-system/"+se)
		m.apply(ctx, m.fed) // apply recreates it
		m.await(ctx, egress, pairs, nil)
	})

	t.Run("a dead remote secret fails the peer's sync and its endpoints, naming the peer", func(t *testing.T) {
		secrets := cs[0].Client().CoreV1().Secrets(istiodtest.Namespace)
		orig, err := secrets.Get(ctx, remoteSecretPrefix+"c2", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		broken := orig.DeepCopy()
		kc, err := clientcmd.Load(broken.Data["c2"])
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range kc.Clusters {
			cl.Server = "https://127.0.0.1:1" // nothing listens there
		}
		if broken.Data["c2"], err = clientcmd.Write(*kc); err != nil {
			t.Fatal(err)
		}
		if _, err := secrets.Update(ctx, broken, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// As a pod restarted after the secret went bad: istiod has only the dead secret.
		if err := m.ids[0].Restart(ctx); err != nil {
			t.Fatal(err)
		}
		m.retarget(0)
		r := m.verify(ctx, nil, mesh002, mesh003)
		requireStatuses(t, r, mesh002, clusters, map[string]verify.Status{"c1": verify.Fail})
		requireMentions(t, r, mesh002, "c1", "c2 is ", "istio-system/istio-remote-secret-c2", "ASMFED-ACCESS-001")
		requireStatuses(t, r, mesh003, clusters, map[string]verify.Status{"c1": verify.Fail})
		requireMentions(t, r, mesh003, "c1", "no endpoint of c2 (192.0.2.11)", "c1, c3")

		fixed, err := secrets.Get(ctx, remoteSecretPrefix+"c2", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fixed.Data = orig.Data
		if _, err := secrets.Update(ctx, fixed, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		requireSynced(t, ctx, m.ids[0], "c2")
	})

	t.Run("ALLOW_ANY in the file fails egress everywhere, naming the file", func(t *testing.T) {
		open := *m.fed
		open.Spec.Mesh.Egress.Mode = v1alpha1.EgressAllowAny
		open.Spec.Mesh.Egress.Allow = nil // validation refuses an allow-list under ALLOW_ANY
		m.apply(ctx, &open)
		opts, err := istiodtest.AppliedOptions(ctx, cs[0], m.derived.Mesh.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(opts.MeshConfig, "ALLOW_ANY") {
			t.Fatalf("apply wrote a mesh configuration without ALLOW_ANY:\n%s", opts.MeshConfig)
		}
		m.startIstiods(ctx) // the Deployment rolls out with the new ConfigMap
		r := m.verify(ctx, nil, egress)
		want := map[string]verify.Status{}
		for _, p := range pairs {
			want[p] = verify.Fail
		}
		requireStatuses(t, r, egress, pairs, want)
		requireMentions(t, r, egress, "c3/cart", "namespace cart", "PassthroughCluster", "allow_any", "the file sets spec.mesh.egress.mode ALLOW_ANY")
	})

	t.Run("no probe is left behind", func(t *testing.T) {
		for _, c := range cs {
			testutil.Eventually(t, waitFor, "the probe namespaces of "+c.Name+" are gone", func() error {
				probes, err := c.Client().CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: verify.ProbeLabel})
				if err != nil {
					return err
				}
				var names []string
				for _, ns := range probes.Items {
					names = append(names, ns.Name)
				}
				if len(names) > 0 {
					return fmt.Errorf("%v", slices.Sorted(slices.Values(names)))
				}
				return nil
			})
		}
	})
	t.Logf("total: %s", time.Since(begin).Round(time.Millisecond))
}
