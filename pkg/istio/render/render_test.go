package render_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
)

var (
	renderOnce sync.Once
	rendered   []render.Cluster
	renderErr  error
)

// renderCustom renders the custom fixture once for every test that reads it.
func renderCustom(t *testing.T) []render.Cluster {
	t.Helper()
	renderOnce.Do(func() {
		rendered, renderErr = (&render.Renderer{}).Render(load(t, "testdata/custom/federation.yaml"))
	})
	if renderErr != nil {
		t.Fatal(renderErr)
	}
	return rendered
}

func find(t *testing.T, ms []render.Manifest, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, m := range ms {
		if m.Object.GetKind() == kind && m.Object.GetName() == name {
			return m.Object
		}
	}
	t.Fatalf("no %s %s among %d objects", kind, name, len(ms))
	return nil
}

func str(t *testing.T, o *unstructured.Unstructured, path ...string) string {
	t.Helper()
	v, ok, err := unstructured.NestedString(o.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s %s: no string at %v (%v)", o.GetKind(), o.GetName(), path, err)
	}
	return v
}

func env(t *testing.T, deploy *unstructured.Unstructured) map[string]string {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	out := map[string]string{}
	for _, c := range containers {
		envs, _, _ := unstructured.NestedSlice(c.(map[string]any), "env")
		for _, e := range envs {
			em := e.(map[string]any)
			if v, ok := em["value"].(string); ok {
				out[em["name"].(string)] = v
			}
		}
	}
	return out
}

func TestRenderedManifests(t *testing.T) {
	clusters := renderCustom(t)
	if len(clusters) != 2 {
		t.Fatalf("%d clusters", len(clusters))
	}
	for _, c := range clusters {
		t.Run(c.Name, func(t *testing.T) {
			ms := c.Manifests
			if k := ms[0].Object.GetKind(); k != "Namespace" {
				t.Errorf("first object is a %s, want the Namespace", k)
			}
			if k := ms[1].Object.GetKind(); k != "CustomResourceDefinition" {
				t.Errorf("second object is a %s, want CRDs", k)
			}
			if got := ms[0].Object.GetLabels()["topology.istio.io/network"]; got != "asm-vpc-3" {
				t.Errorf("namespace network label = %q", got)
			}

			mesh := str(t, find(t, ms, "ConfigMap", "istio-1-31-0"), "data", "mesh")
			for _, want := range []string{"meshId: proj-123456789012", "mode: REGISTRY_ONLY", "trustDomain: asm-multicluster-demo.svc.id.goog", "old-project.svc.id.goog", "accessLogFile: /dev/stdout", "holdApplicationUntilProxyStarts: true"} {
				if !strings.Contains(mesh, want) {
					t.Errorf("mesh config lacks %q:\n%s", want, mesh)
				}
			}

			istiod := find(t, ms, "Deployment", "istiod-1-31-0")
			e := env(t, istiod)
			if e["CLUSTER_ID"] != c.Name || e["REVISION"] != "1-31-0" {
				t.Errorf("istiod env CLUSTER_ID=%q REVISION=%q", e["CLUSTER_ID"], e["REVISION"])
			}
			if got := istiod.GetLabels()["istio.io/rev"]; got != "1-31-0" {
				t.Errorf("istiod istio.io/rev = %q", got)
			}

			gw := find(t, ms, "Deployment", "istio-ingressgateway")
			ge := env(t, gw)
			if ge["ISTIO_META_CLUSTER_ID"] != c.Name || ge["ISTIO_META_NETWORK"] != "asm-vpc-3" || ge["ISTIO_META_MESH_ID"] != "proj-123456789012" {
				t.Errorf("gateway env: cluster %q network %q mesh %q", ge["ISTIO_META_CLUSTER_ID"], ge["ISTIO_META_NETWORK"], ge["ISTIO_META_MESH_ID"])
			}
			if got := gw.GetLabels()["istio.io/rev"]; got != "1-31-0" {
				t.Errorf("gateway istio.io/rev = %q", got)
			}

			svc := find(t, ms, "Service", "istio-ingressgateway")
			wantAnn := map[string]string{"cloud.google.com/load-balancer-type": "Internal", "networking.gke.io/internal-load-balancer-allow-global-access": "true"}
			for k, v := range wantAnn {
				if got := svc.GetAnnotations()[k]; got != v {
					t.Errorf("ingress service annotation %s = %q, want %q", k, got, v)
				}
			}
			ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
			targets := map[string]any{}
			for _, p := range ports {
				pm := p.(map[string]any)
				targets[pm["name"].(string)] = pm["targetPort"]
			}
			if diff := cmp.Diff(map[string]any{"status-port": int64(15021), "http2": int64(8080), "https": int64(8443)}, targets); diff != "" {
				t.Errorf("ingress target ports (-want +got):\n%s", diff)
			}
			find(t, ms, "Deployment", "istio-egressgateway")

			for _, m := range ms {
				y, err := m.YAML()
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(y, "placeholder") {
					t.Errorf("%s %s still holds the placeholder cluster name", m.Object.GetKind(), m.Object.GetName())
				}
				if strings.Contains(y, "registry.istio.io/testing") {
					t.Errorf("%s %s uses Istio's test images", m.Object.GetKind(), m.Object.GetName())
				}
			}
		})
	}
}

// A shared render specialised for a cluster must equal rendering that cluster on its own.
func TestSharedRenderEqualsDirect(t *testing.T) {
	clusters := renderCustom(t)
	c := clusters[1]
	direct, err := (&render.Renderer{}).RenderOne(c.Overlay, "asm-vpc-3")
	if err != nil {
		t.Fatal(err)
	}
	// The objects themselves, so that a value's type (an integer, a string) counts too.
	objects := func(ms []render.Manifest) []map[string]any {
		out := make([]map[string]any, len(ms))
		for i, m := range ms {
			out[i] = m.Object.Object
		}
		return out
	}
	if diff := cmp.Diff(objects(direct), objects(c.Manifests)); diff != "" {
		t.Errorf("shared render differs from a direct one (-direct +shared):\n%s", diff)
	}
}

func TestRenderNeedsMeshID(t *testing.T) {
	in := load(t, "../../../samples/two-cluster-private/federation.yaml")
	_, err := (&render.Renderer{}).Render(in)
	if err == nil || !strings.Contains(err.Error(), "fleetProjectNumber") {
		t.Fatalf("err = %v", err)
	}
}

func TestCheck(t *testing.T) {
	if errs := render.Check(load(t, "testdata/custom/federation.yaml")); len(errs) > 0 {
		t.Errorf("custom fixture: %v", errs)
	}
	if errs := render.Check(load(t, "testdata/bad/federation.yaml")); len(errs) != 6 {
		t.Errorf("bad fixture: %d errors:\n%v", len(errs), errs)
	}
}
