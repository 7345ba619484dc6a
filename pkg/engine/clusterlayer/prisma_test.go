package clusterlayer_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// defenderLabel selects the Defenders' pods: the environment leaves them unready until the test
// says otherwise, as a kubelet would until their readiness probe passes.
const defenderLabel = "app=twistlock-defender"

// prismaFiles are the sample's Defender manifest, parsed as validation parses it, and the
// Secrets' data as the files hold it (what the engine reads from tokenFile and manifestFile).
func prismaFiles(t *testing.T) (*v1alpha1.PrismaCloud, map[string]map[string]any) {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "samples", "addons")
	manifest, err := os.ReadFile(filepath.Join(dir, "prisma-defender.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := v1alpha1.ParseDefenderManifest("prisma-defender.yaml", manifest, "twistlock")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	token, err := os.ReadFile(filepath.Join(dir, "prisma-token.txt"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]map[string]any{
		"twistlock/" + federation.PrismaTokenSecret: {federation.PrismaTokenKey: base64.StdEncoding.EncodeToString([]byte(strings.TrimSpace(string(token))))},
	}
	for _, o := range objs {
		if o["kind"] == "Secret" {
			secrets["twistlock/"+o["metadata"].(map[string]any)["name"].(string)] = o["data"].(map[string]any)
		}
	}
	return &v1alpha1.PrismaCloud{ConsoleURL: "https://us-west1.cloud.twistlock.com/us-2-123456", ClusterAddress: "us-west1.cloud.twistlock.com",
		TokenFile: "prisma-token.txt", ManifestFile: "prisma-defender.yaml", Namespace: "twistlock", Manifest: objs}, secrets
}

// withImage is pc with the Defender DaemonSet's image replaced.
func withImage(t *testing.T, pc *v1alpha1.PrismaCloud, image string) *v1alpha1.PrismaCloud {
	t.Helper()
	out := *pc
	out.Manifest = nil
	for _, o := range pc.Manifest {
		o = runtime.DeepCopyJSON(o)
		if o["kind"] == "DaemonSet" {
			containers, _, _ := unstructured.NestedSlice(o, "spec", "template", "spec", "containers")
			containers[0].(map[string]any)["image"] = image
			if err := unstructured.SetNestedSlice(o, containers, "spec", "template", "spec", "containers"); err != nil {
				t.Fatal(err)
			}
		}
		out.Manifest = append(out.Manifest, o)
	}
	return &out
}

// readier marks the Defender pods on the nodes it is told ready, as their kubelets would once
// the readiness probe passes; the others stay running and unready.
type readier struct {
	mu    sync.Mutex
	nodes map[string]bool
}

func (r *readier) set(nodes ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nodes = map[string]bool{}
	for _, n := range nodes {
		r.nodes[n] = true
	}
}

func (r *readier) run(ctx context.Context, t *testing.T, c *testenv.Cluster) {
	for ctx.Err() == nil {
		pods, err := c.Client().CoreV1().Pods("twistlock").List(ctx, metav1.ListOptions{LabelSelector: defenderLabel})
		if err == nil {
			for _, p := range pods.Items {
				r.mu.Lock()
				want := r.nodes[p.Spec.NodeName]
				r.mu.Unlock()
				if want && p.Status.Phase == corev1.PodRunning && !isReady(p) {
					if err := c.SetPodReady(ctx, "twistlock", p.Name, true); err != nil && ctx.Err() == nil {
						t.Logf("set pod %s ready: %v", p.Name, err)
					}
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// The Prisma Cloud Defenders in a cluster whose nodes run pods: apply fills the Secrets from the
// files (the plans show only a hash of them) and waits until every node runs a ready Defender; a
// node whose Defender is not ready keeps apply waiting, and the error names that node and why.
func TestPrismaDefenders(t *testing.T) {
	testenv.RequireWorkloads(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, err := testenv.Start(ctx, testenv.Options{Workloads: true, ProbedPods: defenderLabel, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	cs, err := env.AddClusterSpecs(ctx, testenv.ClusterSpec{Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if err := c.AddNodes(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}}); err != nil {
		t.Fatal(err)
	}
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: map[string]*rest.Config{c.Name: c.RESTConfig()}, root: root}
	pc, secrets := prismaFiles(t)
	d := fx.federation([]string{c.Name}, func(f *v1alpha1.Federation) { f.Spec.Addons.PrismaCloud = pc })
	opts := clusterlayer.Options{AddonSecrets: secrets}
	r := &readier{}
	go r.run(ctx, t, c)
	client := c.Client()

	fx.run("apply waits until every node runs a ready Defender", func(fx *fixture) {
		t := fx.t
		r.set("node-a", "node-b")
		p := fx.plan(ctx, d, opts)
		for _, a := range []string{"k8s:c1/twistlock/DaemonSet/twistlock-defender-ds", "k8s:c1/twistlock/Secret/twistlock-secrets", "k8s:c1/twistlock/Secret/prisma-cloud-token"} {
			if !slices.Contains(changesOf(p.Plan, plan.Create), a) {
				t.Errorf("plan does not create %s", a)
			}
		}
		fx.apply(ctx, p, clusterlayer.ApplyOptions{WaitWorkloads: true, ReadyTimeout: time.Minute})
		// Read at once: apply returned only when the DaemonSet was ready.
		ds, err := client.AppsV1().DaemonSets("twistlock").Get(ctx, "twistlock-defender-ds", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s := ds.Status; s.DesiredNumberScheduled != 2 || s.NumberReady != 2 {
			t.Errorf("apply returned with %d of %d nodes running a ready Defender", s.NumberReady, s.DesiredNumberScheduled)
		}
		if ds.Labels[federation.KubeLabelManagedBy] != federation.ManagedByValue || ds.Labels[federation.KubeLabelFederation] != fedName {
			t.Errorf("DaemonSet labels %v lack the federation's mark", ds.Labels)
		}
		requireNoChanges(t, fx.plan(ctx, d, opts))
	})

	fx.run("the Secrets hold the files' data", func(fx *fixture) {
		t := fx.t
		for key, data := range secrets {
			ns, name, _ := strings.Cut(key, "/")
			s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Data) != len(data) {
				t.Errorf("Secret %s has keys %v, want %d", key, keys(s.Data), len(data))
			}
			for k, v := range data {
				if got := base64.StdEncoding.EncodeToString(s.Data[k]); got != v {
					t.Errorf("Secret %s key %s does not hold the file's value", key, k)
				}
			}
		}
		tok, err := client.CoreV1().Secrets("twistlock").Get(ctx, federation.PrismaTokenSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(tok.Data[federation.PrismaTokenKey]); got != "FAKE-PRISMA-CONSOLE-TOKEN-not-a-real-token" {
			t.Errorf("the token Secret holds %d bytes, not the token of samples/addons/prisma-token.txt", len(got))
		}
	})

	fx.run("a node without a ready Defender keeps apply waiting and is named", func(fx *fixture) {
		t := fx.t
		r.set("node-a")
		if err := client.AppsV1().DaemonSets("twistlock").Delete(ctx, "twistlock-defender-ds", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 30*time.Second, "the Defender pods gone", func() error {
			pods, err := client.CoreV1().Pods("twistlock").List(ctx, metav1.ListOptions{LabelSelector: defenderLabel})
			if err != nil || len(pods.Items) > 0 {
				return fmt.Errorf("%d pods left, %v", len(pods.Items), err)
			}
			return nil
		})
		p := fx.plan(ctx, d, opts)
		if got := changesOf(p.Plan, plan.Create); len(got) != 1 || got[0] != "k8s:c1/twistlock/DaemonSet/twistlock-defender-ds" {
			t.Fatalf("plan creates %v, want the DaemonSet", got)
		}
		start := time.Now()
		rep, err := clusterlayer.Apply(ctx, p, clusterlayer.ApplyOptions{WaitWorkloads: true, ReadyTimeout: 8 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = rep.Err()
		if err == nil {
			t.Fatal("apply succeeded while node-b ran no ready Defender")
		}
		t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
		msg := err.Error()
		for _, want := range []string{
			"timed out after 8s waiting for DaemonSet twistlock-defender-ds in c1 to be ready: 1 of 2 nodes run a ready pod",
			"node node-b: pod twistlock-defender-ds-",
			"container twistlock-defender is running but not ready",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("the error does not say %q", want)
			}
		}
		if strings.Contains(msg, "node node-a") {
			t.Errorf("the error names node-a, whose Defender is ready")
		}
		r.set("node-a", "node-b")
		requireNoChanges(t, fx.plan(ctx, d, opts))
	})

	fx.run("a registry token in the image path shows only as a hash", func(fx *fixture) {
		t := fx.t
		const image = "registry-auth.twistlock.com/tw_%s/twistlock/defender:defender_32_07_123"
		tokens := []string{"CANARYregistrytoken0123456789abcdef", "CANARYregistrytoken9876543210fedcba"}
		for i, tok := range tokens {
			withToken := fx.federation([]string{c.Name}, func(f *v1alpha1.Federation) { f.Spec.Addons.PrismaCloud = withImage(t, pc, fmt.Sprintf(image, tok)) })
			p := fx.plan(ctx, withToken, opts)
			if got := changesOf(p.Plan, plan.Update); len(got) != 1 || got[0] != "k8s:c1/twistlock/DaemonSet/twistlock-defender-ds" {
				t.Fatalf("a new image updates %v, want the DaemonSet", got)
			}
			var text, js strings.Builder
			if err := (plan.TextRenderer{}).Render(&text, p.Plan); err != nil {
				t.Fatal(err)
			}
			if err := (plan.JSONRenderer{}).Render(&js, p.Plan); err != nil {
				t.Fatal(err)
			}
			for _, out := range []string{text.String(), js.String()} {
				if strings.Contains(out, tok) || strings.Contains(out, tokens[0]) {
					t.Errorf("the plan shows the registry token:\n%s", out)
				}
			}
			// The text shortens long values; JSON shows them whole.
			if !strings.Contains(js.String(), "registry-auth.twistlock.com/tw_\u003credacted\u003e/twistlock/defender") &&
				!strings.Contains(js.String(), "registry-auth.twistlock.com/tw_<redacted>/twistlock/defender") {
				t.Errorf("the JSON plan does not show the image with the token redacted:\n%s", js.String())
			}
			if i > 0 && !strings.Contains(text.String(), "registryTokens") {
				t.Errorf("a new token alone is not shown as a change of registryTokens:\n%s", text.String())
			}
			fx.apply(ctx, p, clusterlayer.ApplyOptions{})
			ds, err := client.AppsV1().DaemonSets("twistlock").Get(ctx, "twistlock-defender-ds", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ds.Spec.Template.Spec.Containers[0].Image; got != fmt.Sprintf(image, tok) {
				t.Errorf("the DaemonSet runs an image of %d bytes, not the manifest's", len(got))
			}
			requireNoChanges(t, fx.plan(ctx, withToken, opts))
		}
		fx.log.mu.Lock()
		all := strings.Join(fx.log.outputs, "\n")
		fx.log.mu.Unlock()
		for _, tok := range tokens {
			if strings.Contains(all, tok) {
				t.Errorf("plans or progress show a registry token")
			}
		}
	})

	fx.run("plans show the Secrets' data only as a hash", func(fx *fixture) {
		t := fx.t
		fx.log.mu.Lock()
		all := strings.Join(fx.log.outputs, "\n")
		fx.log.mu.Unlock()
		n := 0
		for key, data := range secrets {
			for k, v := range data {
				raw, err := base64.StdEncoding.DecodeString(v.(string))
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range append([]string{v.(string)}, strings.Split(strings.TrimSpace(string(raw)), "\n")...) {
					if len(s) < 12 || strings.HasPrefix(s, "-----") {
						continue
					}
					n++
					if strings.Contains(all, s) {
						t.Errorf("output shows %s key %s", key, k)
					}
				}
			}
		}
		if !strings.Contains(all, "(sensitive sha256:") || !strings.Contains(all, "k8s:c1/twistlock/Secret/prisma-cloud-token") {
			t.Error("the plans do not show the Secrets with a hash")
		}
		t.Logf("searched %d bytes of plans and progress for %d values", len(all), n)
	})
}
