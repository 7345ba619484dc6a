package clusterlayer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// crd is a minimal CustomResourceDefinition of an Istio kind, as the control plane's manifests
// carry them.
func crd(group, kind, plural string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + "." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"kind": kind, "plural": plural, "singular": strings.ToLower(kind), "listKind": kind + "List"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
}

func controlPlane() []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		crd("security.istio.io", "PeerAuthentication", "peerauthentications"),
		crd("networking.istio.io", "ServiceEntry", "serviceentries"),
		crd("networking.istio.io", "Gateway", "gateways"),
		{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "istiod", "namespace": "istio-system"},
			"spec": map[string]any{"ports": []any{map[string]any{"name": "grpc-xds", "port": int64(15010)}}, "selector": map[string]any{"app": "istiod"}}}},
		{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "istiod", "namespace": "istio-system"},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "istiod"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "istiod"}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "discovery", "image": "docker.io/istio/pilot:1.31.0"}}}}}}},
	}
}

// A rendered control plane is installed CRDs first, mesh policy (mTLS, egress allow-list, ingress
// Gateway with a credential from files) after its CRDs; then the plan is empty; a rule removed from
// the allow-list is pruned; the credential never shows.
func TestInstallAndMeshPolicy(t *testing.T) {
	cs := testenv.Clusters(t, 2)
	ctx := context.Background()
	configs := map[string]*rest.Config{}
	var names []string
	for _, c := range cs {
		configs[c.Name] = c.RESTConfig()
		names = append(names, c.Name)
	}
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.IssueIntermediate("gateway", istio.IntermediateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cred := &clusterlayer.IngressCredential{CertPEM: leaf["cert-chain.pem"], KeyPEM: leaf["ca-key.pem"]}
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: configs, root: root}
	d := fx.federation(names, func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Egress.Allow = []v1alpha1.EgressRule{
			{Name: "google-apis", Hosts: []string{"*.googleapis.com"}, Ports: []v1alpha1.EgressPort{{Number: 443}}},
			{Name: "payments", Hosts: []string{"api.payments.example.com"}, Ports: []v1alpha1.EgressPort{{Number: 443, Protocol: "TLS"}}},
		}
		f.Spec.Mesh.Ingress.TLS = &v1alpha1.IngressTLS{Mode: v1alpha1.TLSSimple, CertFile: "tls.crt", KeyFile: "tls.key"}
		f.Spec.Mesh.Ingress.Hosts = []string{"shop.example.com"}
	})
	manifests := map[string][]*unstructured.Unstructured{}
	for _, n := range names {
		manifests[n] = controlPlane()
	}
	opts := clusterlayer.Options{IngressCredential: cred}
	r := fx.plan(ctx, d, opts, install{manifests: manifests, meshPolicy: true})
	var text bytes.Buffer
	if err := (plan.TextRenderer{}).Render(&text, r.Plan); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"+ k8s:c1/CustomResourceDefinition/gateways.networking.istio.io",
		"+ k8s:c1/istio-system/Deployment/istiod",
		"+ k8s:c1/istio-system/PeerAuthentication/default",
		"+ k8s:c1/istio-system/ServiceEntry/asmfed-egress-google-apis",
		"+ k8s:c2/istio-system/Gateway/asmfed-ingress",
		"+ k8s:c2/istio-system/Secret/" + federation.IngressCredentialSecret,
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	for _, secret := range [][]byte{cred.KeyPEM, []byte(b64(cred.KeyPEM))} {
		if bytes.Contains(text.Bytes(), secret) {
			t.Fatal("the gateway's private key is in the plan")
		}
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})

	dyn, err := dynamic.NewForConfig(configs["c1"])
	if err != nil {
		t.Fatal(err)
	}
	pa, err := dyn.Resource(schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}).Namespace("istio-system").Get(ctx, "default", metav1Get())
	if err != nil {
		t.Fatal(err)
	}
	if mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode"); mode != "STRICT" {
		t.Errorf("mesh-wide mTLS %q, want STRICT", mode)
	}
	gw, err := dyn.Resource(schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}).Namespace("istio-system").Get(ctx, "asmfed-ingress", metav1Get())
	if err != nil {
		t.Fatal(err)
	}
	servers, _, _ := unstructured.NestedSlice(gw.Object, "spec", "servers")
	if got := fmt.Sprint(servers); !strings.Contains(got, "credentialName:"+federation.IngressCredentialSecret) || !strings.Contains(got, "minProtocolVersion:TLSV1_2") {
		t.Errorf("gateway servers: %s", got)
	}

	again := fx.plan(ctx, d, opts, install{manifests: manifests, meshPolicy: true})
	if again.Plan.HasChanges() {
		var b bytes.Buffer
		_ = (plan.TextRenderer{}).Render(&b, again.Plan)
		t.Fatalf("not converged:\n%s", b.String())
	}

	d2 := fx.federation(names, func(f *v1alpha1.Federation) {
		f.Spec.Mesh.Egress.Allow = []v1alpha1.EgressRule{{Name: "google-apis", Hosts: []string{"*.googleapis.com"}, Ports: []v1alpha1.EgressPort{{Number: 443}}}}
		f.Spec.Mesh.Ingress.TLS = &v1alpha1.IngressTLS{Mode: v1alpha1.TLSSimple, CertFile: "tls.crt", KeyFile: "tls.key"}
		f.Spec.Mesh.Ingress.Hosts = []string{"shop.example.com"}
	})
	pruned := fx.plan(ctx, d2, opts, install{manifests: manifests, meshPolicy: true})
	deletes := 0
	for _, c := range pruned.Plan.Changes {
		if c.Action == plan.Delete {
			deletes++
			if !strings.HasSuffix(string(c.Address), "ServiceEntry/asmfed-egress-payments") {
				t.Errorf("unexpected delete %s", c.Address)
			}
		}
	}
	if deletes != 2 {
		t.Errorf("want the payments ServiceEntry pruned in both clusters, got %d deletes", deletes)
	}
	fx.apply(ctx, pruned, clusterlayer.ApplyOptions{})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func metav1Get() metav1.GetOptions { return metav1.GetOptions{} }

// With WaitWorkloads, apply waits for installed Deployments and, on timeout, says why from their
// pods: here a container that cannot pull its image.
func TestWorkloadTimeoutSaysWhy(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	ctx := context.Background()
	c := cs[0]
	configs := map[string]*rest.Config{c.Name: c.RESTConfig()}
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: configs, root: root}
	d := fx.federation([]string{c.Name}, nil)
	// The pod a scheduler and kubelet would have made, stuck pulling its image.
	client := c.Client()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system",
		Labels: map[string]string{federation.KubeLabelManagedBy: federation.ManagedByValue, federation.KubeLabelFederation: fedName}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := client.CoreV1().Pods("istio-system").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "istiod-abc", Labels: map[string]string{"app": "istiod"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot:1.31.0"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "discovery", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason: "ImagePullBackOff", Message: `Back-off pulling image "docker.io/istio/pilot:1.31.0"`}}}}
	if _, err := client.CoreV1().Pods("istio-system").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := fx.plan(ctx, d, clusterlayer.Options{CARoot: root}, install{manifests: map[string][]*unstructured.Unstructured{c.Name: controlPlane()}})
	rep, err := clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{WaitWorkloads: true, ReadyTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprint(rep.Err())
	if !strings.Contains(msg, "Deployment istiod") || !strings.Contains(msg, "pod istiod-abc container discovery: ImagePullBackOff: Back-off pulling image") {
		t.Errorf("the timeout does not say why: %s", msg)
	}
}

// revisioned is a control plane of one revision: what Istio's library renders carries the
// revision in names and the istio.io/rev label.
func revisioned(rev string) []*unstructured.Unstructured {
	name := "istiod-" + rev
	return []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name, "namespace": "istio-system", "labels": map[string]any{"istio.io/rev": rev}},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "istiod", "istio.io/rev": rev}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "istiod", "istio.io/rev": rev}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "discovery", "image": "docker.io/istio/pilot:" + rev}}}}}}},
	}
}

// A new revision is installed beside the old one; the federation's namespaces move to it by
// label; the old one stays while a namespace outside the federation still uses it, and goes with
// the apply after that namespace moves.
func TestRevisionUpgrade(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	ctx := context.Background()
	c := cs[0]
	configs := map[string]*rest.Config{c.Name: c.RESTConfig()}
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: configs, root: root}
	withRev := func(rev string) *federation.Desired {
		return fx.federation([]string{c.Name}, func(f *v1alpha1.Federation) { f.Spec.Mesh.Revision = rev })
	}
	d := withRev("1-31-0")
	fx.apply(ctx, fx.plan(ctx, d, clusterlayer.Options{}, install{manifests: map[string][]*unstructured.Unstructured{c.Name: revisioned("1-31-0")}}), clusterlayer.ApplyOptions{})
	client := c.Client()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy-app", Labels: map[string]string{"istio.io/rev": "1-31-0"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	d = withRev("1-32-0")
	in := install{manifests: map[string][]*unstructured.Unstructured{c.Name: revisioned("1-32-0")}}
	r := fx.plan(ctx, d, clusterlayer.Options{}, in)
	actions := map[string]plan.Action{}
	for _, ch := range r.Plan.Changes {
		actions[string(ch.Address)] = ch.Action
	}
	if actions["k8s:c1/istio-system/Deployment/istiod-1-32-0"] != plan.Create || actions["k8s:c1/Namespace/apps"] != plan.Update {
		t.Errorf("the new revision is not installed beside the old one and the namespace not moved: %v", actions)
	}
	if a, ok := actions["k8s:c1/istio-system/Deployment/istiod-1-31-0"]; ok {
		t.Errorf("the old revision is %s while legacy-app uses it", a)
	}
	if w := strings.Join(r.Plan.Warnings, "\n"); !strings.Contains(w, "revision 1-31-0 stays in c1 while namespaces legacy-app use it") {
		t.Errorf("warnings: %s", w)
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})
	if _, err := client.AppsV1().Deployments("istio-system").Get(ctx, "istiod-1-31-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("the old revision was removed while in use: %v", err)
	}

	ns, err := client.CoreV1().Namespaces().Get(ctx, "legacy-app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Labels["istio.io/rev"] = "1-32-0"
	if _, err := client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = fx.plan(ctx, d, clusterlayer.Options{}, in)
	var deleted []string
	for _, ch := range r.Plan.Changes {
		if ch.Action == plan.Delete {
			deleted = append(deleted, string(ch.Address))
		}
	}
	if len(deleted) != 1 || deleted[0] != "k8s:c1/istio-system/Deployment/istiod-1-31-0" {
		t.Fatalf("once nothing uses it, the old revision goes: deletes %v", deleted)
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})
}

// When the ReplicaSet cannot create pods, the Deployment's conditions say why: here the injection
// webhook that a private control plane cannot reach on 15017.
func TestWorkloadTimeoutNamesTheWebhook(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	ctx := context.Background()
	c := cs[0]
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: map[string]*rest.Config{c.Name: c.RESTConfig()}, root: root}
	d := fx.federation([]string{c.Name}, nil)
	r := fx.plan(ctx, d, clusterlayer.Options{CARoot: root}, install{manifests: map[string][]*unstructured.Unstructured{c.Name: controlPlane()}})
	// What the Deployment controller writes when the ReplicaSet's pod creations are refused.
	failing := func() {
		for i := 0; i < 100; i++ {
			dep, err := c.Client().AppsV1().Deployments("istio-system").Get(ctx, "istiod", metav1.GetOptions{})
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			dep.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate",
				Message: `Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": dial tcp 10.8.0.12:15017: i/o timeout`}}
			if _, err := c.Client().AppsV1().Deployments("istio-system").UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err == nil {
				return
			}
		}
	}
	done := make(chan struct{})
	go func() { failing(); close(done) }()
	rep, err := clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{WaitWorkloads: true, ReadyTimeout: 3 * time.Second})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if msg := fmt.Sprint(rep.Err()); !strings.Contains(msg, "ReplicaFailure: Internal error occurred: failed calling webhook") || !strings.Contains(msg, ":15017: i/o timeout") {
		t.Errorf("the timeout does not name the webhook: %s", msg)
	}
}
