package federation_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// TestManagedControlPlaneObjects checks, field by field, what a managed control plane gets in a
// cluster instead of what an in-cluster one would: the channel's revision on namespaces and in
// the mesh ConfigMaps' names, the mesh settings in them, the gateways as Deployments to inject,
// and no IstioOperator-only setting left behind.
func TestManagedControlPlaneObjects(t *testing.T) {
	tests := []struct {
		name      string
		channel   string
		mesh      func(m *v1alpha1.Mesh)
		revision  string
		configs   []string // mesh ConfigMaps
		meshYAML  string
		workloads []string // Deployments
		ports     map[string][]int64
	}{
		{name: "regular channel, defaults", channel: "REGULAR", revision: "asm-managed",
			configs:   []string{"istio-asm-managed", "istio-asm-managed-rapid"},
			meshYAML:  "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ntrustDomainAliases: []\n",
			workloads: []string{"istio-ingressgateway"},
			ports:     map[string][]int64{"istio-ingressgateway": {15021, 80, 443}}},
		{name: "no channel is regular", channel: "UNSPECIFIED", revision: "asm-managed",
			configs:   []string{"istio-asm-managed", "istio-asm-managed-rapid"},
			meshYAML:  "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ntrustDomainAliases: []\n",
			workloads: []string{"istio-ingressgateway"}},
		{name: "rapid channel, one ConfigMap", channel: "RAPID", revision: "asm-managed-rapid",
			configs:   []string{"istio-asm-managed-rapid"},
			meshYAML:  "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ntrustDomainAliases: []\n",
			workloads: []string{"istio-ingressgateway"}},
		{name: "stable channel, ALLOW_ANY, no access log, aliases, no ingress, idle egress gateway", channel: "STABLE", revision: "asm-managed-stable",
			mesh: func(m *v1alpha1.Mesh) {
				m.Egress.Mode = v1alpha1.EgressAllowAny
				m.AccessLogging = ptr(false)
				m.TrustDomainAliases = []string{"old.svc.id.goog"}
				m.Ingress.Enabled = ptr(false)
			},
			configs:   []string{"istio-asm-managed-stable", "istio-asm-managed-rapid"},
			meshYAML:  "accessLogFile: \"\"\noutboundTrafficPolicy:\n  mode: ALLOW_ANY\ntrustDomainAliases:\n- old.svc.id.goog\n",
			workloads: nil},
		{name: "egress gateway with nothing to route yet", channel: "REGULAR", revision: "asm-managed",
			mesh:      func(m *v1alpha1.Mesh) { m.Egress.Gateway = true },
			configs:   []string{"istio-asm-managed", "istio-asm-managed-rapid"},
			meshYAML:  "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ntrustDomainAliases: []\n",
			workloads: []string{"istio-egressgateway", "istio-ingressgateway"},
			ports:     map[string][]int64{"istio-egressgateway": {80, 443}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fedtest.Reference().Mesh(func(m *v1alpha1.Mesh) {
				m.ControlPlane = v1alpha1.ControlPlaneManaged
				if tt.mesh != nil {
					tt.mesh(m)
				}
			}).Build()
			f.Spec.Clusters[0].ReleaseChannel = tt.channel
			f.Spec.Namespaces = []v1alpha1.Namespace{{Name: "shop"}}
			v1alpha1.SetDefaults(f)
			if _, errs := v1alpha1.Validate(f, nil, v1alpha1.ValidateOptions{SkipFiles: true}); len(errs) > 0 {
				t.Fatalf("invalid: %v", errs)
			}
			d, err := federation.Compile(f, federation.Facts{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Mesh.Revision != "" || d.Mesh.Hub != "" || d.Mesh.Tag != "" {
				t.Errorf("the mesh pins a release Google picks: revision %q, images %q:%q", d.Mesh.Revision, d.Mesh.Hub, d.Mesh.Tag)
			}
			cd := d.Clusters[0]
			if cd.Revision != tt.revision {
				t.Errorf("cluster revision %q, want %q", cd.Revision, tt.revision)
			}
			var configs, workloads []string
			for _, o := range cd.Objects {
				u := &unstructured.Unstructured{Object: o.Object}
				switch {
				case o.Kind == "Namespace" && o.Name == "shop":
					if got := u.GetLabels()[federation.LabelRevision]; got != tt.revision {
						t.Errorf("namespace shop: istio.io/rev=%q, want %q", got, tt.revision)
					}
				case o.Kind == "Namespace" && o.Name == federation.IstioNamespace:
					if !o.Shared {
						t.Error("istio-system is not shared with the managed control plane")
					}
				case o.Kind == "ConfigMap" && o.Name != federation.ASMOptionsName:
					configs = append(configs, o.Name)
					if !o.Shared || o.Role != federation.RoleMeshConfig {
						t.Errorf("%s: shared %v, role %q", o.Address, o.Shared, o.Role)
					}
					if got, _, _ := unstructured.NestedString(o.Object, "data", federation.MeshConfigKey); got != tt.meshYAML {
						t.Errorf("%s: mesh config\n%s\nwant\n%s", o.Address, got, tt.meshYAML)
					}
				case o.Kind == "Deployment":
					workloads = append(workloads, o.Name)
					tmpl, _, _ := unstructured.NestedMap(o.Object, "spec", "template", "metadata")
					if diff := cmp.Diff(map[string]any{
						"annotations": map[string]any{federation.AnnotationInjectTemplates: "gateway"},
						"labels":      map[string]any{"app": o.Name, "istio": strings.TrimPrefix(o.Name, "istio-"), federation.LabelRevision: tt.revision},
					}, tmpl); diff != "" {
						t.Errorf("%s pod template (-want +got):\n%s", o.Address, diff)
					}
				case o.Kind == "Service" && tt.ports[o.Name] != nil:
					var got []int64
					ps, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
					for _, p := range ps {
						got = append(got, p.(map[string]any)["port"].(int64))
					}
					if !slices.Equal(got, tt.ports[o.Name]) {
						t.Errorf("%s ports %v, want %v", o.Address, got, tt.ports[o.Name])
					}
				case o.Kind == "NetworkPolicy" && o.Name == federation.PolicyIstiod:
					t.Errorf("%s: no istiod runs in a managed cluster", o.Address)
				}
			}
			if diff := cmp.Diff(tt.configs, configs, cmpSorted); diff != "" {
				t.Errorf("mesh ConfigMaps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.workloads, workloads, cmpSorted); diff != "" {
				t.Errorf("gateway Deployments (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpSorted = cmp.Transformer("sorted", func(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
})

func ptr[T any](v T) *T { return &v }
