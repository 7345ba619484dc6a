package clusterlayer_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
)

// A namespace the file no longer lists is deleted with everything in it: the plan's warning names
// what in it the federation does not own (a team's Deployment, Service and ConfigMap, a bare
// pod), and leaves out what goes with its owner (the Deployment's ReplicaSet) or what Kubernetes
// made by itself (the default account, the root CA ConfigMap); an empty namespace says it holds
// nothing else.
func TestDeletedNamespaceNamesWhatItHolds(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	ctx := context.Background()
	c1 := cs[0]
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: map[string]*rest.Config{c1.Name: c1.RESTConfig()}, root: mustRoot(t)}
	fx.apply(ctx, fx.plan(ctx, fx.federation([]string{c1.Name}, nil), clusterlayer.Options{}), clusterlayer.ApplyOptions{})

	client := c1.Client()
	labels := map[string]string{"app": "orders"}
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "apps"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "orders", Image: "orders:1"}}}}}}
	created, err := client.AppsV1().Deployments("apps").Create(ctx, deploy, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Its ReplicaSet, owned by it, as the deployment controller makes it.
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "orders-5d8f", Namespace: "apps",
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(created, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
		Spec: appsv1.ReplicaSetSpec{Selector: deploy.Spec.Selector, Template: deploy.Spec.Template}}
	if _, err := client.AppsV1().ReplicaSets("apps").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ConfigMaps("apps").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orders-config", Namespace: "apps"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("apps").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "debug", Namespace: "apps"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "debug", Image: "busybox"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services("apps").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "apps"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Neither namespace is in the file any more.
	d := fx.federation([]string{c1.Name}, func(f *v1alpha1.Federation) { f.Spec.Namespaces = nil })
	r := fx.plan(ctx, d, clusterlayer.Options{})
	var apps, legacy string
	for _, w := range r.Plan.Warnings {
		switch {
		case strings.HasPrefix(w, "k8s:"+c1.Name+"/Namespace/apps "):
			apps = w
		case strings.HasPrefix(w, "k8s:"+c1.Name+"/Namespace/legacy "):
			legacy = w
		}
	}
	want := "k8s:" + c1.Name + "/Namespace/apps will be deleted with everything in it: it holds what the federation does not own, deleted with it: ConfigMap/orders-config, Deployment/orders, Pod/debug, Service/orders (apply needs --allow-destroy)"
	if apps != want {
		t.Errorf("the apps namespace's warning:\n got %s\nwant %s", apps, want)
	}
	if want := "k8s:" + c1.Name + "/Namespace/legacy will be deleted with everything in it: it holds nothing the federation does not own (apply needs --allow-destroy)"; legacy != want {
		t.Errorf("the empty namespace's warning:\n got %s\nwant %s", legacy, want)
	}
	if slices.ContainsFunc(r.Plan.Warnings, func(w string) bool {
		return strings.Contains(w, "ReplicaSet/") || strings.Contains(w, "EndpointSlice/")
	}) {
		t.Errorf("a warning names an object another owns: %v", r.Plan.Warnings)
	}
}
