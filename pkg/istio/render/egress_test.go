package render_test

import (
	"fmt"
	"net/netip"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
	"github.com/asmfed/kubectl-asmfed/pkg/netpol"
)

// The egress gateway Istio's charts render serves the routing the federation derives for it: the
// Gateway selects its pods, the DestinationRule names its Service, each listener's port is a
// Service port whose target is a port of the pods, and the NetworkPolicies, the federation's and
// the rendered ones (none by default; the chart's own with values.global.networkPolicy), let an
// application pod reach those target ports and the gateway reach the allow-listed hosts, while
// the pod cannot reach the hosts itself.
func TestRenderedEgressGatewayServesTheRouting(t *testing.T) {
	in := load(t, "testdata/custom/federation.yaml")
	c := renderCustom(t)[0]
	cd := in.Desired.Clusters[0]
	overlay := runtime.DeepCopyJSON(c.Overlay)
	if err := unstructured.SetNestedField(overlay, true, "spec", "values", "global", "networkPolicy", "enabled"); err != nil {
		t.Fatal(err)
	}
	chartPolicies, err := (&render.Renderer{}).RenderOne(overlay, cd.Network)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		manifests []render.Manifest
		policies  int // rendered NetworkPolicies, at least
	}{
		{name: "default", manifests: c.Manifests},
		{name: "with the charts' NetworkPolicies", manifests: chartPolicies, policies: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			deploy := &appsv1.Deployment{}
			svc := &corev1.Service{}
			convert(t, find(t, tt.manifests, "Deployment", federation.EgressGatewayName), deploy)
			convert(t, find(t, tt.manifests, "Service", federation.EgressGatewayName), svc)
			podLabels := deploy.Spec.Template.Labels
			containerPorts := map[int32]bool{}
			for _, ctr := range deploy.Spec.Template.Spec.Containers {
				for _, p := range ctr.Ports {
					containerPorts[p.ContainerPort] = true
				}
			}
			target := map[int32]int32{}
			for _, p := range svc.Spec.Ports {
				target[p.Port] = p.TargetPort.IntVal
			}

			cluster := &netpol.Cluster{Namespaces: map[string]map[string]string{}}
			var gw, dr map[string]any
			for _, o := range cd.Objects {
				switch {
				case o.Kind == "NetworkPolicy":
					var np networkingv1.NetworkPolicy
					convert(t, &unstructured.Unstructured{Object: o.Object}, &np)
					cluster.Policies = append(cluster.Policies, np)
				case o.Kind == "Namespace":
					cluster.Namespaces[o.Name] = (&unstructured.Unstructured{Object: o.Object}).GetLabels()
				case o.Kind == "Gateway" && o.Name == federation.EgressGatewayRouting:
					gw = o.Object
				case o.Kind == "DestinationRule":
					dr = o.Object
				}
			}
			rendered := 0
			for _, m := range tt.manifests {
				if m.Object.GetKind() == "NetworkPolicy" {
					var np networkingv1.NetworkPolicy
					convert(t, m.Object, &np)
					cluster.Policies = append(cluster.Policies, np)
					rendered++
				}
			}
			if rendered < tt.policies {
				t.Fatalf("%d rendered NetworkPolicies, want at least %d", rendered, tt.policies)
			}
			if gw == nil || dr == nil {
				t.Fatal("the model has no egress Gateway or DestinationRule")
			}

			selector, _, _ := unstructured.NestedStringMap(gw, "spec", "selector")
			if !labels.SelectorFromSet(selector).Matches(labels.Set(podLabels)) {
				t.Errorf("the Gateway selects %v; the gateway's pods are labelled %v", selector, podLabels)
			}
			if host, _, _ := unstructured.NestedString(dr, "spec", "host"); host != fmt.Sprintf("%s.%s.svc.cluster.local", svc.Name, svc.Namespace) {
				t.Errorf("the DestinationRule's host %s is not the gateway's Service %s/%s", host, svc.Namespace, svc.Name)
			}

			app := netpol.Pod{Namespace: "sample", Labels: map[string]string{"app": "web"}, IP: netip.MustParseAddr("10.185.128.10")}
			gatewayPod := netpol.Pod{Namespace: svc.Namespace, Labels: podLabels, IP: netip.MustParseAddr("10.185.128.40")}
			outside := netpol.Endpoint{IP: netip.MustParseAddr("142.250.1.1")}
			servers, _, _ := unstructured.NestedSlice(gw, "spec", "servers")
			if len(servers) != 3 {
				t.Fatalf("%d listeners, want 80, 443 and 8080", len(servers))
			}
			for _, s := range servers {
				n, _, _ := unstructured.NestedInt64(s.(map[string]any), "port", "number")
				port := int32(n)
				tp, ok := target[port]
				if !ok {
					t.Errorf("listener %d: the gateway's Service has no such port (ports %v)", port, target)
					continue
				}
				if !containerPorts[tp] {
					t.Errorf("listener %d: target port %d is no port of the gateway's pods (%v)", port, tp, containerPorts)
				}
				if v := cluster.Allowed(netpol.Connection{From: app, To: netpol.Endpoint{Pod: &gatewayPod}, Port: tp}); !v.Allowed {
					t.Errorf("listener %d: the application pod cannot reach the gateway on %d: %s", port, tp, v.Reason)
				}
				if v := cluster.Allowed(netpol.Connection{From: gatewayPod, To: outside, Port: port}); !v.Allowed {
					t.Errorf("the gateway cannot reach the hosts on %d: %s", port, v.Reason)
				}
				if v := cluster.Allowed(netpol.Connection{From: app, To: outside, Port: port}); v.Allowed {
					t.Errorf("the application pod reaches the hosts on %d directly: %s", port, v.Reason)
				}
			}
		})
	}
}

func convert(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}
