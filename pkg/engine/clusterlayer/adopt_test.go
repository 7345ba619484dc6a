package clusterlayer_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// What an install script and istioctl create-remote-secret leave in a cluster (istio-system made
// by kubectl create and labelled by kubectl label, a remote secret applied server-side under
// istioctl's field manager, each with a field the federation does not set) is a conflict without
// --adopt and adopted with it, on real API servers. Apply takes the fields of the previous
// managers over: the objects end up carrying the federation's labels, managed by the tool alone,
// with the fields only the previous managers set removed; the inventory lists them, and the next
// plan is empty.
func TestAdoptTakesOverFromPreviousManagers(t *testing.T) {
	cs := testenv.Clusters(t, 2)
	ctx := context.Background()
	fx, names := rootedFixture(t, cs)
	d := fx.federation(names, nil)
	holder, target := cs[0].Name, cs[1].Name
	c1 := fx.client(holder)

	// The script's way: kubectl create namespace, kubectl label.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: federation.IstioNamespace, Labels: map[string]string{"left-by-the-script": "yes"}}}
	if _, err := c1.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	labelPatch := []byte(`{"metadata":{"labels":{"topology.istio.io/network":"old-network"}}}`)
	if _, err := c1.CoreV1().Namespaces().Patch(ctx, federation.IstioNamespace, types.MergePatchType, labelPatch, metav1.PatchOptions{FieldManager: "kubectl-label"}); err != nil {
		t.Fatal(err)
	}
	// The control plane install_asm left, of its own revision.
	old := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod-asm-173-6", Namespace: federation.IstioNamespace,
		Labels: map[string]string{"app": "istiod", federation.LabelRevision: "asm-173-6"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "istiod"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "istiod"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: "gcr.io/gke-release/asm/pilot:1.7.3-asm.6"}}}}}}
	if _, err := c1.AppsV1().Deployments(federation.IstioNamespace).Create(ctx, old, metav1.CreateOptions{FieldManager: "istioctl"}); err != nil {
		t.Fatal(err)
	}
	// istioctl create-remote-secret | kubectl apply --server-side --field-manager istioctl.
	secretName := "istio-remote-secret-" + target
	secret := []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"` + secretName + `","namespace":"istio-system",
		"labels":{"istio/multiCluster":"true"},"annotations":{"networking.istio.io/cluster":"` + target + `","left-by":"istioctl"}},
		"stringData":{"` + target + `":"apiVersion: v1\nkind: Config\n","stale-key":"x"}}`)
	if _, err := c1.CoreV1().Secrets(federation.IstioNamespace).Patch(ctx, secretName, types.ApplyPatchType, secret, metav1.PatchOptions{FieldManager: "istioctl"}); err != nil {
		t.Fatal(err)
	}
	nsAddr := plan.Address("k8s:" + holder + "/Namespace/istio-system")
	secretAddr := plan.Address("k8s:" + holder + "/istio-system/Secret/" + secretName)

	r := fx.plan(ctx, d, clusterlayer.Options{})
	var conflicts []plan.Address
	for _, c := range r.Plan.Conflicts {
		conflicts = append(conflicts, c.Address)
	}
	if !slices.Contains(conflicts, nsAddr) || !slices.Contains(conflicts, secretAddr) {
		t.Fatalf("without adopt: conflicts %v, want %s and %s", conflicts, nsAddr, secretAddr)
	}

	r = fx.plan(ctx, d, clusterlayer.Options{Adopt: true})
	if len(r.Plan.Conflicts) != 0 || r.Plan.Summary.Replace+r.Plan.Summary.Destroy != 0 {
		t.Fatalf("with adopt: %+v, conflicts %v", r.Plan.Summary, r.Plan.Conflicts)
	}
	if !slices.ContainsFunc(r.Plan.Notes, func(n string) bool {
		return strings.Contains(n, "cluster "+holder+" runs Istio revision asm-173-6 (Deployment istio-system/istiod-asm-173-6), installed without the tool")
	}) {
		t.Errorf("the install script's revision is not recognised: notes %v", r.Plan.Notes)
	}
	adopted := changesOf(r.Plan, plan.Adopt)
	if !slices.Equal(adopted, []string{string(nsAddr), string(secretAddr)}) {
		t.Fatalf("adopted %v, want istio-system and the remote secret", adopted)
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})

	gotNS, err := c1.CoreV1().Namespaces().Get(ctx, federation.IstioNamespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gotSecret, err := c1.CoreV1().Secrets(federation.IstioNamespace).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []metav1.Object{gotNS, gotSecret} {
		if o.GetLabels()[federation.KubeLabelFederation] != fedName {
			t.Errorf("%s: labels %v, want the federation's", o.GetName(), o.GetLabels())
		}
		for _, m := range o.GetManagedFields() {
			if m.Subresource == "" && m.Manager != clusterlayer.FieldManager {
				t.Errorf("%s is still managed by %s (%s)", o.GetName(), m.Manager, m.Operation)
			}
		}
	}
	if _, ok := gotNS.Labels["left-by-the-script"]; ok {
		t.Errorf("istio-system keeps a label only the script set: %v", gotNS.Labels)
	}
	if gotNS.Labels["topology.istio.io/network"] == "old-network" {
		t.Errorf("istio-system keeps the script's network label: %v", gotNS.Labels)
	}
	if _, ok := gotSecret.Data["stale-key"]; ok || gotSecret.Annotations["left-by"] != "" {
		t.Errorf("the remote secret keeps what only istioctl set: data keys %v, annotations %v", keys(gotSecret.Data), gotSecret.Annotations)
	}
	if string(gotSecret.Data[target]) == "apiVersion: v1\nkind: Config\n" {
		t.Error("the remote secret's kubeconfig was not rewritten")
	}
	inv, err := c1.CoreV1().ConfigMaps(federation.IstioNamespace).Get(ctx, clusterlayer.InventoryPrefix+fedName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if list := inv.Data[clusterlayer.InventoryKey]; !strings.Contains(list, string(secretAddr)) || !strings.Contains(list, string(nsAddr)) {
		t.Errorf("the inventory does not list the adopted objects:\n%s", list)
	}
	if _, err := c1.AppsV1().Deployments(federation.IstioNamespace).Get(ctx, old.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the old revision's istiod: %v", err)
	}
	requireNoChanges(t, fx.plan(ctx, d, clusterlayer.Options{}))

	// An object that carries another federation's labels is that federation's: --adopt never
	// takes it.
	other := []byte(`{"metadata":{"labels":{"` + federation.KubeLabelFederation + `":"prod"}}}`)
	if _, err := c1.CoreV1().Secrets(federation.IstioNamespace).Patch(ctx, secretName, types.MergePatchType, other, metav1.PatchOptions{FieldManager: "asmfed-prod"}); err != nil {
		t.Fatal(err)
	}
	r = fx.plan(ctx, d, clusterlayer.Options{Adopt: true})
	if len(r.Plan.Conflicts) != 1 || r.Plan.Conflicts[0].Address != secretAddr ||
		!strings.Contains(r.Plan.Conflicts[0].Reason, `carries the ownership mark of federation "prod" and cannot be adopted`) || len(changesOf(r.Plan, plan.Adopt)) != 0 {
		t.Fatalf("another federation's remote secret with adopt: conflicts %+v, adopted %v", r.Plan.Conflicts, changesOf(r.Plan, plan.Adopt))
	}
}
