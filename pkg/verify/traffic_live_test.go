package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	utilexec "k8s.io/utils/exec"

	"github.com/asmfed/kubectl-asmfed/internal/kubelettest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// unpullable is an image the test kubelets refuse to pull.
const unpullable = "registry.invalid/app:none"

// trafficWorld is two clusters whose Deployments get pods on a node that runs exec'd commands
// with the echoclient stand-in, and the local servers the stand-in's requests reach.
type trafficWorld struct {
	clients map[string]kubernetes.Interface
	env     *Env

	mu     sync.Mutex
	routes map[string]map[string][]string // cluster → host → addresses
	// unscheduled are the clusters whose echo pods no node takes.
	unscheduled map[string]bool
}

func (w *trafficWorld) schedules(cluster string, p *corev1.Pod) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.HasPrefix(p.Namespace, trafficNamespacePrefix) && !(w.unscheduled[cluster] && p.Labels["app"] == TrafficEcho)
}

func (w *trafficWorld) route(cluster, host string, addrs ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.routes[cluster][host] = addrs
}

func startTrafficWorld(t *testing.T) *trafficWorld {
	t.Helper()
	testenv.Require(t)
	te, err := testenv.Start(context.Background(), testenv.Options{Logf: t.Logf,
		Controllers: append(testenv.DefaultControllers(), "deployment-controller", "replicaset-controller")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := te.Stop(); err != nil {
			t.Errorf("stop local clusters: %v", err)
		}
	})
	cs, err := te.AddClusters(context.Background(), "c1", "c2")
	if err != nil {
		t.Fatal(err)
	}
	standin := filepath.Join(t.TempDir(), "client")
	if out, err := exec.Command("go", "build", "-o", standin, "./testdata/echoclient").CombinedOutput(); err != nil {
		t.Fatalf("build the client stand-in: %v\n%s", err, out)
	}
	f, d := sample(t, "two-cluster-private")
	w := &trafficWorld{clients: map[string]kubernetes.Interface{}, routes: map[string]map[string][]string{}, unscheduled: map[string]bool{}}
	w.env = &Env{Federation: f, Derived: d, Clusters: map[string]*rest.Config{},
		Istiods: func(context.Context, string) ([]Istiod, error) { return []Istiod{{Name: "istiod-1"}}, nil }}
	for i, c := range f.Spec.Clusters {
		name := c.Name
		cfg := cs[i].RESTConfig()
		w.env.Clusters[name] = cfg
		w.clients[name] = cs[i].Client()
		w.routes[name] = map[string][]string{}
		kl := kubelettest.Start(t, cfg, "node-"+name)
		kl.AdoptPods(t, func(p *corev1.Pod) bool { return w.schedules(name, p) }, func(image string) error {
			if image == unpullable {
				return errors.New("dial tcp: lookup registry.invalid: no such host")
			}
			return nil
		})
		kl.HandleExec(func(ctx context.Context, namespace, pod, container string, cmd []string, stdout, stderr io.Writer) error {
			if container != TrafficClient || len(cmd) == 0 || cmd[0] != EchoClientPath {
				return fmt.Errorf("%v: no such file in container %s", cmd, container)
			}
			w.mu.Lock()
			var env []string
			for host, addrs := range w.routes[name] {
				env = append(env, host+"="+strings.Join(addrs, ","))
			}
			w.mu.Unlock()
			run := exec.CommandContext(ctx, standin, cmd[1:]...)
			run.Env = []string{"ECHO_ROUTES=" + strings.Join(env, ";")}
			run.Stdout, run.Stderr = stdout, stderr
			err := run.Run()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return utilexec.CodeExitError{Err: err, Code: exit.ExitCode()}
			}
			return err
		})
	}
	return w
}

// serve answers every request as fn does, on 127.0.0.1, until t ends.
func serve(t *testing.T, fn http.HandlerFunc) string {
	s := httptest.NewServer(fn)
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// closing accepts connections and closes them at once, as a sidecar's BlackHoleCluster does.
func closing(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// silent accepts connections and never answers, as an address whose packets are dropped.
func silent(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// trafficChecks are ASMFED-TRAFFIC-001 to -003, which send requests from the probe's clients.
func trafficChecks(t *testing.T) []Check {
	checks, err := Select(Checks(), []string{"ASMFED-TRAFFIC-00[123]"}, nil)
	if err != nil || len(checks) != 3 {
		t.Fatalf("the traffic checks: %d, %v", len(checks), err)
	}
	return checks
}

// probeNamespaces are the traffic probe's namespaces of a cluster, and whether each is being
// deleted.
func probeNamespaces(t *testing.T, k kubernetes.Interface) map[string]bool {
	t.Helper()
	list, err := k.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: ProbeLabel})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, ns := range list.Items {
		if strings.HasPrefix(ns.Name, trafficNamespacePrefix) {
			out[ns.Name] = ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
		}
	}
	return out
}

func describe(r *Report) string {
	var out []string
	for _, f := range r.Results {
		out = append(out, fmt.Sprintf("%s %s %s: %s", f.Check, f.Subject, f.Status, f.Message))
	}
	return strings.Join(out, "\n")
}

// want checks that the finding of check for subject has status and mentions every text.
func want(t *testing.T, r *Report, check, subject string, status Status, texts ...string) {
	t.Helper()
	for _, f := range r.Results {
		if f.Check != check || f.Subject != subject {
			continue
		}
		if f.Status != status {
			t.Errorf("%s %s: %s %q, want %s", check, subject, f.Status, f.Message, status)
		}
		for _, s := range texts {
			if !strings.Contains(f.Message, s) {
				t.Errorf("%s %s: %q does not mention %q", check, subject, f.Message, s)
			}
		}
		return
	}
	t.Errorf("no finding of %s for %s:\n%s", check, subject, describe(r))
}

// The traffic probes against real API servers: healthy, every check passes, having counted
// answers from both clusters; the probe's namespace is labelled and policed as an application
// namespace, and is deleted afterwards. Broken (each client reaching only its own cluster's echo,
// an unlisted host dropped in one cluster and answered in the other, the allow-listed host
// refused by envoy), each check fails saying how; --keep keeps the probe. An image the nodes
// cannot pull fails with the pods' reasons and events, and the probe is deleted all the same.
func TestTrafficProbesOnLiveClusters(t *testing.T) {
	w := startTrafficWorld(t)
	ctx := context.Background()
	names := []string{"cluster3", "cluster4"}
	echo := map[string]string{}
	for _, n := range names {
		echo[n] = serve(t, func(rw http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(rw, "ServiceVersion=\nServicePort=8080\nCluster=%s\nStatusCode=200\n", n)
		})
	}
	refused := serve(t, func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Server", "envoy")
		rw.WriteHeader(http.StatusBadGateway)
	})
	open := serve(t, func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprintln(rw, "hello from outside") })
	googleapis := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(googleapis.Close)
	dropped := silent(t)
	blackHole := closing(t)

	healthy := func() {
		for _, n := range names {
			w.route(n, "example.com", refused)
			w.route(n, "www.googleapis.com", googleapis.Listener.Addr().String())
		}
	}
	echoHost := func(tp *TrafficProbe) string {
		return fmt.Sprintf("%s.%s.svc.cluster.local", TrafficEcho, tp.state.namespace)
	}

	t.Run("healthy", func(t *testing.T) {
		healthy()
		tp := &TrafficProbe{Requests: 10, Timeout: time.Minute}
		w.env.Traffic = tp
		// The probe's namespace is known once deployed: deploy first, then route its Service.
		st := tp.deployed(ctx, w.env)
		for _, n := range names {
			w.route(n, echoHost(tp), echo["cluster3"], echo["cluster4"])
		}
		if len(st.broken) > 0 {
			t.Fatalf("the probe did not deploy: %+v", st.broken)
		}
		checkProbeObjects(t, w, st.namespace)
		r := Run(ctx, w.env, trafficChecks(t))
		for _, n := range names {
			want(t, r, "ASMFED-TRAFFIC-001", n, OK, "10 of 10 requests answered (cluster3 5, cluster4 5)")
			want(t, r, "ASMFED-TRAFFIC-002", n, OK, "refuses example.com", "HTTP 502 from envoy")
			want(t, r, "ASMFED-TRAFFIC-003", n, OK, "www.googleapis.com:443 answered")
		}
		if kept := tp.Close(ctx); kept != "" {
			t.Errorf("Close without Keep says %q", kept)
		}
		for _, n := range names {
			if got := probeNamespaces(t, w.clients[n]); !got[st.namespace] {
				if _, present := got[st.namespace]; present {
					t.Errorf("%s: namespace %s is not being deleted", n, st.namespace)
				}
			}
		}
	})

	t.Run("broken, kept", func(t *testing.T) {
		healthy()
		w.route("cluster3", "example.com", dropped)
		w.route("cluster4", "example.com", open)
		tp := &TrafficProbe{Requests: 6, Timeout: time.Minute, Keep: true}
		w.env.Traffic = tp
		st := tp.deployed(ctx, w.env)
		for _, n := range names {
			w.route(n, echoHost(tp), echo[n]) // each client reaches only its own cluster
			w.route(n, "www.googleapis.com", blackHole)
		}
		r := Run(ctx, w.env, trafficChecks(t))
		want(t, r, "ASMFED-TRAFFIC-001", "cluster3", Fail, "no answer from cluster4", "6 of 6 requests answered (cluster3 6)")
		want(t, r, "ASMFED-TRAFFIC-001", "cluster4", Fail, "no answer from cluster3")
		want(t, r, "ASMFED-TRAFFIC-002", "cluster3", Fail, "got no answer", "dropped below the sidecar", "Timeout")
		want(t, r, "ASMFED-TRAFFIC-002", "cluster4", Fail, "example.com, outside the allow-list, answered (HTTP 200)")
		want(t, r, "ASMFED-TRAFFIC-003", "cluster3", Fail, "the sidecar refuses the allow-listed www.googleapis.com:443", "BlackHoleCluster")
		kept := tp.Close(ctx)
		if !strings.Contains(kept, st.namespace) || !strings.Contains(kept, "cluster3, cluster4") {
			t.Errorf("Close with Keep says %q", kept)
		}
		for _, n := range names {
			if deleting, ok := probeNamespaces(t, w.clients[n])[st.namespace]; !ok || deleting {
				t.Errorf("%s: --keep did not keep %s (present %v, deleting %v)", n, st.namespace, ok, deleting)
			}
		}
	})

	t.Run("one echo never scheduled", func(t *testing.T) {
		healthy()
		w.mu.Lock()
		w.unscheduled["cluster4"] = true
		w.mu.Unlock()
		defer func() { w.mu.Lock(); delete(w.unscheduled, "cluster4"); w.mu.Unlock() }()
		tp := &TrafficProbe{Requests: 4, Timeout: 8 * time.Second}
		w.env.Traffic = tp
		st := tp.deployed(ctx, w.env)
		for _, n := range names {
			w.route(n, echoHost(tp), echo["cluster3"])
		}
		r := Run(ctx, w.env, trafficChecks(t))
		want(t, r, "ASMFED-TRAFFIC-001", "cluster3", OK, "4 of 4 requests answered (cluster3 4)")
		want(t, r, "ASMFED-TRAFFIC-001", "cluster4", Fail, "did not become Ready within 8s", "pod asmfed-traffic-echo-", "Pending")
		want(t, r, "ASMFED-TRAFFIC-002", "cluster4", OK, "refuses example.com")
		tp.Close(ctx)
		for _, n := range names {
			if deleting, ok := probeNamespaces(t, w.clients[n])[st.namespace]; ok && !deleting {
				t.Errorf("%s: the probe %s was not deleted", n, st.namespace)
			}
		}
	})

	t.Run("never ready", func(t *testing.T) {
		healthy()
		tp := &TrafficProbe{Image: unpullable, Timeout: 8 * time.Second}
		w.env.Traffic = tp
		r := Run(ctx, w.env, trafficChecks(t))
		// The first check says why in full; the others fail for the same cluster and point at it.
		for _, n := range names {
			want(t, r, "ASMFED-TRAFFIC-001", n, Fail, "did not become Ready within 8s", "ErrImagePull", "registry.invalid: no such host",
				`events: pod asmfed-traffic-`, `Failed: Failed to pull image "registry.invalid/app:none"`)
			for _, check := range []string{"ASMFED-TRAFFIC-002", "ASMFED-TRAFFIC-003"} {
				want(t, r, check, n, Fail, "the same failure as ASMFED-TRAFFIC-001 reports for "+n)
			}
		}
		tp.Close(ctx)
		for _, n := range names {
			if deleting, ok := probeNamespaces(t, w.clients[n])[tp.state.namespace]; ok && !deleting {
				t.Errorf("%s: the probe %s was not deleted after the failure", n, tp.state.namespace)
			}
		}
	})
}

// checkProbeObjects: the probe's namespace carries the labels of an application namespace of the
// file and its NetworkPolicies, and the Deployments run the mesh's app image.
func checkProbeObjects(t *testing.T, w *trafficWorld, namespace string) {
	t.Helper()
	ctx := context.Background()
	for _, cd := range w.env.Derived.Clusters {
		k := w.clients[cd.Name]
		ns, err := k.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var appLabels map[string]string
		var appPolicies []string
		for _, o := range cd.Objects {
			if o.Kind == "Namespace" && o.Name == "sample" {
				appLabels = map[string]string{}
				meta, _ := o.Object["metadata"].(map[string]any)
				labels, _ := meta["labels"].(map[string]any)
				for k, v := range labels {
					appLabels[k], _ = v.(string)
				}
			}
			if o.Kind == "NetworkPolicy" && o.Namespace == "sample" {
				appPolicies = append(appPolicies, o.Name)
			}
		}
		for k, v := range appLabels {
			if k == federation.KubeLabelManagedBy || k == federation.KubeLabelFederation || k == corev1.LabelMetadataName {
				if _, has := ns.Labels[k]; has && k != corev1.LabelMetadataName {
					t.Errorf("%s: the probe's namespace carries the ownership label %s", cd.Name, k)
				}
				continue
			}
			if ns.Labels[k] != v {
				t.Errorf("%s: the probe's namespace has %s=%q, an application namespace %q", cd.Name, k, ns.Labels[k], v)
			}
		}
		if ns.Labels[ProbeLabel] != w.env.Federation.Metadata.Name || ns.Labels[federation.LabelRevision] != w.env.Derived.Mesh.Revision {
			t.Errorf("%s: the probe's namespace labels %v", cd.Name, ns.Labels)
		}
		nps, err := k.NetworkingV1().NetworkPolicies(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, np := range nps.Items {
			got = append(got, np.Name)
		}
		slices.Sort(got)
		slices.Sort(appPolicies)
		if len(appPolicies) == 0 || !slices.Equal(got, appPolicies) {
			t.Errorf("%s: the probe's policies %v, an application namespace's %v", cd.Name, got, appPolicies)
		}
		dep, err := k.AppsV1().Deployments(namespace).Get(ctx, TrafficEcho, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := dep.Spec.Template.Spec.Containers[0]
		wantImage := w.env.Derived.Mesh.Hub + "/app:" + w.env.Derived.Mesh.Tag
		if c.Image != wantImage || !slices.Contains(c.Args, "--cluster="+cd.Name) {
			t.Errorf("%s: echo runs %s %v, want %s with --cluster=%s", cd.Name, c.Image, c.Args, wantImage, cd.Name)
		}
		if _, err := k.AppsV1().Deployments(namespace).Get(ctx, TrafficClient, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			t.Errorf("%s: no client Deployment", cd.Name)
		}
	}
}

// Without traffic probes every traffic check is skipped, saying how to turn them on; with an
// in-cluster control plane and no istiod anywhere, they are skipped before anything is deployed.
func TestTrafficChecksSkipped(t *testing.T) {
	f, d := sample(t, "two-cluster-private")
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	noIstiod := func(_ context.Context, c string) ([]Istiod, error) {
		return nil, &NoIstiodError{Cluster: c, Revision: d.Mesh.Revision}
	}
	for _, tt := range []struct {
		name    string
		env     *Env
		want    string
		ingress bool // ASMFED-TRAFFIC-004 too
	}{
		{name: "--skip-traffic", env: &Env{Federation: f, Derived: d, Clusters: map[string]*rest.Config{"cluster3": cfg}, Istiods: noIstiod},
			want: "traffic probes are off (--skip-traffic)", ingress: true},
		{name: "no istiod runs", env: &Env{Federation: f, Derived: d, Clusters: map[string]*rest.Config{"cluster3": cfg}, Istiods: noIstiod, Traffic: &TrafficProbe{}},
			want: "no cluster runs an istiod to inject and configure sidecars and gateways (cluster3: no Running istiod pod of revision", ingress: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checks := trafficChecks(t)
			if tt.ingress {
				checks = append(checks, byID(t, "ASMFED-TRAFFIC-004"))
			}
			r := Run(context.Background(), tt.env, checks)
			if len(r.Results) != len(checks) {
				t.Fatalf("%d findings, want one per check:\n%s", len(r.Results), describe(r))
			}
			for _, f := range r.Results {
				if f.Status != Skipped || !strings.HasPrefix(f.Message, tt.want) {
					t.Errorf("%s: %s %q, want skipped %q", f.Check, f.Status, f.Message, tt.want)
				}
			}
			if tt.env.Traffic != nil {
				if kept := tt.env.Traffic.Close(context.Background()); kept != "" || tt.env.Traffic.state != nil {
					t.Errorf("a probe was deployed: %q %+v", kept, tt.env.Traffic.state)
				}
			}
		})
	}
}
