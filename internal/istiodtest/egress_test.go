package istiodtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/istiodtest"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
)

// TestMeshPolicyThroughIstiod applies the mesh policy of a federation that routes its allow-list
// (TLS, HTTP and TCP destinations) through the egress gateway, and asks a real istiod about it:
// its validation webhook accepts every Istio object the federation derives and refuses a broken
// one, and its config store (/debug/configz) holds each of them with the spec as written, so no
// field was dropped on the way.
func TestMeshPolicyThroughIstiod(t *testing.T) {
	istiodtest.Require(t)
	cs := testenv.Clusters(t, 1)
	c := cs[0]
	ctx := context.Background()
	if _, err := istiodtest.InstallCRDs(ctx, c.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	f := fedtest.New("mesh").FleetProject("fleet-project", 123456).
		Cluster(fedtest.Cluster(c.Name).Ranges("10.10.0.0/24", "10.100.0.0/16", "172.16.0.0/24", "192.168.0.0/28")).
		Mesh(func(m *v1alpha1.Mesh) {
			m.Egress = v1alpha1.Egress{Gateway: true, Allow: []v1alpha1.EgressRule{
				{Name: "google", Hosts: []string{"storage.googleapis.com", "sqladmin.googleapis.com"}, Ports: []v1alpha1.EgressPort{{Number: 443}}},
				{Name: "updates", Hosts: []string{"updates.example.com"}, Ports: []v1alpha1.EgressPort{{Number: 80, Protocol: "HTTP"}, {Number: 443}}},
				{Name: "db", Hosts: []string{"db.example.com"}, Ports: []v1alpha1.EgressPort{{Number: 5432, Protocol: "TCP"}}, Addresses: []string{"203.0.113.50"}},
			}}
			m.Ingress.Hosts = []string{"shop.example.com"}
			m.Ingress.TLS = &v1alpha1.IngressTLS{Mode: v1alpha1.TLSSimple, CredentialName: "shop-tls"}
		}).Build()
	f.Spec.Namespaces = []v1alpha1.Namespace{{Name: "shop"}}
	v1alpha1.SetDefaults(f)
	if _, errs := v1alpha1.Validate(f, nil, v1alpha1.ValidateOptions{SkipFiles: true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	d, err := federation.Compile(f, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := istio.NewRoot(istio.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := clusterlayer.Plan(ctx, map[string]*rest.Config{c.Name: c.RESTConfig()}, d, clusterlayer.Options{CARoot: root})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := clusterlayer.Apply(ctx, r, clusterlayer.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	var istioObjects []federation.KubeObject
	for _, o := range d.Clusters[0].Objects {
		if _, ok := federation.CRDOf[o.Kind]; ok {
			istioObjects = append(istioObjects, o)
		}
	}
	kinds := map[string]int{}
	for _, o := range istioObjects {
		kinds[o.Kind]++
	}
	// A Gateway per gateway, a VirtualService per host, a DestinationRule, a ServiceEntry per rule
	// and the metadata server's, and mesh-wide mTLS.
	if diff := cmp.Diff(map[string]int{"Gateway": 2, "VirtualService": 4, "DestinationRule": 1, "ServiceEntry": 4, "PeerAuthentication": 1}, kinds); diff != "" {
		t.Fatalf("Istio objects of the federation (-want +got):\n%s", diff)
	}

	// The egress gateway as the control plane would run it: its Service, serving the allow-listed
	// ports, and a pod (no kubelet runs it; its address is what istiod knows it by).
	gatewayPod := egressGatewayPod(t, ctx, c, f.Spec.Mesh.Egress.Allow)

	i := istiodtest.StartT(t, cs, istiodtest.Options{Revision: d.Mesh.Revision, MeshConfig: "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"})[0]

	t.Run("the validation webhook accepts every object", func(t *testing.T) {
		for _, o := range istioObjects {
			v, err := i.Validate(ctx, &unstructured.Unstructured{Object: o.Object})
			if err != nil {
				t.Fatal(err)
			}
			if !v.Allowed || len(v.Warnings) > 0 {
				t.Errorf("%s: allowed %v, %q, warnings %q", o.Address, v.Allowed, v.Message, v.Warnings)
			}
		}
	})

	t.Run("the validation webhook refuses a broken route", func(t *testing.T) {
		var vs *unstructured.Unstructured
		for _, o := range istioObjects {
			if o.Kind == "VirtualService" && o.Name == "asmfed-egress-storage-googleapis-com" {
				vs = (&unstructured.Unstructured{Object: o.Object}).DeepCopy()
				break
			}
		}
		// A TLS route without a match is what a sidecar could not apply.
		routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "tls")
		route := routes[0].(map[string]any)
		delete(route, "match")
		if err := unstructured.SetNestedSlice(vs.Object, routes, "spec", "tls"); err != nil {
			t.Fatal(err)
		}
		v, err := i.Validate(ctx, vs)
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed || !strings.Contains(v.Message, "TLS route must have at least one match condition") {
			t.Errorf("broken VirtualService: allowed %v, %q", v.Allowed, v.Message)
		}
	})

	// What the proxies do with it, from the configuration istiod sends them over xDS.
	viaGateway := func(host string, port int) string {
		return fmt.Sprintf("outbound|%d|%s|%s", port, v1alpha1.EgressRuleName(host), federation.EgressGatewayHost)
	}
	direct := func(host string, port int) string { return fmt.Sprintf("outbound|%d||%s", port, host) }
	t.Run("a sidecar sends the allow-list to the egress gateway", func(t *testing.T) {
		cfg, err := i.Config(ctx, istiodtest.Proxy{Type: "sidecar", IP: "10.100.0.10", Pod: "web-0", Namespace: "shop", Labels: map[string]string{"app": "web"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"storage.googleapis.com", "sqladmin.googleapis.com", "updates.example.com"} {
			if got, want := cfg.TCPDestination("0.0.0.0_443", h), viaGateway(h, 443); got != want {
				t.Errorf("TLS for %s goes to %q, want %q\n%s", h, got, want, cfg.Describe("0.0.0.0_443"))
			}
		}
		if got, want := cfg.HTTPDestination("80", "updates.example.com"), viaGateway("updates.example.com", 80); got != want {
			t.Errorf("HTTP for updates.example.com goes to %q, want %q (routes %v)", got, want, keys(cfg.Routes))
		}
		if got, want := cfg.TCPDestination("203.0.113.50_5432", ""), viaGateway("db.example.com", 5432); got != want {
			t.Errorf("TCP for db.example.com goes to %q, want %q\n%s", got, want, cfg.Describe("203.0.113.50_5432"))
		}
		for _, c := range []string{viaGateway("storage.googleapis.com", 443), viaGateway("db.example.com", 5432)} {
			if cfg.Clusters[c] == nil {
				t.Errorf("no cluster %s", c)
			}
		}
	})

	t.Run("the egress gateway sends it to the hosts", func(t *testing.T) {
		cfg, err := i.Config(ctx, istiodtest.Proxy{Type: "router", IP: gatewayPod.Status.PodIP, Pod: gatewayPod.Name, Namespace: gatewayPod.Namespace, Labels: gatewayPod.Labels})
		if err != nil {
			t.Fatal(err)
		}
		// The listeners are on the ports the gateway's pods listen on, which the
		// NetworkPolicies let the application pods reach.
		for _, h := range []string{"storage.googleapis.com", "sqladmin.googleapis.com", "updates.example.com"} {
			if got, want := cfg.TCPDestination("0.0.0.0_8443", h), direct(h, 443); got != want {
				t.Errorf("TLS for %s goes to %q, want %q\n%s", h, got, want, cfg.Describe("0.0.0.0_8443"))
			}
		}
		if got, want := cfg.TCPDestination("0.0.0.0_5432", ""), direct("db.example.com", 5432); got != want {
			t.Errorf("TCP for db.example.com goes to %q, want %q\n%s", got, want, cfg.Describe("0.0.0.0_5432"))
		}
		if got, want := cfg.HTTPDestination("http.8080", "updates.example.com"), direct("updates.example.com", 80); got != want {
			t.Errorf("HTTP for updates.example.com goes to %q, want %q (routes %v)", got, want, keys(cfg.Routes))
		}
	})

	t.Run("istiod holds every object as written", func(t *testing.T) {
		var held []map[string]any
		deadline := time.Now().Add(30 * time.Second)
		var missing []string
		for {
			body, err := i.Get(ctx, "/debug/configz")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(body, &held); err != nil {
				t.Fatal(err)
			}
			missing = missing[:0]
			for _, o := range istioObjects {
				if find(held, o) == nil {
					missing = append(missing, string(o.Address))
				}
			}
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(missing) > 0 {
			t.Fatalf("istiod does not hold %v", missing)
		}
		for _, o := range istioObjects {
			if diff := cmp.Diff(withoutEnumZeros(normal(t, o.Object["spec"])), normal(t, find(held, o)["spec"])); diff != "" {
				t.Errorf("%s: istiod holds another spec (-written +held):\n%s", o.Address, diff)
			}
		}
	})
}

// find is the object of configz with o's kind, namespace and name.
func find(held []map[string]any, o federation.KubeObject) map[string]any {
	for _, h := range held {
		u := unstructured.Unstructured{Object: h}
		if u.GetKind() == o.Kind && u.GetNamespace() == o.Namespace && u.GetName() == o.Name {
			return h
		}
	}
	return nil
}

// enumZeros are the values of enum fields at zero in the kinds the federation writes
// (ServiceEntry.location, ServerTLSSettings.mode, ServiceEntry.resolution), which istiod's proto
// JSON leaves out.
var enumZeros = map[string]bool{"MESH_EXTERNAL": true, "PASSTHROUGH": true, "NONE": true}

// withoutEnumZeros drops the fields of v that hold an enum's zero value.
func withoutEnumZeros(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if s, ok := e.(string); ok && enumZeros[s] {
				continue
			}
			out[k] = withoutEnumZeros(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutEnumZeros(e)
		}
		return out
	}
	return v
}

// normal is v as JSON reads it back, so that numbers compare as numbers.
func normal(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", data, err))
	}
	return out
}

// egressGatewayPod creates the egress gateway's Service, serving the allow-list's ports as the
// rendered gateway does, and a pod it selects, with an address.
func egressGatewayPod(t *testing.T, ctx context.Context, c *testenv.Cluster, allow []v1alpha1.EgressRule) *corev1.Pod {
	t.Helper()
	labels := map[string]string{"app": federation.EgressGatewayName}
	for k, v := range federation.EgressGatewaySelector {
		labels[k] = v
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: federation.EgressGatewayName, Namespace: federation.IstioNamespace}, Spec: corev1.ServiceSpec{Selector: labels}}
	for _, p := range federation.EgressGatewayPorts(allow) {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: p.Name, Port: p.Port, TargetPort: intstr.FromInt32(p.TargetPort)})
	}
	core := c.Client().CoreV1()
	if _, err := core.Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: federation.EgressGatewayName + "-0", Namespace: federation.IstioNamespace, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "proxyv2"}}}}
	made, err := core.Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	made.Status.Phase = corev1.PodRunning
	made.Status.PodIP = "10.100.0.40"
	made.Status.PodIPs = []corev1.PodIP{{IP: made.Status.PodIP}}
	made, err = core.Pods(pod.Namespace).UpdateStatus(ctx, made, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return made
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
