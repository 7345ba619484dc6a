package clusterlayer_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// A federation of two real API servers switches from an in-cluster control plane to a managed
// one and back. To managed: the plan deletes what only an in-cluster istiod reading its peers
// needs (remote secrets, reader accounts, their tokens and bindings, the reader role), which the
// ownership labels make the tool's, and writes multicluster_mode: connected into asm-options of
// each cluster, adding the key to the one Google made and keeping its other keys; an edit of the
// key is put back. Back to in-cluster: the remote secrets and readers return, asm-options (the
// managed control plane's) is left as it is. Every apply is followed by an empty plan.
func TestManagedMultiClusterSwitch(t *testing.T) {
	cs := testenv.Clusters(t, 2)
	ctx := context.Background()
	c1, c2 := cs[0], cs[1]
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: map[string]*rest.Config{c1.Name: c1.RESTConfig(), c2.Name: c2.RESTConfig()}}
	names := []string{c1.Name, c2.Name}
	inCluster := fx.federation(names, func(f *v1alpha1.Federation) { f.Spec.Mesh.CA = v1alpha1.CA{Mode: v1alpha1.CAManaged} })
	managed := fx.federation(names, func(f *v1alpha1.Federation) {
		f.Spec.Mesh.ControlPlane = v1alpha1.ControlPlaneManaged
		f.Spec.Mesh.CA = v1alpha1.CA{Mode: v1alpha1.CAManaged}
	})
	readerObjects := func(holder, target string) []string {
		return []string{
			string(plan.ObjectAddress(holder, federation.IstioNamespace, "Secret", "istio-remote-secret-"+target)),
			string(plan.ObjectAddress(target, "", "ClusterRole", federation.ReaderClusterRole)),
			string(plan.ObjectAddress(target, "", "ClusterRoleBinding", federation.ReaderAccount(holder))),
			string(plan.ObjectAddress(target, federation.IstioNamespace, "ServiceAccount", federation.ReaderAccount(holder))),
			string(plan.ObjectAddress(target, federation.IstioNamespace, "Secret", federation.ReaderTokenSecret(holder))),
		}
	}
	readers := slices.Concat(readerObjects(c1.Name, c2.Name), readerObjects(c2.Name, c1.Name))
	slices.Sort(readers)
	asmOptions := func(cluster string) string {
		return string(plan.ObjectAddress(cluster, federation.IstioNamespace, "ConfigMap", federation.ASMOptionsName))
	}

	fx.apply(ctx, fx.plan(ctx, inCluster, clusterlayer.Options{}), clusterlayer.ApplyOptions{})
	requireNoChanges(t, fx.plan(ctx, inCluster, clusterlayer.Options{}))
	if _, err := c1.Client().CoreV1().Secrets(federation.IstioNamespace).Get(ctx, "istio-remote-secret-"+c2.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("in-cluster: %v", err)
	}

	// The managed control plane made asm-options in c1, with a key of its own.
	if _, err := c1.Client().CoreV1().ConfigMaps(federation.IstioNamespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: federation.ASMOptionsName},
		Data:       map[string]string{"other": "kept"},
	}, metav1.CreateOptions{FieldManager: "mdp-controller"}); err != nil {
		t.Fatal(err)
	}
	r := fx.plan(ctx, managed, clusterlayer.Options{})
	if len(r.Plan.Conflicts) > 0 {
		t.Fatalf("asm-options made by the managed control plane is a conflict: %+v", r.Plan.Conflicts)
	}
	requireAll(t, "to managed, deletes", changesOf(r.Plan, plan.Delete), readers)
	if got := changesOf(r.Plan, plan.Update); !slices.Contains(got, asmOptions(c1.Name)) {
		t.Errorf("to managed, updates %v: want %s", got, asmOptions(c1.Name))
	}
	if got := changesOf(r.Plan, plan.Create); !slices.Contains(got, asmOptions(c2.Name)) {
		t.Errorf("to managed, creates %v: want %s", got, asmOptions(c2.Name))
	}
	for _, c := range r.Plan.Changes {
		if c.Address == plan.Address(asmOptions(c2.Name)) && !strings.Contains(c.Reason, "remote secrets") {
			t.Errorf("%s: reason %q", c.Address, c.Reason)
		}
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})
	requireNoChanges(t, fx.plan(ctx, managed, clusterlayer.Options{}))
	requireASMOptions := func(cluster *testenv.Cluster, want map[string]string) {
		t.Helper()
		cm, err := cluster.Client().CoreV1().ConfigMaps(federation.IstioNamespace).Get(ctx, federation.ASMOptionsName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if cm.Data[k] != v {
				t.Errorf("%s: asm-options data %v, want %s=%s", cluster.Name, cm.Data, k, v)
			}
		}
	}
	requireASMOptions(c1, map[string]string{federation.MultiClusterModeKey: federation.MultiClusterConnected, "other": "kept"})
	requireASMOptions(c2, map[string]string{federation.MultiClusterModeKey: federation.MultiClusterConnected})
	for _, a := range readers {
		ref := strings.Split(strings.TrimPrefix(a, "k8s:"), "/")
		if ref[len(ref)-2] != "Secret" {
			continue
		}
		cluster := fx.cluster(ref[0])
		if _, err := cluster.Client().CoreV1().Secrets(ref[1]).Get(ctx, ref[3], metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s after the switch to managed: %v", a, err)
		}
	}

	// Someone disconnects c2: the plan connects it again.
	cm, err := c2.Client().CoreV1().ConfigMaps(federation.IstioNamespace).Get(ctx, federation.ASMOptionsName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data[federation.MultiClusterModeKey] = "disconnected"
	if _, err := c2.Client().CoreV1().ConfigMaps(federation.IstioNamespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	r = fx.plan(ctx, managed, clusterlayer.Options{})
	if got := changesOf(r.Plan, plan.Update); !slices.Equal(got, []string{asmOptions(c2.Name)}) {
		t.Fatalf("updates after disconnecting c2: %v", got)
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})
	requireASMOptions(c2, map[string]string{federation.MultiClusterModeKey: federation.MultiClusterConnected})

	// Back to in-cluster: the readers return; asm-options stays, the managed control plane's.
	r = fx.plan(ctx, inCluster, clusterlayer.Options{})
	requireAll(t, "back to in-cluster, creates", changesOf(r.Plan, plan.Create), readers)
	for _, a := range changesOf(r.Plan, plan.Delete) {
		if strings.HasSuffix(a, "/ConfigMap/"+federation.ASMOptionsName) {
			t.Errorf("back to in-cluster, deletes %s: it is the managed control plane's", a)
		}
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})
	requireNoChanges(t, fx.plan(ctx, inCluster, clusterlayer.Options{}))
	requireASMOptions(c1, map[string]string{"other": "kept"})
}

// requireAll fails unless got holds every address of want.
func requireAll(t *testing.T, what string, got, want []string) {
	t.Helper()
	for _, a := range want {
		if !slices.Contains(got, a) {
			t.Errorf("%s %s\nwithout %s", what, strings.Join(got, "\n"), a)
		}
	}
}
