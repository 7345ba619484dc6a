// Package resume proves invariant 2 of docs/design.md against a process kill: the real plugin
// binary applies the two-cluster sample against the simulator (clusters backed by real local API
// servers), is killed with SIGKILL while a chosen kind of step is under way, and a second apply
// must reach exactly what a clean apply reaches, saying what it resumed.
package resume

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/testutil"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/sandbox"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
)

const (
	federationName = "asm-sample"
	// hold is how long a held operation runs on the simulator's clock: far longer than the test,
	// so that the kill lands while it runs; the test moves the clock past it to let it finish.
	hold = 24 * time.Hour
)

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildPlugin builds the plugin once for the test run.
func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubectl-asmfed")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-asmfed")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the plugin: %v\n%s", err, out)
	}
	return bin
}

// world is one simulated Google Cloud whose clusters are real local API servers.
type world struct {
	srv       *gcpfake.Server
	clock     *gcpfake.FakeClock
	kube      *sandbox.KubeBackend
	tokenFile string
	bin       string
	file      string
	home      string
}

// run is one run of the plugin.
type run struct {
	cmd            *exec.Cmd
	stdout, stderr *testutil.SyncBuffer
	done           chan struct{}
	err            error
}

func (w *world) start(t *testing.T, args ...string) *run {
	t.Helper()
	r := &run{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(w.bin, args...)
	r.cmd.Env = []string{
		"HOME=" + w.home,
		"PATH=" + os.Getenv("PATH"),
		"KUBECONFIG=" + filepath.Join(w.home, "kubeconfig"),
		"ASMFED_GCP_ENDPOINT=" + w.srv.URL(),
		sandbox.AccessTokenEnv + "=" + w.tokenFile,
	}
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *run) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// wait waits for the run to end, within d.
func (r *run) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("%v did not finish within %s\nstdout:\n%s\nstderr:\n%s", r.cmd.Args[1:], d, r.stdout, r.stderr)
	}
}

// kill ends the run with SIGKILL: nothing of it runs after this.
func (r *run) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the killed process did not exit within 30s")
	}
}

// until polls cond every 50ms until it holds, failing after d (or when the run ends first).
func until(t *testing.T, d time.Duration, what string, r *run, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if r != nil && r.exited() {
			t.Fatalf("the apply ended before %s: %v\nstdout:\n%s\nstderr:\n%s", what, r.err, r.stdout, r.stderr)
		}
		if time.Now().After(deadline) {
			if r != nil {
				t.Fatalf("no %s within %s\nstderr:\n%s", what, d, r.stderr)
			}
			t.Fatalf("no %s within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newWorld(t *testing.T, kube *sandbox.KubeBackend, tokenFile, bin, file string, lat *gcpfake.Latency) *world {
	t.Helper()
	clock := gcpfake.NewFakeClock(time.Now())
	srv := gcpfake.Start(t, gcpfake.WithClusterBackend(kube), gcpfake.WithClock(clock), gcpfake.WithLatency(lat))
	return &world{srv: srv, clock: clock, kube: kube, tokenFile: tokenFile, bin: bin, file: file, home: t.TempDir()}
}

// answered reports whether the simulator has answered a call to method: the operation it starts
// exists from then on.
func (w *world) answered(method string) bool {
	for _, e := range w.srv.RequestLog() {
		if e.Method == method && e.Code == "OK" {
			return true
		}
	}
	return false
}

// polledSince reports whether any operation was polled after start.
func (w *world) polledSince(start time.Time) bool {
	for _, e := range w.srv.RequestLog() {
		if e.Time.After(start) && strings.Contains(e.Method, "Operation") && strings.Contains(e.Method, "Get") {
			return true
		}
	}
	return false
}

// release stops the local API servers of the world's clusters, so worlds do not add up.
func (w *world) release(t *testing.T, inv inventory) {
	for _, c := range inv.clusterRefs {
		w.kube.Release(c[0], c[1], c[2])
	}
}

func TestKilledApplyResumes(t *testing.T) {
	testenv.Require(t)
	if testing.Short() {
		t.Skip("builds the plugin and starts local clusters")
	}
	bin := buildPlugin(t)
	// A copy of the sample with its plug-in root beside it, as after kubectl asmfed ca init.
	file, err := filepath.Abs(fedtest.WithRoot(t, filepath.Join(repoRoot(t), "samples", "two-cluster-private", "federation.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "access-token")
	kube, err := sandbox.StartKube(context.Background(), filepath.Join(dir, "kube"), tokenFile, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kube.Stop() })

	// The reference: one apply, never interrupted.
	clean := newWorld(t, kube, tokenFile, bin, file, nil)
	r := clean.start(t, "apply", "-f", file, "--auto-approve", "--wait=false")
	r.wait(t, 3*time.Minute)
	if r.err != nil {
		t.Fatalf("clean apply: %v\n%s", r.err, r.stderr)
	}
	want := clean.inventory(t)
	clean.release(t, want)
	cleanClusterCreates := clusterCreates(r.stderr.String())

	tests := []struct {
		name string
		// method is the simulator method whose operation is held while apply is killed; empty
		// for the cluster side.
		method string
	}{
		{name: "apis", method: "ServiceUsage/BatchEnableServices"},
		{name: "network", method: "Networks/Insert"},
		{name: "firewalls", method: "Firewalls/Insert"},
		{name: "clusters and node pools", method: "ClusterManager/CreateCluster"},
		{name: "memberships", method: "GkeHubMembershipService/CreateMembership"},
		{name: "control plane install"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lat := &gcpfake.Latency{Op: map[string]time.Duration{}}
			if tt.method != "" {
				lat.Op[tt.method] = hold
			}
			w := newWorld(t, kube, tokenFile, bin, file, lat)
			var first *run
			if tt.method != "" {
				first = w.start(t, "apply", "-f", file, "--auto-approve", "--wait=false")
				until(t, 2*time.Minute, tt.method+" answered", first, func() bool { return w.answered(tt.method) })
			} else {
				// The sandbox's clusters run no pods, so apply waits for istiod for as long
				// as --timeout allows: the kill lands inside the control-plane install.
				first = w.start(t, "apply", "-f", file, "--auto-approve", "--wait=true", "--timeout=10m")
				until(t, 2*time.Minute, "istiod Deployment applied", first, func() bool { return w.hasIstiod(t) })
			}
			first.kill(t)
			w.srv.SetLatency(nil) // operations started from now on finish at once

			start := time.Now()
			second := w.start(t, "apply", "-f", file, "--auto-approve", "--wait=false")
			if tt.method != "" {
				// The held operation is still running: the second apply must wait for it, not
				// work around it. Let it finish once the second apply waits.
				until(t, 2*time.Minute, "wait by the second apply", second, func() bool {
					return strings.Contains(second.stderr.String(), "Resuming what an earlier apply left running") || w.polledSince(start) || second.exited()
				})
				time.Sleep(500 * time.Millisecond)
				w.clock.Advance(2 * hold)
			}
			second.wait(t, 3*time.Minute)
			if second.err != nil {
				t.Fatalf("second apply: %v\nstdout:\n%s\nstderr:\n%s", second.err, second.stdout, second.stderr)
			}
			if tt.method != "" && !strings.Contains(second.stderr.String(), "Resuming what an earlier apply left running") {
				t.Errorf("the second apply does not say what it resumed:\n%s", second.stderr)
			}
			if n := clusterCreates(second.stderr.String()); tt.method == "" && (n == 0 || n >= cleanClusterCreates) {
				t.Errorf("the second apply created %d objects on the clusters, a clean apply %d: it should carry on where the first stopped\n%s", n, cleanClusterCreates, second.stderr)
			}
			w.clock.Advance(2 * hold) // nothing left running
			// The worlds share one local Kubernetes environment, which knows clusters by
			// project, location and name: the servers of these parallel worlds stay up until
			// the environment stops.
			got := w.inventory(t)
			if diff := cmp.Diff(want.lines, got.lines); diff != "" {
				t.Errorf("inventory after a killed apply and a second one differs from a clean apply (-clean +resumed):\n%s\nsecond apply:\n%s", diff, second.stderr)
			}
			p := w.start(t, "plan", "-f", file, "--detailed-exitcode")
			p.wait(t, time.Minute)
			if p.err != nil {
				t.Errorf("plan after the second apply is not empty: %v\n%s%s", p.err, p.stdout, p.stderr)
			}
		})
	}
}

// clusterCreates counts the objects an apply created on the clusters.
func clusterCreates(stderr string) int {
	n := 0
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "+ k8s:") && strings.HasSuffix(l, ": creating...") {
			n++
		}
	}
	return n
}

// hasIstiod reports whether istiod's Deployment exists on any of the world's clusters.
func (w *world) hasIstiod(t *testing.T) bool {
	for _, cfg := range w.restConfigs(t) {
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			continue
		}
		list, err := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("istio-system").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, d := range list.Items {
			if strings.HasPrefix(d.GetName(), "istiod") {
				return true
			}
		}
	}
	return false
}

func (w *world) clients(t *testing.T) *gcp.Clients {
	t.Helper()
	c, err := gcp.New(context.Background(), gcp.Config{Endpoint: w.srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// restConfigs reaches the running clusters of the world.
func (w *world) restConfigs(t *testing.T) map[string]*rest.Config {
	token, err := os.ReadFile(w.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	cls, err := w.clients(t).Clusters(context.Background(), "asm-multicluster-demo")
	out := map[string]*rest.Config{}
	if err != nil {
		return out
	}
	for _, c := range cls {
		if c.GetEndpoint() == "" {
			continue
		}
		ca, _ := base64.StdEncoding.DecodeString(c.GetMasterAuth().GetClusterCaCertificate())
		host := c.GetEndpoint()
		if !strings.HasPrefix(host, "https://") {
			host = "https://" + host
		}
		out[c.GetName()] = &rest.Config{QPS: 500, Burst: 1000, WarningHandler: rest.NoWarnings{}, Host: host, BearerToken: strings.TrimSpace(string(token)), TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
	}
	return out
}

// inventory is everything a federation left behind, as comparable lines.
type inventory struct {
	lines       []string
	clusterRefs [][3]string
}

// inventory lists, through the official clients, every resource of the sample's projects, and
// on every cluster every object the federation owns. Values that differ between two correct
// runs (ids, times, local endpoints, token contents) are left out.
func (w *world) inventory(t *testing.T) inventory {
	t.Helper()
	ctx := context.Background()
	c := w.clients(t)
	var inv inventory
	add := func(format string, args ...any) { inv.lines = append(inv.lines, fmt.Sprintf(format, args...)) }
	const project = "asm-multicluster-demo"
	must := func(err error) {
		if err != nil {
			t.Fatalf("inventory: %v", err)
		}
	}
	svcs, err := c.EnabledServices(ctx, project)
	must(err)
	add("services %s", strings.Join(sorted(svcs), ","))
	nets, err := c.Networks(ctx, project)
	must(err)
	for _, n := range nets {
		add("network %s %q", n.GetName(), n.GetDescription())
	}
	subs, err := c.Subnetworks(ctx, project)
	must(err)
	for _, s := range subs {
		var ranges []string
		for _, r := range s.GetSecondaryIpRanges() {
			ranges = append(ranges, r.GetRangeName()+"="+r.GetIpCidrRange())
		}
		add("subnetwork %s %s %s %v pga=%t", s.GetRegion()[strings.LastIndex(s.GetRegion(), "/")+1:], s.GetName(), s.GetIpCidrRange(), ranges, s.GetPrivateIpGoogleAccess())
	}
	fws, err := c.Firewalls(ctx, project)
	must(err)
	for _, f := range fws {
		var allowed []string
		for _, a := range f.GetAllowed() {
			allowed = append(allowed, a.GetIPProtocol()+":"+strings.Join(a.GetPorts(), ","))
		}
		add("firewall %s %v %v %v", f.GetName(), sorted(f.GetSourceRanges()), allowed, sorted(f.GetTargetTags()))
	}
	routers, err := c.Routers(ctx, project)
	must(err)
	for _, r := range routers {
		var nats []string
		for _, n := range r.GetNats() {
			nats = append(nats, n.GetName())
		}
		add("router %s %v", r.GetName(), nats)
	}
	cls, err := c.Clusters(ctx, project)
	must(err)
	for _, cl := range cls {
		var mans []string
		for _, b := range cl.GetMasterAuthorizedNetworksConfig().GetCidrBlocks() {
			mans = append(mans, b.GetCidrBlock())
		}
		add("cluster %s/%s %s labels=%v authorized=%v", cl.GetLocation(), cl.GetName(), cl.GetStatus(), cl.GetResourceLabels(), sorted(mans))
		for _, np := range cl.GetNodePools() {
			add("node pool %s/%s %s %s", cl.GetName(), np.GetName(), np.GetStatus(), np.GetConfig().GetImageType())
		}
		inv.clusterRefs = append(inv.clusterRefs, [3]string{project, cl.GetLocation(), cl.GetName()})
	}
	ms, err := c.Memberships(ctx, project)
	must(err)
	for _, m := range ms {
		add("membership %s %s labels=%v", m.GetName(), m.GetState().GetCode(), m.GetLabels())
	}
	pol, err := c.ProjectIAMPolicy(ctx, project)
	must(err)
	for _, b := range pol.GetBindings() {
		add("iam %s %v", b.GetRole(), sorted(b.GetMembers()))
	}
	for name, cfg := range w.restConfigs(t) {
		objs, err := ownedObjects(cfg)
		if err != nil {
			t.Fatalf("inventory of cluster %s: %v", name, err)
		}
		for _, o := range objs {
			add("k8s %s %s", name, o)
		}
	}
	sort.Strings(inv.lines)
	return inv
}

// ownedObjects lists every object on a cluster that carries the federation's label.
func ownedObjects(cfg *rest.Config) ([]string, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, err
	}
	var out []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !contains(r.Verbs, "list") {
				continue
			}
			items, err := dyn.Resource(gv.WithResource(r.Name)).List(context.Background(), metav1.ListOptions{LabelSelector: "asmfed.io/federation=" + federationName})
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", r.Name, err)
			}
			for _, it := range items.Items {
				out = append(out, fmt.Sprintf("%s %s/%s", r.Kind, it.GetNamespace(), it.GetName()))
			}
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
