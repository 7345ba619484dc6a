package clusterlayer_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/istiodtest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// The mesh ConfigMap as Cloud Service Mesh provisions it: comments only, created by the control
// plane's own manager, without the federation's labels.
const provisionedMeshConfig = "\n# This section can be updated with user configuration settings from https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/\n# Some options required for ASM to not be modified will be ignored\n"

// A managed control plane, with the egress gateway: against a real API server, with Istio's own
// CRDs served by the managed control plane only after a while. Istio kinds wait for their CRDs
// (and say what they wait for); the plain Istio resources pass the CRDs' schemas; the mesh
// settings are merged into the ConfigMap the managed control plane created, keeping what others
// wrote there, and that ConfigMap is never pruned; namespaces carry the channel's revision; the
// gateways are Deployments for the managed control plane to inject; apply then plan is empty.
func TestManagedControlPlane(t *testing.T) {
	cs := testenv.Clusters(t, 1)
	ctx := context.Background()
	c1 := cs[0]
	fx := &fixture{log: &outputLog{}, t: t, clusters: cs, configs: map[string]*rest.Config{c1.Name: c1.RESTConfig()}}
	d := fx.federation([]string{c1.Name}, func(f *v1alpha1.Federation) {
		f.Spec.Clusters[0].ReleaseChannel = "STABLE"
		m := &f.Spec.Mesh
		m.ControlPlane = v1alpha1.ControlPlaneManaged
		m.CA = v1alpha1.CA{Mode: v1alpha1.CAManaged}
		m.Egress = v1alpha1.Egress{Gateway: true, Allow: []v1alpha1.EgressRule{
			{Name: "storage", Hosts: []string{"storage.googleapis.com"}, Ports: []v1alpha1.EgressPort{{Number: 443}}},
			{Name: "updates", Hosts: []string{"updates.example.com"}, Ports: []v1alpha1.EgressPort{{Number: 80, Protocol: "HTTP"}}},
			{Name: "db", Hosts: []string{"db.example.com"}, Ports: []v1alpha1.EgressPort{{Number: 5432, Protocol: "TCP"}}, Addresses: []string{"203.0.113.50"}},
		}}
		m.Ingress.Hosts = []string{"shop.example.com"}
		m.Ingress.TLS = &v1alpha1.IngressTLS{Mode: v1alpha1.TLSSimple, CredentialName: "shop-tls"}
	})
	core := c1.Client().CoreV1()
	dyn, err := dynamic.NewForConfig(c1.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	// What the managed control plane made before the tool runs: istio-system and its ConfigMap,
	// which another writer has added settings to.
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: federation.IstioNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stable := federation.MeshConfigName(v1alpha1.ManagedRevisionStable)
	others := provisionedMeshConfig + "defaultConfig:\n  tracing:\n    stackdriver: {}\n"
	if _, err := core.ConfigMaps(federation.IstioNamespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: stable},
		Data:       map[string]string{federation.MeshConfigKey: others, "other": "kept"},
	}, metav1.CreateOptions{FieldManager: "mdp-controller"}); err != nil {
		t.Fatal(err)
	}

	r := fx.plan(ctx, d, clusterlayer.Options{}, install{meshPolicy: true})
	if len(r.Plan.Conflicts) > 0 {
		t.Fatalf("the managed control plane's ConfigMap is a conflict: %+v", r.Plan.Conflicts)
	}
	var text bytes.Buffer
	if err := (plan.TextRenderer{}).Render(&text, r.Plan); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"~ k8s:c1/istio-system/ConfigMap/" + stable,
		"+ k8s:c1/istio-system/ConfigMap/" + federation.MeshConfigName(v1alpha1.ManagedRevisionRapid),
		"+ k8s:c1/istio-system/Deployment/istio-egressgateway",
		"+ k8s:c1/istio-system/Deployment/istio-ingressgateway",
		"+ k8s:c1/istio-system/VirtualService/asmfed-egress-db-example-com",
		"+ k8s:c1/istio-system/DestinationRule/asmfed-egress-gateway",
		"+ k8s:c1/istio-system/Gateway/asmfed-egress-gateway",
		"+ k8s:c1/istio-system/PeerAuthentication/default",
		"+ k8s:c1/apps/NetworkPolicy/" + federation.PolicyManagedControlPlane,
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, text.String())
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// The CRDs are not there yet: the Istio kinds wait for them, and say so.
	rep, err := clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{ReadyTimeout: time.Second, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waited := rep.Err()
	if waited == nil || !strings.Contains(waited.Error(), "timed out after 1s waiting for CustomResourceDefinition virtualservices.networking.istio.io to be established: it does not exist: the control plane installs it (a managed control plane once the fleet has provisioned it)") {
		t.Fatalf("apply without Istio's CRDs: %v", waited)
	}

	// The managed control plane installs Istio's CRDs; the same apply goes through.
	if _, err := istiodtest.InstallCRDs(ctx, c1.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	r = fx.plan(ctx, d, clusterlayer.Options{}, install{meshPolicy: true})
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})
	requireNoChanges(t, fx.plan(ctx, d, clusterlayer.Options{}, install{meshPolicy: true}))

	cm, err := core.ConfigMaps(federation.IstioNamespace).Get(ctx, stable, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantMesh := others + "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ntrustDomainAliases: []\n"
	if got := cm.Data[federation.MeshConfigKey]; got != strings.TrimPrefix(wantMesh, "\n") {
		t.Errorf("mesh config:\n%s\nwant:\n%s", got, wantMesh)
	}
	if cm.Data["other"] != "kept" {
		t.Errorf("another key of the ConfigMap changed: %q", cm.Data["other"])
	}
	ns, err := core.Namespaces().Get(ctx, "apps", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.Labels[federation.LabelRevision]; got != v1alpha1.ManagedRevisionStable {
		t.Errorf("namespace apps: istio.io/rev=%q, want the stable channel's %s", got, v1alpha1.ManagedRevisionStable)
	}
	for _, name := range []string{federation.EgressGatewayName, "istio-ingressgateway"} {
		dep, err := c1.Client().AppsV1().Deployments(federation.IstioNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tmpl := dep.Spec.Template
		if tmpl.Annotations[federation.AnnotationInjectTemplates] != "gateway" || tmpl.Labels[federation.LabelRevision] != v1alpha1.ManagedRevisionStable {
			t.Errorf("Deployment %s: pods annotated %v, labelled %v: want the gateway template of %s", name, tmpl.Annotations, tmpl.Labels, v1alpha1.ManagedRevisionStable)
		}
	}
	egressSvc, err := core.Services(federation.IstioNamespace).Get(ctx, federation.EgressGatewayName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	targets := map[int32]int32{}
	for _, p := range egressSvc.Spec.Ports {
		targets[p.Port] = p.TargetPort.IntVal
	}
	if targets[443] != 8443 || targets[80] != 8080 || targets[5432] != 5432 {
		t.Errorf("egress gateway ports: %v", targets)
	}
	vs, err := dyn.Resource(schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}).
		Namespace(federation.IstioNamespace).Get(ctx, "asmfed-egress-storage-googleapis-com", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "tls"); len(routes) != 2 {
		t.Errorf("VirtualService of storage.googleapis.com: %d TLS routes, want mesh → gateway and gateway → host", len(routes))
	}

	// Someone turns egress back to ALLOW_ANY in the ConfigMap and adds a setting: the plan puts
	// the mode back and keeps the setting.
	cm.Data[federation.MeshConfigKey] = strings.Replace(cm.Data[federation.MeshConfigKey], "REGISTRY_ONLY", "ALLOW_ANY", 1) + "enableTracing: true\n"
	if _, err := core.ConfigMaps(federation.IstioNamespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	r = fx.plan(ctx, d, clusterlayer.Options{}, install{meshPolicy: true})
	if got := changesOf(r.Plan, plan.Update); len(got) != 1 || got[0] != "k8s:c1/istio-system/ConfigMap/"+stable {
		t.Fatalf("updates after the edit: %v", got)
	}
	fx.apply(ctx, r, clusterlayer.ApplyOptions{})
	cm, err = core.ConfigMaps(federation.IstioNamespace).Get(ctx, stable, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mesh := cm.Data[federation.MeshConfigKey]; !strings.Contains(mesh, "mode: REGISTRY_ONLY") || !strings.Contains(mesh, "enableTracing: true") {
		t.Errorf("mesh config after the edit and apply:\n%s", mesh)
	}

	// The federation leaves the managed control plane: the tool's own objects go, the control
	// plane's ConfigMaps stay.
	inCluster := fx.federation([]string{c1.Name}, func(f *v1alpha1.Federation) { f.Spec.Mesh.CA = v1alpha1.CA{Mode: v1alpha1.CAManaged} })
	r = fx.plan(ctx, inCluster, clusterlayer.Options{}, install{meshPolicy: true})
	deleted := changesOf(r.Plan, plan.Delete)
	for _, a := range deleted {
		if strings.Contains(a, "/ConfigMap/istio-asm-managed") {
			t.Errorf("the plan deletes the managed control plane's %s", a)
		}
	}
	for _, want := range []string{"k8s:c1/istio-system/Deployment/istio-egressgateway", "k8s:c1/apps/NetworkPolicy/" + federation.PolicyManagedControlPlane} {
		if !strings.Contains(strings.Join(deleted, "\n"), want) {
			t.Errorf("the plan does not delete %s: %v", want, deleted)
		}
	}
}
