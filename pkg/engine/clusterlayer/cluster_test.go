package clusterlayer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

var clusters = &testenv.Shared{Count: 3}

func TestMain(m *testing.M) { os.Exit(clusters.Run(m)) }

const fedName = "mesh"

// fixture is a federation of the local clusters and everything the tests need to drive it.
type fixture struct {
	t        *testing.T
	clusters []*testenv.Cluster
	configs  map[string]*rest.Config
	root     *istio.Root
	rootKey  []byte
	// outputs collects every plan rendering and progress line, searched for secrets.
	log *outputLog
}

// federation compiles a federation of the named local clusters with application namespaces and
// the plug-in CA.
func (fx *fixture) federation(names []string, change func(f *v1alpha1.Federation)) *federation.Desired {
	fx.t.Helper()
	b := fedtest.New(fedName).FleetProject("fleet-project", 123456)
	for i, n := range names {
		b.Cluster(fedtest.Cluster(n).Ranges(fmt.Sprintf("10.10.%d.0/24", i), fmt.Sprintf("10.%d.0.0/16", 100+i), fmt.Sprintf("172.16.%d.0/24", i), fmt.Sprintf("192.168.%d.0/28", i)))
	}
	b.Mesh(func(m *v1alpha1.Mesh) {
		m.CA = v1alpha1.CA{Mode: v1alpha1.CAPlugin, RootCertFile: "root-cert.pem", RootKeyFile: "root-key.pem"}
	})
	f := b.Build()
	f.Spec.Namespaces = []v1alpha1.Namespace{{Name: "apps"}, {Name: "legacy", Injection: ptr(false), PodSecurity: v1alpha1.PodSecurityRestricted, DefaultNetworkPolicy: ptr(false)}}
	if change != nil {
		change(f)
	}
	v1alpha1.SetDefaults(f)
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		fx.t.Fatalf("compile: %v", err)
	}
	return d
}

// outputLog collects every plan rendering and progress line of a fixture and its subtests.
type outputLog struct {
	mu      sync.Mutex
	outputs []string
}

// run runs a subtest with a fixture bound to it, so that its failures are the subtest's; the
// parent's fixture is shadowed inside f and cannot be used by mistake.
func (fx *fixture) run(name string, f func(fx *fixture)) {
	fx.t.Helper()
	fx.t.Run(name, func(t *testing.T) {
		sub := *fx
		sub.t = t
		f(&sub)
	})
}

func ptr[T any](v T) *T { return &v }

// install says what of Istio the test's clusters get beside the federation's own objects: a
// control plane attached to the model, and whether the mesh policy stays in it (its objects are
// of Istio's kinds, which need Istio's CRDs; without them it is left out).
type install struct {
	manifests  map[string][]*unstructured.Unstructured
	meshPolicy bool
}

// model is d as the layer gets it for what the test installs; d itself is not changed.
func (fx *fixture) model(d *federation.Desired, in install) *federation.Desired {
	fx.t.Helper()
	m := *d
	m.Clusters = slices.Clone(d.Clusters)
	for i := range m.Clusters {
		var keep []federation.KubeObject
		for _, o := range m.Clusters[i].Objects {
			_, istioKind := federation.CRDOf[o.Kind]
			if !in.meshPolicy && (istioKind || o.Role == federation.RoleIngressCredential) {
				continue
			}
			o.DependsOn = slices.Clone(o.DependsOn)
			keep = append(keep, o)
		}
		m.Clusters[i].Objects = keep
	}
	if err := m.AttachControlPlane(in.manifests); err != nil {
		fx.t.Fatalf("attach the control plane: %v", err)
	}
	return &m
}

func (fx *fixture) plan(ctx context.Context, d *federation.Desired, opts clusterlayer.Options, in ...install) *clusterlayer.ClusterPlan {
	fx.t.Helper()
	opts.CARoot = fx.root
	var what install
	if len(in) > 0 {
		what = in[0]
	}
	start := time.Now()
	r, err := clusterlayer.Plan(ctx, fx.configs, fx.model(d, what), opts)
	if err != nil {
		fx.t.Fatalf("plan: %v", err)
	}
	fx.t.Logf("plan: %s, %d API calls, %+v", time.Since(start).Round(time.Millisecond), total(r.Calls), r.Plan.Summary)
	var text, js bytes.Buffer
	if err := (plan.TextRenderer{}).Render(&text, r.Plan); err != nil {
		fx.t.Fatal(err)
	}
	if err := (plan.JSONRenderer{}).Render(&js, r.Plan); err != nil {
		fx.t.Fatal(err)
	}
	fx.record(text.String(), js.String())
	return r
}

// requestLog records the requests clients made, per cluster.
type requestLog struct {
	mu   sync.Mutex
	reqs map[string][]request
}

type request struct {
	method, path, query string
	// collection is a request for a kind's collection rather than for one named object.
	collection bool
}

// wrap returns a copy of cfg whose requests are recorded under cluster.
func (l *requestLog) wrap(cluster string, cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			l.mu.Lock()
			if l.reqs == nil {
				l.reqs = map[string][]request{}
			}
			l.reqs[cluster] = append(l.reqs[cluster], request{method: req.Method, path: req.URL.Path, query: req.URL.RawQuery, collection: isCollection(req.URL.Path)})
			l.mu.Unlock()
			return rt.RoundTrip(req)
		})
	})
	return c
}

func (l *requestLog) of(cluster string) []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs[cluster])
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// isCollection says whether an API path names a collection (/api/v1/secrets,
// /apis/g/v/namespaces/ns/kinds) rather than one object (/api/v1/namespaces/ns,
// /apis/g/v/namespaces/ns/kinds/name).
func isCollection(path string) bool {
	var rest string
	if r, ok := strings.CutPrefix(path, "/api/v1/"); ok {
		rest = r
	} else if r, ok := strings.CutPrefix(path, "/apis/"); ok {
		parts := strings.SplitN(r, "/", 3)
		if len(parts) < 3 {
			return false
		}
		rest = parts[2]
	} else {
		return false
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if segs[0] == "namespaces" && len(segs) >= 3 {
		segs = segs[2:]
	}
	return len(segs) == 1
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (fx *fixture) record(s ...string) {
	fx.log.mu.Lock()
	defer fx.log.mu.Unlock()
	fx.log.outputs = append(fx.log.outputs, s...)
}

func (fx *fixture) apply(ctx context.Context, r *clusterlayer.ClusterPlan, opts clusterlayer.ApplyOptions) *plan.Report {
	fx.t.Helper()
	opts.OnEvent = func(e plan.Event) {
		line := fmt.Sprintf("%s %s %s %s", e.Kind, e.Address, e.Message, e.Status)
		if e.Err != nil {
			line += " " + e.Err.Error()
		}
		fx.record(line)
	}
	start := time.Now()
	rep, err := clusterlayer.Apply(ctx, r, opts)
	if err != nil {
		fx.t.Fatalf("apply: %v", err)
	}
	fx.t.Logf("apply: %s, %d steps", time.Since(start).Round(time.Millisecond), len(rep.Results))
	if err := rep.Err(); err != nil {
		fx.record(err.Error())
		fx.t.Fatalf("apply failed: %v", err)
	}
	return rep
}

func (fx *fixture) client(name string) kubernetes.Interface {
	for _, c := range fx.clusters {
		if c.Name == name {
			return c.Client()
		}
	}
	fx.t.Fatalf("no cluster %s", name)
	return nil
}

func (fx *fixture) cluster(name string) *testenv.Cluster {
	for _, c := range fx.clusters {
		if c.Name == name {
			return c
		}
	}
	fx.t.Fatalf("no cluster %s", name)
	return nil
}

// requireInventory checks that the inventory of a cluster lists exactly what p leaves there (every
// address of the cluster but the deleted ones and the inventory's own), and that each listed
// object exists and carries the federation's ownership labels.
func (fx *fixture) requireInventory(ctx context.Context, cluster string, p *plan.Plan) {
	t := fx.t
	t.Helper()
	invName := clusterlayer.InventoryPrefix + fedName
	var want []string
	for _, c := range p.Changes {
		if strings.HasPrefix(string(c.Address), "k8s:"+cluster+"/") && c.Action != plan.Delete && c.Address != plan.ObjectAddress(cluster, federation.IstioNamespace, "ConfigMap", invName) {
			want = append(want, string(c.Address))
		}
	}
	slices.Sort(want)
	inv, err := fx.client(cluster).CoreV1().ConfigMaps(federation.IstioNamespace).Get(ctx, invName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(inv.Data[clusterlayer.InventoryKey], "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: inventory (-what the federation has there +listed):\n%s", cluster, diff)
	}
	c := fx.cluster(cluster)
	groups, err := restmapper.GetAPIGroupResources(c.Client().Discovery())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn := dynamic.NewForConfigOrDie(c.RESTConfig())
	for _, a := range got {
		rf, err := plan.ParseAddress(plan.Address(a))
		if err != nil {
			t.Errorf("%s: inventory lists %q: %v", cluster, a, err)
			continue
		}
		m, err := mapper.RESTMapping(schema.GroupKind{Group: kindGroups[rf.Kind], Kind: rf.Kind})
		if err != nil {
			t.Errorf("%s: inventory lists %s: %v", cluster, a, err)
			continue
		}
		u, err := dyn.Resource(m.Resource).Namespace(rf.Namespace).Get(ctx, rf.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: inventory lists %s: %v", cluster, a, err)
			continue
		}
		if l := u.GetLabels(); l[federation.KubeLabelManagedBy] != federation.ManagedByValue || l[federation.KubeLabelFederation] != fedName {
			t.Errorf("%s: inventory lists %s, which does not carry the federation's labels: %v", cluster, a, l)
		}
	}
}

// kindGroups are the API groups of the kinds the inventory of TestClusterSide lists outside the
// core group.
var kindGroups = map[string]string{
	"NetworkPolicy":      "networking.k8s.io",
	"ClusterRole":        "rbac.authorization.k8s.io",
	"ClusterRoleBinding": "rbac.authorization.k8s.io",
	"Role":               "rbac.authorization.k8s.io",
	"RoleBinding":        "rbac.authorization.k8s.io",
}

func requireNoChanges(t *testing.T, r *clusterlayer.ClusterPlan) {
	t.Helper()
	if r.Plan.HasChanges() || len(r.Plan.Conflicts) > 0 {
		var b bytes.Buffer
		_ = (plan.TextRenderer{}).Render(&b, r.Plan)
		t.Fatalf("plan after apply has changes:\n%s", b.String())
	}
}

func changesOf(p *plan.Plan, action plan.Action) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Action == action {
			out = append(out, string(c.Address))
		}
	}
	return out
}

// rootedFixture is a fixture over clusters with a plug-in root of its own, its key read as the
// file holds it, and the clusters' names.
func rootedFixture(t *testing.T, cs []*testenv.Cluster) (*fixture, []string) {
	t.Helper()
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, _, err := root.WriteFiles(dir, false); err != nil {
		t.Fatal(err)
	}
	rootKey, err := os.ReadFile(filepath.Join(dir, istio.RootKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: map[string]*rest.Config{}, root: root, rootKey: rootKey}
	var names []string
	for _, c := range cs {
		fx.configs[c.Name] = c.RESTConfig()
		names = append(names, c.Name)
	}
	return fx, names
}

// TestClusterSide drives the engine through the life of a federation of three real local
// clusters. The subtests build on each other, in order.
func TestClusterSide(t *testing.T) {
	cs := clusters.Get(t, 3)
	ctx := context.Background()
	fx, names := rootedFixture(t, cs)
	root := fx.root
	d := fx.federation(names, nil)

	fx.run("unowned object is reported, not overwritten", func(fx *fixture) {
		t := fx.t
		cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: federation.ReaderClusterRole},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}}
		c2 := fx.client("c2")
		made, err := c2.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := fx.plan(ctx, d, clusterlayer.Options{})
		want := plan.Address("k8s:c2/ClusterRole/" + federation.ReaderClusterRole)
		if len(r.Plan.Conflicts) != 1 || r.Plan.Conflicts[0].Address != want {
			t.Fatalf("conflicts = %+v, want one for %s", r.Plan.Conflicts, want)
		}
		var text bytes.Buffer
		_ = (plan.TextRenderer{}).Render(&text, r.Plan)
		if !strings.Contains(text.String(), string(want)) {
			t.Errorf("text plan does not name the conflict:\n%s", text.String())
		}
		_, err = clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{})
		var ce *plan.ConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("apply with a conflict: err = %v, want *plan.ConflictError", err)
		}
		after, err := c2.RbacV1().ClusterRoles().Get(ctx, federation.ReaderClusterRole, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.ResourceVersion != made.ResourceVersion {
			t.Errorf("the unowned ClusterRole was changed")
		}
		for _, c := range cs {
			if _, err := c.Client().CoreV1().Namespaces().Get(ctx, federation.IstioNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("%s: istio-system exists after a refused apply (err %v)", c.Name, err)
			}
		}
		if err := c2.RbacV1().ClusterRoles().Delete(ctx, federation.ReaderClusterRole, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	fx.run("apply then plan shows no changes", func(fx *fixture) {
		t := fx.t
		r := fx.plan(ctx, d, clusterlayer.Options{})
		if n := len(changesOf(r.Plan, plan.Create)); n == 0 || r.Plan.Summary.Change+r.Plan.Summary.Destroy+r.Plan.Summary.Replace != 0 {
			t.Fatalf("first plan: %+v, want only creates", r.Plan.Summary)
		}
		t.Logf("first plan creates %d objects in %d clusters", r.Plan.Summary.Add, len(cs))
		fx.apply(ctx, r, clusterlayer.ApplyOptions{})
		requireNoChanges(t, fx.plan(ctx, d, clusterlayer.Options{}))
	})

	fx.run("a converged plan reads by list per kind and namespace", func(fx *fixture) {
		t := fx.t
		counted := &requestLog{}
		configs := map[string]*rest.Config{}
		for name, cfg := range fx.configs {
			configs[name] = counted.wrap(name, cfg)
		}
		r, err := clusterlayer.Plan(ctx, configs, fx.model(d, install{}), clusterlayer.Options{CARoot: fx.root})
		if err != nil {
			t.Fatal(err)
		}
		requireNoChanges(t, r)
		// What a per-object read costs: one call per object in the cluster, the inventory included.
		objects, collections := map[string]int{}, map[string]map[string]bool{}
		for _, c := range r.Plan.Changes {
			p, err := plan.ParseAddress(c.Address)
			if err != nil {
				t.Fatal(err)
			}
			objects[p.Cluster]++
			if collections[p.Cluster] == nil {
				collections[p.Cluster] = map[string]bool{}
			}
			collections[p.Cluster][p.Kind+" in "+p.Namespace] = true
		}
		for _, name := range names {
			reqs := counted.of(name)
			for _, req := range reqs {
				if !req.collection || req.method != "GET" || !strings.Contains(req.query, "labelSelector=") {
					t.Errorf("%s: %s %s?%s is not a labelled list", name, req.method, req.path, req.query)
				}
			}
			if len(reqs) != len(collections[name]) || r.Calls[name] != len(reqs) {
				t.Errorf("%s: %d requests (%d counted by the plan) for %d objects, want one per kind and namespace, %d",
					name, len(reqs), r.Calls[name], objects[name], len(collections[name]))
			}
			t.Logf("%s: %d lists for %d objects", name, len(reqs), objects[name])
		}
	})

	fx.run("objects", func(fx *fixture) {
		t := fx.t
		for _, c := range cs {
			k := c.Client()
			ns, err := k.CoreV1().Namespaces().Get(ctx, "istio-system", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ns.Labels["topology.istio.io/network"]; got != d.Mesh.Network {
				t.Errorf("%s: istio-system network label = %q, want %q", c.Name, got, d.Mesh.Network)
			}
			if ns.Labels[federation.KubeLabelManagedBy] != "asmfed" || ns.Labels[federation.KubeLabelFederation] != fedName {
				t.Errorf("%s: istio-system labels %v lack the ownership marks", c.Name, ns.Labels)
			}
			apps, err := k.CoreV1().Namespaces().Get(ctx, "apps", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if apps.Labels["istio.io/rev"] != d.Mesh.Revision || apps.Labels["pod-security.kubernetes.io/enforce"] != "baseline" {
				t.Errorf("%s: apps labels = %v", c.Name, apps.Labels)
			}
			legacy, err := k.CoreV1().Namespaces().Get(ctx, "legacy", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if legacy.Labels["istio-injection"] != "disabled" || legacy.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				t.Errorf("%s: legacy labels = %v", c.Name, legacy.Labels)
			}
			nps, err := k.NetworkingV1().NetworkPolicies("apps").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var npNames []string
			for _, np := range nps.Items {
				npNames = append(npNames, np.Name)
			}
			if want := []string{federation.PolicyDNS, federation.PolicyIstiod, federation.PolicyMesh, federation.PolicyMetadata, federation.PolicyDenyAll}; !slices.Equal(npNames, want) {
				t.Errorf("%s: apps NetworkPolicies = %v, want %v", c.Name, npNames, want)
			}
			if nps, _ := k.NetworkingV1().NetworkPolicies("legacy").List(ctx, metav1.ListOptions{}); len(nps.Items) != 0 {
				t.Errorf("%s: legacy has NetworkPolicies though defaultNetworkPolicy is false", c.Name)
			}
			for _, peer := range cs {
				if peer.Name == c.Name {
					continue
				}
				s, err := k.CoreV1().Secrets("istio-system").Get(ctx, "istio-remote-secret-"+peer.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if s.Labels["istio/multiCluster"] != "true" || s.Annotations["networking.istio.io/cluster"] != peer.Name {
					t.Errorf("%s: remote secret for %s has labels %v, annotations %v", c.Name, peer.Name, s.Labels, s.Annotations)
				}
				if len(s.Data) != 1 || s.Data[peer.Name] == nil {
					t.Errorf("%s: remote secret for %s has data keys %v, want only %s", c.Name, peer.Name, keys(s.Data), peer.Name)
				}
				for _, mf := range s.ManagedFields {
					if mf.Manager == clusterlayer.FieldManager && mf.Operation != metav1.ManagedFieldsOperationApply {
						t.Errorf("%s: %s wrote with operation %s, want Apply", c.Name, clusterlayer.FieldManager, mf.Operation)
					}
				}
			}
			inv, err := k.CoreV1().ConfigMaps("istio-system").Get(ctx, clusterlayer.InventoryPrefix+fedName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(inv.Data[clusterlayer.InventoryKey], "\n")
			if !slices.IsSorted(lines) || !slices.Contains(lines, "k8s:"+c.Name+"/istio-system/Secret/cacerts") || !slices.Contains(lines, "k8s:"+c.Name+"/Namespace/apps") {
				t.Errorf("%s: inventory = %q", c.Name, inv.Data[clusterlayer.InventoryKey])
			}
		}
	})

	fx.run("remote secrets authenticate to their peer and can read what istiod needs", func(fx *fixture) {
		t := fx.t
		for _, holder := range cs {
			for _, target := range cs {
				if holder == target {
					continue
				}
				kc := remoteKubeconfig(t, holder, target.Name)
				raw, err := clientcmd.Load(kc)
				if err != nil {
					t.Fatal(err)
				}
				for name, ai := range raw.AuthInfos {
					if ai.Exec != nil || ai.AuthProvider != nil || ai.Token == "" {
						t.Errorf("%s→%s: user %s must carry a bearer token only", holder.Name, target.Name, name)
					}
				}
				cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Host != target.Host {
					t.Errorf("%s→%s: server %s, want %s", holder.Name, target.Name, cfg.Host, target.Host)
				}
				cfg.QPS, cfg.Burst = 100, 200 // client-go's default of 5 per second slows the access reviews
				k := kubernetes.NewForConfigOrDie(cfg)
				who, err := k.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
				if err != nil {
					t.Fatalf("%s→%s: %v", holder.Name, target.Name, err)
				}
				if want := "system:serviceaccount:istio-system:" + federation.ReaderAccount(holder.Name); who.Status.UserInfo.Username != want {
					t.Errorf("%s→%s: authenticated as %s, want %s", holder.Name, target.Name, who.Status.UserInfo.Username, want)
				}
				checkReader(ctx, t, k, holder.Name+"→"+target.Name)
				checkReaderAccess(ctx, t, k, holder.Name+"→"+target.Name)
			}
		}
	})

	fx.run("kubectl reads the cluster with a remote secret's kubeconfig", func(fx *fixture) {
		t := fx.t
		kc := remoteKubeconfig(t, cs[0], cs[1].Name)
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(path, kc, 0o600); err != nil {
			t.Fatal(err)
		}
		run := func(args ...string) string {
			cmd := exec.CommandContext(ctx, "/usr/bin/kubectl", append([]string{"--kubeconfig", path}, args...)...)
			out, err := cmd.CombinedOutput()
			if err != nil && !strings.Contains(string(out), "no") {
				t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return strings.TrimSpace(string(out))
		}
		if out := run("get", "namespaces", "-o", "name"); !strings.Contains(out, "namespace/istio-system") || !strings.Contains(out, "namespace/apps") {
			t.Errorf("kubectl get namespaces:\n%s", out)
		}
		if out := run("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "system:serviceaccount:istio-system:"+federation.ReaderAccount(cs[0].Name) {
			t.Errorf("kubectl auth whoami = %q", out)
		}
		if out := run("auth", "can-i", "list", "endpointslices.discovery.k8s.io", "--all-namespaces"); out != "yes" {
			t.Errorf("kubectl auth can-i list endpointslices = %q, want yes", out)
		}
		if out := run("auth", "can-i", "delete", "namespaces"); !strings.HasSuffix(out, "no") {
			t.Errorf("kubectl auth can-i delete namespaces = %q, want no", out)
		}
	})

	fx.run("cacerts in every cluster chain to the same root", func(fx *fixture) {
		t := fx.t
		seen := map[string]string{}
		for _, c := range cs {
			s, err := c.Client().CoreV1().Secrets("istio-system").Get(ctx, "cacerts", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"} {
				if len(s.Data[k]) == 0 {
					t.Fatalf("%s: cacerts lacks %s", c.Name, k)
				}
			}
			if !bytes.Equal(s.Data["root-cert.pem"], root.CertPEM) {
				t.Errorf("%s: root-cert.pem is not the shared root", c.Name)
			}
			if err := istio.VerifyChain(s.Data["cert-chain.pem"], root, time.Now()); err != nil {
				t.Errorf("%s: cert-chain.pem does not verify against the root: %v", c.Name, err)
			}
			if err := istio.VerifyChain(append(append([]byte{}, s.Data["ca-cert.pem"]...), s.Data["root-cert.pem"]...), root, time.Now()); err != nil {
				t.Errorf("%s: ca-cert.pem does not verify against the root: %v", c.Name, err)
			}
			if other, dup := seen[string(s.Data["ca-cert.pem"])]; dup {
				t.Errorf("%s and %s share an intermediate", c.Name, other)
			}
			seen[string(s.Data["ca-cert.pem"])] = c.Name
		}
		r := fx.plan(ctx, d, clusterlayer.Options{})
		fp := root.Fingerprint()
		js, _ := json.Marshal(r.Plan)
		if !strings.Contains(string(js), fp) {
			t.Errorf("the plan does not show the root fingerprint %s", fp)
		}
	})

	var oldTokens map[string]string
	fx.run("rotation issues new tokens and invalidates the old ones", func(fx *fixture) {
		t := fx.t
		oldTokens = readerTokens(ctx, t, cs)
		r := fx.plan(ctx, d, clusterlayer.Options{RotateRemoteSecrets: true})
		if got, want := len(changesOf(r.Plan, plan.Replace)), len(cs)*(len(cs)-1); got != want {
			t.Errorf("rotation plan replaces %d objects, want %d token Secrets, one per pair", got, want)
		}
		if got, want := len(changesOf(r.Plan, plan.Update)), len(cs)*(len(cs)-1); got != want {
			t.Errorf("rotation plan updates %d objects, want %d remote secrets", got, want)
		}
		fx.apply(ctx, r, clusterlayer.ApplyOptions{})
		rotated := time.Now()
		newTokens := readerTokens(ctx, t, cs)
		for pair := range oldTokens {
			c := fx.cluster(strings.Split(pair, "→")[1])
			if newTokens[pair] == oldTokens[pair] {
				t.Errorf("%s: token unchanged by rotation", pair)
			}
			// The API server caches successful token authentications for 10 seconds.
			old := kubernetes.NewForConfigOrDie(c.TokenConfig(oldTokens[pair]))
			var err error
			deadline := time.Now().Add(20 * time.Second)
			for {
				_, err = old.CoreV1().Services("").List(ctx, metav1.ListOptions{})
				if apierrors.IsUnauthorized(err) || time.Now().After(deadline) {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if !apierrors.IsUnauthorized(err) {
				t.Errorf("%s: old token 20s after rotation: err = %v, want 401 Unauthorized", pair, err)
			} else {
				t.Logf("%s: old token rejected %s after rotation", pair, time.Since(rotated).Round(100*time.Millisecond))
			}
			if _, err := kubernetes.NewForConfigOrDie(c.TokenConfig(newTokens[pair])).CoreV1().Services("").List(ctx, metav1.ListOptions{}); err != nil {
				t.Errorf("%s: new token: %v", pair, err)
			}
		}
		for _, holder := range cs {
			for _, target := range cs {
				if holder != target {
					cfg, err := clientcmd.RESTConfigFromKubeConfig(remoteKubeconfig(t, holder, target.Name))
					if err != nil {
						t.Fatal(err)
					}
					if cfg.BearerToken != newTokens[holder.Name+"→"+target.Name] {
						t.Errorf("%s's remote secret for %s does not carry the new token", holder.Name, target.Name)
					}
				}
			}
		}
		requireNoChanges(t, fx.plan(ctx, d, clusterlayer.Options{}))
		for k, v := range newTokens {
			oldTokens[k+"-new"] = v
		}
	})

	fx.run("objects the federation no longer wants are pruned, unowned ones are not", func(fx *fixture) {
		t := fx.t
		c1 := fx.client("c1")
		// An object the federation applied, whose ownership labels someone removed, is no longer
		// the tool's to delete.
		np, err := c1.NetworkingV1().NetworkPolicies("apps").Get(ctx, federation.PolicyDNS, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		delete(np.Labels, federation.KubeLabelManagedBy)
		if _, err := c1.NetworkingV1().NetworkPolicies("apps").Update(ctx, np, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// c3's remote secrets, read before it leaves: what c3 could still use against its peers.
		leaver := map[string]*rest.Config{}
		for _, target := range []string{"c1", "c2"} {
			cfg, err := clientcmd.RESTConfigFromKubeConfig(remoteKubeconfig(t, fx.cluster("c3"), target))
			if err != nil {
				t.Fatal(err)
			}
			leaver[target] = cfg
		}
		// Drop c3, the legacy namespace and the default policies of apps.
		d2 := fx.federation([]string{"c1", "c2"}, func(f *v1alpha1.Federation) {
			f.Spec.Namespaces = []v1alpha1.Namespace{{Name: "apps", DefaultNetworkPolicy: ptr(false)}}
		})
		r := fx.plan(ctx, d2, clusterlayer.Options{})
		deletes := changesOf(r.Plan, plan.Delete)
		for _, want := range []string{
			"k8s:c1/istio-system/Secret/istio-remote-secret-c3",
			"k8s:c2/istio-system/Secret/istio-remote-secret-c3",
			"k8s:c1/Namespace/legacy",
			"k8s:c2/apps/NetworkPolicy/" + federation.PolicyDenyAll,
			"k8s:c1/apps/NetworkPolicy/" + federation.PolicyMesh,
			"k8s:c1/istio-system/Secret/" + federation.ReaderTokenSecret("c3"),
			"k8s:c1/istio-system/ServiceAccount/" + federation.ReaderAccount("c3"),
			"k8s:c1/ClusterRoleBinding/" + federation.ReaderAccount("c3"),
			"k8s:c2/istio-system/Secret/" + federation.ReaderTokenSecret("c3"),
			"k8s:c2/istio-system/ServiceAccount/" + federation.ReaderAccount("c3"),
			"k8s:c2/ClusterRoleBinding/" + federation.ReaderAccount("c3"),
		} {
			if !slices.Contains(deletes, want) {
				t.Errorf("plan does not delete %s; deletes: %v", want, deletes)
			}
		}
		// c3 could read its peers' tokens: the remaining ones are replaced.
		replaces := changesOf(r.Plan, plan.Replace)
		if want := []string{"k8s:c1/istio-system/Secret/" + federation.ReaderTokenSecret("c2"), "k8s:c2/istio-system/Secret/" + federation.ReaderTokenSecret("c1")}; !slices.Equal(replaces, want) {
			t.Errorf("plan replaces %v, want the remaining reader tokens %v", replaces, want)
		}
		if !slices.ContainsFunc(r.Plan.Warnings, func(w string) bool { return strings.HasPrefix(w, "c3 left the federation") }) {
			t.Errorf("no warning says c3 left; warnings: %v", r.Plan.Warnings)
		}
		for _, a := range deletes {
			if strings.HasPrefix(a, "k8s:c3/") {
				t.Errorf("plan deletes %s in c3, which is not in the federation any more", a)
			}
			if a == "k8s:c1/apps/NetworkPolicy/"+federation.PolicyDNS {
				t.Errorf("plan deletes %s, which lost its ownership labels", a)
			}
		}
		_, err = clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{})
		var refused *plan.DestroyRefusedError
		if !errors.As(err, &refused) || !slices.Contains(refused.Addresses, "k8s:c1/Namespace/legacy") {
			t.Fatalf("apply deleting namespaces without AllowDestroy: err = %v, want *plan.DestroyRefusedError", err)
		}
		fx.apply(ctx, r, clusterlayer.ApplyOptions{AllowDestroy: true})
		removed := time.Now()
		// The leaver's old kubeconfigs stop working against the clusters that remain (the API
		// server caches a successful token authentication for 10 seconds); the remaining pairs
		// keep theirs.
		for target, cfg := range leaver {
			k := kubernetes.NewForConfigOrDie(cfg)
			testutil.Eventually(t, 30*time.Second, "c3's old kubeconfig for "+target+" is rejected", func() error {
				_, err := k.CoreV1().Services("").List(ctx, metav1.ListOptions{Limit: 1})
				if apierrors.IsUnauthorized(err) {
					return nil
				}
				return fmt.Errorf("list services with c3's old token: err = %v, want 401 Unauthorized", err)
			})
			t.Logf("c3's old kubeconfig for %s rejected %s after the apply", target, time.Since(removed).Round(100*time.Millisecond))
		}
		for _, pair := range [][2]string{{"c1", "c2"}, {"c2", "c1"}} {
			cfg, err := clientcmd.RESTConfigFromKubeConfig(remoteKubeconfig(t, fx.cluster(pair[0]), pair[1]))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Services("").List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
				t.Errorf("%s's remote secret for %s after c3 left: %v", pair[0], pair[1], err)
			}
		}
		if _, err := fx.client("c1").CoreV1().Secrets("istio-system").Get(ctx, "istio-remote-secret-c3", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("istio-remote-secret-c3 in c1: err = %v, want NotFound", err)
		}
		if _, err := c1.NetworkingV1().NetworkPolicies("apps").Get(ctx, federation.PolicyDNS, metav1.GetOptions{}); err != nil {
			t.Errorf("the unowned NetworkPolicy was deleted: %v", err)
		}
		if _, err := fx.client("c3").CoreV1().Secrets("istio-system").Get(ctx, "istio-remote-secret-c1", metav1.GetOptions{}); err != nil {
			t.Errorf("c3, outside the federation now, was touched: %v", err)
		}
		// The inventory's final write drops what was deleted and what lost its labels: it lists
		// exactly the objects that exist and the federation owns.
		for _, name := range []string{"c1", "c2"} {
			fx.requireInventory(ctx, name, r.Plan)
		}
		requireNoChanges(t, fx.plan(ctx, d2, clusterlayer.Options{}))
	})

	fx.run("no secret appears in plans or progress", func(fx *fixture) {
		t := fx.t
		secrets := map[string]string{"root key": string(fx.rootKey)}
		for name, tok := range oldTokens {
			secrets["token "+name] = tok
			secrets["base64 token "+name] = base64.StdEncoding.EncodeToString([]byte(tok))
		}
		for _, c := range cs {
			s, err := c.Client().CoreV1().Secrets("istio-system").Get(ctx, "cacerts", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			secrets["intermediate key "+c.Name] = keyBody(s.Data["ca-key.pem"])
			secrets["base64 intermediate key "+c.Name] = base64.StdEncoding.EncodeToString(s.Data["ca-key.pem"])[:40]
		}
		secrets["root key body"] = keyBody(fx.rootKey)
		fx.log.mu.Lock()
		all := strings.Join(fx.log.outputs, "\n")
		fx.log.mu.Unlock()
		if len(all) < 1000 {
			t.Fatalf("only %d bytes of output recorded", len(all))
		}
		for what, s := range secrets {
			if s == "" {
				t.Fatalf("%s is empty", what)
			}
			if strings.Contains(all, s) {
				t.Errorf("the %s appears in output", what)
			}
		}
		if !strings.Contains(all, "(sensitive ") {
			t.Errorf("no redaction marker in output")
		}
		t.Logf("searched %d bytes of plans and progress for %d secrets", len(all), len(secrets))
	})
}

func keyBody(p []byte) string {
	lines := strings.Split(strings.TrimSpace(string(p)), "\n")
	if len(lines) < 3 {
		return ""
	}
	return lines[1]
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func remoteKubeconfig(t *testing.T, holder *testenv.Cluster, target string) []byte {
	t.Helper()
	s, err := holder.Client().CoreV1().Secrets("istio-system").Get(context.Background(), "istio-remote-secret-"+target, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Data[target]
}

// readerTokens reads the token of every pair's reader account, keyed holder→target.
func readerTokens(ctx context.Context, t *testing.T, cs []*testenv.Cluster) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, target := range cs {
		for _, holder := range cs {
			if holder == target {
				continue
			}
			s, err := target.Client().CoreV1().Secrets("istio-system").Get(ctx, federation.ReaderTokenSecret(holder.Name), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			out[holder.Name+"→"+target.Name] = string(s.Data[corev1.ServiceAccountTokenKey])
		}
	}
	return out
}

// checkReader lists, with a remote secret's credentials, what istiod watches in a peer, and
// checks that the credentials cannot write.
func checkReader(ctx context.Context, t *testing.T, k kubernetes.Interface, pair string) {
	t.Helper()
	lists := map[string]func() error{
		"services": func() error { _, err := k.CoreV1().Services("").List(ctx, metav1.ListOptions{Limit: 1}); return err },
		"endpointslices": func() error {
			_, err := k.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{Limit: 1})
			return err
		},
		"endpoints":   func() error { _, err := k.CoreV1().Endpoints("").List(ctx, metav1.ListOptions{Limit: 1}); return err },
		"pods":        func() error { _, err := k.CoreV1().Pods("").List(ctx, metav1.ListOptions{Limit: 1}); return err },
		"namespaces":  func() error { _, err := k.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1}); return err },
		"nodes":       func() error { _, err := k.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1}); return err },
		"secrets":     func() error { _, err := k.CoreV1().Secrets("").List(ctx, metav1.ListOptions{Limit: 1}); return err },
		"replicasets": func() error { _, err := k.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{Limit: 1}); return err },
		"customresourcedefinitions": func() error {
			return k.Discovery().RESTClient().Get().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").Do(ctx).Error()
		},
	}
	for what, list := range lists {
		if err := list(); err != nil {
			t.Errorf("%s: list %s: %v", pair, what, err)
		}
	}
	_, err := k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "should-not-exist"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: creating a namespace: err = %v, want Forbidden", pair, err)
	}
}

// checkReaderAccess asks the API server, as a remote secret's account, what the account may do:
// exactly the reads istiod needs, and no writes or exec. Secrets are readable: istiod of the 1.31
// line does not report a peer synced without them (federation.ReaderRules).
func checkReaderAccess(ctx context.Context, t *testing.T, k kubernetes.Interface, pair string) {
	t.Helper()
	type attr = authorizationv1.ResourceAttributes
	allowed := []attr{}
	for _, verb := range []string{"get", "list", "watch"} {
		for _, a := range []attr{
			{Resource: "services"}, {Resource: "endpoints"}, {Resource: "pods"}, {Resource: "namespaces"}, {Resource: "nodes"},
			{Resource: "configmaps", Namespace: "istio-system"}, {Resource: "secrets"},
			{Group: "discovery.k8s.io", Resource: "endpointslices"},
			{Group: "networking.istio.io", Resource: "serviceentries"},
			{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
		} {
			a.Verb = verb
			allowed = append(allowed, a)
		}
	}
	refused := []attr{
		{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "apps"},
		{Verb: "get", Resource: "pods", Subresource: "exec", Namespace: "apps"},
		{Verb: "create", Resource: "pods", Subresource: "portforward", Namespace: "apps"},
		{Verb: "get", Resource: "pods", Subresource: "log", Namespace: "apps"},
		{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "istio-system"},
		{Verb: "impersonate", Resource: "serviceaccounts"},
		{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"},
		{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"},
		{Verb: "create", Group: "multicluster.x-k8s.io", Resource: "serviceexports", Namespace: "apps"},
		{Verb: "delete", Group: "multicluster.x-k8s.io", Resource: "serviceexports", Namespace: "apps"},
		{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
	}
	for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection"} {
		for _, a := range []attr{
			{Resource: "services", Namespace: "apps"}, {Resource: "pods", Namespace: "apps"}, {Resource: "namespaces"},
			{Resource: "configmaps", Namespace: "istio-system"}, {Resource: "secrets", Namespace: "istio-system"},
			{Resource: "serviceaccounts", Namespace: "istio-system"}, {Group: "discovery.k8s.io", Resource: "endpointslices", Namespace: "apps"},
			{Group: "networking.istio.io", Resource: "serviceentries", Namespace: "apps"},
			{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
			{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
		} {
			a.Verb = verb
			refused = append(refused, a)
		}
	}
	ask := func(a attr) bool {
		r, err := k.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &a}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: SelfSubjectAccessReview: %v", pair, err)
		}
		return r.Status.Allowed
	}
	for _, a := range allowed {
		if !ask(a) {
			t.Errorf("%s: %s %s/%s in %q refused, want allowed", pair, a.Verb, a.Group, a.Resource, a.Namespace)
		}
	}
	for _, a := range refused {
		if ask(a) {
			t.Errorf("%s: %s %s/%s/%s in %q allowed, want refused", pair, a.Verb, a.Group, a.Resource, a.Subresource, a.Namespace)
		}
	}
	// The whole set of rules in a namespace: reads only.
	rr, err := k.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
		Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "istio-system"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("%s: SelfSubjectRulesReview: %v", pair, err)
	}
	for _, rule := range rr.Status.ResourceRules {
		// The API server grants every authenticated user these reviews (system:basic-user).
		if slices.Equal(rule.Verbs, []string{"create"}) && len(rule.APIGroups) == 1 &&
			(rule.APIGroups[0] == "authorization.k8s.io" || rule.APIGroups[0] == "authentication.k8s.io") &&
			slices.ContainsFunc(rule.Resources, func(r string) bool { return strings.HasPrefix(r, "self") }) {
			continue
		}
		for _, v := range rule.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("%s: rule %+v grants %s, want reads only", pair, rule, v)
			}
		}
		if slices.Contains(rule.Resources, "*") && slices.Contains(rule.APIGroups, "") {
			t.Errorf("%s: rule %+v reaches every core resource", pair, rule)
		}
	}
}
