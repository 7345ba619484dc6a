package clusterlayer_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// TestReadinessTimeoutSaysWhy recreates a namespace that is stuck terminating: apply waits for
// the deletion, then fails naming what holds it.
func TestReadinessTimeoutSaysWhy(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	ctx := context.Background()
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: map[string]*rest.Config{"c1": cs[0].RESTConfig()}}
	d := fx.federation([]string{"c1"}, func(f *v1alpha1.Federation) {
		f.Spec.Mesh.CA = v1alpha1.CA{Mode: v1alpha1.CAManaged}
		f.Spec.Namespaces = []v1alpha1.Namespace{{Name: "apps"}}
	})
	fx.apply(ctx, fx.plan(ctx, d, clusterlayer.Options{}), clusterlayer.ApplyOptions{})

	k := cs[0].Client()
	const finalizer = "example.com/hold"
	if _, err := k.CoreV1().ConfigMaps("apps").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{finalizer}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := k.CoreV1().Namespaces().Delete(ctx, "apps", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = k.CoreV1().ConfigMaps("apps").Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})
	// Wait until the namespace controller reports what holds the namespace.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ns, err := k.CoreV1().Namespaces().Get(ctx, "apps", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprint(ns.Status.Conditions), finalizer) {
			break
		}
	}
	r := fx.plan(ctx, d, clusterlayer.Options{})
	if !slices.Contains(changesOf(r.Plan, plan.Create), "k8s:c1/Namespace/apps") {
		t.Fatalf("plan does not recreate the terminating namespace: %+v", r.Plan.Summary)
	}
	rep, err := clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{ReadyTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = rep.Err()
	if err == nil {
		t.Fatal("apply succeeded while the namespace was terminating")
	}
	t.Logf("apply error: %v", err)
	for _, want := range []string{"timed out after 3s waiting for the deletion of k8s:c1/Namespace/apps to finish: it is being deleted", finalizer} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q", want)
		}
	}
}
