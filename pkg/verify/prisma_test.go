package verify

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/istiodtest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/vpcfw"
)

// addonsSample is samples/addons read with its files, so the model holds the Defender manifest.
func addonsSample(t *testing.T) (*v1alpha1.Federation, *federation.Desired) {
	t.Helper()
	c, err := v1alpha1.CheckFile(fedtest.WithRoot(t, "../../samples/addons/federation.yaml"), v1alpha1.ValidateOptions{})
	if err != nil || c.Err() != nil {
		t.Fatalf("samples/addons: %v %v", err, c.Err())
	}
	d, err := federation.Compile(c.Federation, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Federation, d
}

func modelObject(t *testing.T, cd federation.ClusterDesired, kind string) federation.KubeObject {
	t.Helper()
	for _, o := range cd.Objects {
		if o.Kind == kind && strings.HasPrefix(o.Name, "twistlock") {
			return o
		}
	}
	t.Fatalf("no %s of the Defenders in the model of %s", kind, cd.Name)
	return federation.KubeObject{}
}

func statusesOf(r *Report) string {
	var out []string
	for _, f := range r.Results {
		out = append(out, string(f.Status)+" "+f.Subject+": "+f.Message)
	}
	return strings.Join(out, "\n")
}

// The Defender DaemonSet is judged against the nodes of a real API server: a cordoned node and a
// node with a taint the Defenders do not tolerate need none; a schedulable node without a ready
// Defender fails, naming it; once it runs one, the check passes.
func TestDefendersOnALiveCluster(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	client := cs[0].Client()
	ctx := context.Background()
	f, d := addonsSample(t)
	c3 := d.Clusters[0]
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "twistlock"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(modelObject(t, c3, "DaemonSet").Object, &ds); err != nil {
		t.Fatal(err)
	}
	created, err := client.AppsV1().DaemonSets("twistlock").Create(ctx, &ds, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-cordoned"}, Spec: corev1.NodeSpec{Unschedulable: true}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-gpu"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-preferred"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule}}}},
	}
	for _, n := range nodes {
		// A new node is tainted not-ready until its kubelet reports; these report Ready at once.
		n, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		if n, err = client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeNotReady })
		if _, err := client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runDefender := func(node string) {
		t.Helper()
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "twistlock-defender-" + node, Namespace: "twistlock", Labels: ds.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(created, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "twistlock-defender", Image: "defender"}}},
		}
		p, err := client.CoreV1().Pods("twistlock").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := client.CoreV1().Pods("twistlock").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	env := &Env{Federation: f, Derived: d, Clusters: map[string]*rest.Config{"cluster3": cs[0].RESTConfig()}}
	check := []Check{byID(t, "ASMFED-ADDON-001")}

	runDefender("node-a")
	got := statusesOf(Run(ctx, env, check))
	for _, want := range []string{"failed cluster3/twistlock/twistlock-defender-ds: 2 of 3 schedulable nodes run no ready Defender: node-b, node-preferred", "skipped cluster4"} {
		if !strings.Contains(got, want) {
			t.Errorf("one Defender of three: want %q in\n%s", want, got)
		}
	}
	runDefender("node-b")
	runDefender("node-preferred")
	got = statusesOf(Run(ctx, env, check))
	if want := "ok cluster3/twistlock/twistlock-defender-ds: every one of the 3 schedulable nodes runs a ready Defender"; !strings.Contains(got, want) {
		t.Errorf("a Defender on every schedulable node: want %q in\n%s", want, got)
	}
}

// The Console address is looked up in the live ServiceEntries: the tool's passes, a cluster
// without it fails naming the address, and an egress deny of the firewall fails naming the rule.
func TestConsoleAllowedOnALiveCluster(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	ctx := context.Background()
	if _, err := istiodtest.InstallCRDs(ctx, cs[0].RESTConfig()); err != nil {
		t.Fatal(err)
	}
	f, d := addonsSample(t)
	env := &Env{Federation: f, Derived: d, Clusters: map[string]*rest.Config{"cluster3": cs[0].RESTConfig()}}
	check := []Check{byID(t, "ASMFED-ADDON-002")}
	if _, err := cs[0].Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: federation.IstioNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := statusesOf(Run(ctx, env, check))
	if want := "failed cluster3/us-west1.cloud.twistlock.com: no ServiceEntry in istio-system allows us-west1.cloud.twistlock.com:443"; !strings.Contains(got, want) {
		t.Errorf("without the ServiceEntry: want %q in\n%s", want, got)
	}
	dyn, err := dynamic.NewForConfig(cs[0].RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	var entry federation.KubeObject
	for _, o := range d.Clusters[0].Objects {
		if o.Kind == "ServiceEntry" && o.Name == federation.PrismaConsoleEntry {
			entry = o
		}
	}
	if _, err := dyn.Resource(serviceEntriesGVR).Namespace(federation.IstioNamespace).Create(ctx, &unstructured.Unstructured{Object: entry.Object}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Firewall = []vpcfw.Rule{{Name: "deny-all-egress", Direction: vpcfw.Egress, Priority: 900,
		Denied: []vpcfw.ProtocolPorts{{Protocol: "all"}}, DestinationRanges: []string{"0.0.0.0/0"}}}
	got = statusesOf(Run(ctx, env, check))
	for _, want := range []string{
		"ok cluster3/us-west1.cloud.twistlock.com: ServiceEntry istio-system/asmfed-egress-prisma-console allows us-west1.cloud.twistlock.com:443",
		"failed cluster3/firewall: the nodes of cluster3 cannot reach the Console on tcp:443: denied by deny-all-egress (priority 900)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("with the ServiceEntry and an egress deny: want %q in\n%s", want, got)
		}
	}
	env.Firewall = []vpcfw.Rule{}
	got = statusesOf(Run(ctx, env, check))
	if want := "ok cluster3/firewall: the nodes of cluster3 may open tcp:443 to the internet: the implied allow-egress rule"; !strings.Contains(got, want) {
		t.Errorf("with the implied egress rule: want %q in\n%s", want, got)
	}
}
