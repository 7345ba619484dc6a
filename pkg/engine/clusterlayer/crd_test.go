package clusterlayer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// The ownership adversary on the cluster side: an application team's ServiceEntry lives under the
// federation's ServiceEntry CRD. When the control plane no longer carries that CRD, the plan keeps
// it, says so, and deletes nothing; the API server sees no write to the CRD or the team's object.
// Once the team's object is gone, the next plan prunes the CRD.
func TestCRDWithForeignObjectsIsKept(t *testing.T) {
	cs := testenv.Clusters(t, 2)
	ctx := context.Background()
	configs := map[string]*rest.Config{}
	var names []string
	for _, c := range cs {
		configs[c.Name] = c.RESTConfig()
		names = append(names, c.Name)
	}
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: configs, root: mustRoot(t)}
	d := fx.federation(names, nil)
	full := map[string][]*unstructured.Unstructured{}
	for _, n := range names {
		full[n] = controlPlane()
	}
	fx.apply(ctx, fx.plan(ctx, d, clusterlayer.Options{}, install{manifests: full}), clusterlayer.ApplyOptions{})

	first := names[0]
	dyn, err := dynamic.NewForConfig(configs[first])
	if err != nil {
		t.Fatal(err)
	}
	seGVR := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	const crdName = "serviceentries.networking.istio.io"
	team := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
		"metadata": map[string]any{"name": "payments", "namespace": "default"},
		"spec":     map[string]any{"hosts": []any{"payments.example.com"}},
	}}
	if _, err := dyn.Resource(seGVR).Namespace("default").Create(ctx, team, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Every write the API server makes to the team's object or the CRD from here on is an event.
	audit := func(gvr schema.GroupVersionResource, opts metav1.ListOptions) watch.Interface {
		w, err := dyn.Resource(gvr).Watch(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		return w
	}
	teamWatch := audit(seGVR, metav1.ListOptions{FieldSelector: "metadata.name=payments"})
	crdWatch := audit(crdGVR, metav1.ListOptions{FieldSelector: "metadata.name=" + crdName})
	drain := func(w watch.Interface) []string {
		var out []string
		for {
			select {
			case e := <-w.ResultChan():
				if e.Type != watch.Added { // a watch without a resourceVersion starts with the object as it is
					u, _ := e.Object.(*unstructured.Unstructured)
					out = append(out, string(e.Type)+" "+u.GetName()+" rv "+u.GetResourceVersion())
				}
			case <-time.After(time.Second): // the watch delivers within it; nothing more came
				return out
			}
		}
	}

	// The control plane no longer carries the ServiceEntry CRD.
	without := map[string][]*unstructured.Unstructured{}
	for _, n := range names {
		for _, o := range controlPlane() {
			if o.GetName() != crdName {
				without[n] = append(without[n], o)
			}
		}
	}
	r := fx.plan(ctx, d, clusterlayer.Options{}, install{manifests: without})
	want := "CustomResourceDefinition " + crdName + " stays in " + first + ": 1 serviceentries the federation does not own"
	if !strings.Contains(strings.Join(r.Plan.Warnings, "\n"), want) {
		t.Errorf("no warning %q in %q", want, r.Plan.Warnings)
	}
	deletes := changesOf(r.Plan, plan.Delete)
	for _, a := range deletes {
		if strings.HasPrefix(a, "k8s:"+first+"/") && strings.Contains(a, crdName) {
			t.Errorf("the plan deletes %s, which holds the team's ServiceEntry", a)
		}
	}
	// In the other cluster nothing holds the CRD: it is pruned there.
	if other := "k8s:" + names[1] + "/CustomResourceDefinition/" + crdName; !strings.Contains(strings.Join(deletes, "\n"), other) {
		t.Errorf("the plan does not prune %s, which nothing holds; deletes: %q", other, deletes)
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})
	writes := append(drain(teamWatch), drain(crdWatch)...)
	t.Logf("plan and apply without the CRD: %d writes to the CRD or the team's object", len(writes))
	if len(writes) > 0 {
		t.Errorf("the API server saw writes to what the federation does not own: %q", writes)
	}
	if _, err := dyn.Resource(seGVR).Namespace("default").Get(ctx, "payments", metav1.GetOptions{}); err != nil {
		t.Errorf("the team's ServiceEntry: %v", err)
	}

	// The team's object gone, the CRD still listed in the inventory is pruned.
	if err := dyn.Resource(seGVR).Namespace("default").Delete(ctx, "payments", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r = fx.plan(ctx, d, clusterlayer.Options{}, install{manifests: without})
	if !strings.Contains(strings.Join(changesOf(r.Plan, plan.Delete), "\n"), "k8s:"+first+"/CustomResourceDefinition/"+crdName) {
		t.Errorf("the CRD is not pruned once nothing foreign holds it; deletes: %q", changesOf(r.Plan, plan.Delete))
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})
	// Deleted, or going: the API server removes a CRD once its objects are cleaned up.
	if u, err := dyn.Resource(crdGVR).Get(ctx, crdName, metav1.GetOptions{}); !apierrors.IsNotFound(err) && (err != nil || u.GetDeletionTimestamp() == nil) {
		t.Errorf("the CRD stays after its last foreign object went (err %v)", err)
	}
}

func mustRoot(t testing.TB) *istio.Root {
	t.Helper()
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return root
}
