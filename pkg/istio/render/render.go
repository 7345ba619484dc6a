package render

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render/internal/operator"
)

// clusterPlaceholder stands for the cluster name while the manifests of several clusters are
// rendered once. It is a valid DNS label that no real manifest contains.
const clusterPlaceholder = "asmfed-cluster-name-placeholder-c0d3f00d"

// Manifest is one rendered Kubernetes object.
type Manifest struct {
	// Component is Istio's component: Base, Pilot, IngressGateways, EgressGateways, ...
	Component string
	// Object is the object, ready for server-side apply.
	Object *unstructured.Unstructured
}

// YAML returns the object as YAML with sorted keys. It is made on demand: a plan or an apply
// never prints the manifests, and marshalling Istio's CRDs alone took a fifth of a render.
func (m Manifest) YAML() (string, error) {
	y, err := yaml.Marshal(m.Object.Object)
	if err != nil {
		return "", fmt.Errorf("marshal %s %s: %w", m.Object.GetKind(), m.Object.GetName(), err)
	}
	return string(y), nil
}

// Cluster is what is rendered for one cluster.
type Cluster struct {
	// Name is the cluster's name.
	Name string
	// Overlay is the IstioOperator the tool built, with the user overlays merged in.
	Overlay map[string]any
	// Manifests are sorted in apply order: namespace and CRDs first, workloads last.
	Manifests []Manifest
}

// Overlays builds each named cluster's IstioOperator (every cluster when names is empty), with
// the user overlays merged in order. A bad overlay is an error that names its file, line and field.
func Overlays(in Input, names ...string) ([]Cluster, error) {
	if in.Federation.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
		return nil, fmt.Errorf("mesh.controlPlane is managed: Google runs the control plane, so there is no IstioOperator to render")
	}
	users, errs := LoadOverlays(in)
	if len(errs) > 0 {
		return nil, fmt.Errorf("bad overlays:\n%w", errs)
	}
	if len(names) == 0 {
		for _, c := range in.Desired.Clusters {
			names = append(names, c.Name)
		}
	}
	out := make([]Cluster, 0, len(names))
	for _, n := range names {
		c, err := findCluster(in.Desired, n)
		if err != nil {
			return nil, err
		}
		out = append(out, Cluster{Name: n, Overlay: mergeOverlays(clusterOverlay(in, c.IstioClusterName, c.Network), users)})
	}
	return out, nil
}

// Check validates the merged IstioOperator with Istio's own validation (revision, hub and tag
// formats, gateway names, CIDRs, meshConfig semantics), after the strict field check of every
// overlay. It renders nothing, so validate can call it cheaply.
func Check(in Input) v1alpha1.ErrorList {
	if in.Federation.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged || len(in.Desired.Clusters) == 0 {
		_, errs := LoadOverlays(in)
		return errs
	}
	users, errs := LoadOverlays(in)
	if len(errs) > 0 {
		return errs
	}
	c := in.Desired.Clusters[0]
	merged := mergeOverlays(clusterOverlay(in, c.IstioClusterName, c.Network), users)
	at := func(msg string) v1alpha1.Error {
		field := "spec.mesh"
		if len(users) > 0 {
			field = "spec.mesh.overlays"
		}
		return in.Source.Errorf(field, "", "%s", msg)
	}
	file, err := writeTemp(merged)
	if err != nil {
		return v1alpha1.ErrorList{at(err.Error())}
	}
	defer os.Remove(file)
	full, err := operator.MergeInputs([]string{file})
	if err != nil {
		return v1alpha1.ErrorList{at("Istio cannot merge the overlays: " + err.Error())}
	}
	_, verrs := operator.ParseAndValidateIstioOperator(full)
	var out v1alpha1.ErrorList
	seen := map[string]bool{}
	for _, e := range verrs {
		if msg := e.Error(); !seen[msg] { // meshConfig errors come twice: spec and values copies
			seen[msg] = true
			out = append(out, at("Istio rejects the merged IstioOperator: "+msg))
		}
	}
	return out
}

// Renderer renders manifests in process with Istio's operator library and the charts embedded in
// it: no network, no cluster.
type Renderer struct {
	// Warn receives the warnings Istio's charts give (istioctl prints them). Nil drops them.
	Warn func(string)
}

// Render renders the manifests of the named clusters (every cluster when names is empty).
//
// Clusters whose overlays differ only by the cluster name, which is the rule in a federation, share
// one render: it is done once with a placeholder name, and each cluster's manifests are that
// render with the placeholder replaced. Istio's charts are then loaded, templated and parsed once,
// however many clusters there are.
func (r *Renderer) Render(in Input, names ...string) ([]Cluster, error) {
	if in.Desired.Mesh.MeshIDUnresolved {
		return nil, fmt.Errorf("the mesh ID is %s: set spec.fleetProjectNumber or spec.mesh.meshID to render manifests offline", in.Desired.Mesh.MeshID)
	}
	clusters, err := Overlays(in, names...)
	if err != nil {
		return nil, err
	}
	users, _ := LoadOverlays(in) // checked by Overlays
	shared := map[string][]Manifest{}
	for i := range clusters {
		c, _ := findCluster(in.Desired, clusters[i].Name)
		key, err := yaml.Marshal(mergeOverlays(clusterOverlay(in, clusterPlaceholder, c.Network), users))
		if err != nil {
			return nil, err
		}
		tmpl, ok := shared[string(key)]
		if !ok {
			var base map[string]any
			_ = yaml.Unmarshal(key, &base)
			if tmpl, err = r.render(base, c.Network); err != nil {
				return nil, fmt.Errorf("render cluster %s: %w", c.Name, err)
			}
			shared[string(key)] = tmpl
		}
		clusters[i].Manifests = specialize(tmpl, c.IstioClusterName)
	}
	return clusters, nil
}

// RenderOne renders one IstioOperator overlay, without sharing; tests compare it with Render.
func (r *Renderer) RenderOne(overlay map[string]any, network string) ([]Manifest, error) {
	return r.render(overlay, network)
}

func (r *Renderer) render(overlay map[string]any, network string) ([]Manifest, error) {
	file, err := writeTemp(overlay)
	if err != nil {
		return nil, err
	}
	defer os.Remove(file)
	sets, merged, warnings, err := operator.GenerateManifest([]string{file})
	if err != nil {
		return nil, fmt.Errorf("istio: %w", err)
	}
	if r.Warn != nil {
		for _, w := range warnings {
			r.Warn(w.Error())
		}
	}
	ns := merged.GetPathString("metadata.namespace")
	if ns == "" {
		ns = federation.IstioNamespace
	}
	out := []Manifest{namespace(ns, network)}
	for _, s := range sets {
		for _, m := range s.Manifests {
			out = append(out, Manifest{Component: string(s.Component), Object: m.Unstructured})
		}
	}
	sortManifests(out)
	return out, nil
}

// namespace is the Istio namespace, labelled with the network as istioctl install does.
func namespace(name, network string) Manifest {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Namespace",
		"metadata": map[string]any{
			"name":   name,
			"labels": map[string]any{"topology.istio.io/network": network},
		},
	}}
	return Manifest{Component: "Namespace", Object: u}
}

// specialize replaces the placeholder cluster name in every string of the objects, keys
// included; objects that do not mention it are shared.
func specialize(tmpl []Manifest, cluster string) []Manifest {
	out := make([]Manifest, len(tmpl))
	for i, m := range tmpl {
		if !mentions(m.Object.Object, clusterPlaceholder) {
			out[i] = m
			continue
		}
		obj := replaceStrings(m.Object.Object, clusterPlaceholder, cluster).(map[string]any)
		out[i] = Manifest{Component: m.Component, Object: &unstructured.Unstructured{Object: obj}}
	}
	return out
}

// mentions reports whether s occurs in a string or key of v.
func mentions(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, s)
	case map[string]any:
		for k, e := range v {
			if strings.Contains(k, s) || mentions(e, s) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if mentions(e, s) {
				return true
			}
		}
	}
	return false
}

// replaceStrings is a deep copy of v with old replaced by new in every string and key.
func replaceStrings(v any, old, new string) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, old, new)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[strings.ReplaceAll(k, old, new)] = replaceStrings(e, old, new)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = replaceStrings(e, old, new)
		}
		return out
	}
	return v
}

func writeTemp(overlay map[string]any) (string, error) {
	data, err := yaml.Marshal(overlay)
	if err != nil {
		return "", fmt.Errorf("marshal overlay: %w", err)
	}
	f, err := os.CreateTemp("", "asmfed-iop-*.yaml")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

// sortManifests orders objects for apply as istioctl does: namespaces and CRDs first, accounts and
// roles before their bindings, configuration before the workloads that read it.
func sortManifests(ms []Manifest) {
	slices.SortStableFunc(ms, func(a, b Manifest) int {
		if r := cmp.Compare(kindOrder(a.Object), kindOrder(b.Object)); r != 0 {
			return r
		}
		ga, gb := a.Object.GroupVersionKind(), b.Object.GroupVersionKind()
		if r := cmp.Compare(ga.Group, gb.Group); r != 0 {
			return r
		}
		if r := cmp.Compare(ga.Kind, gb.Kind); r != 0 {
			return r
		}
		if r := cmp.Compare(a.Object.GetNamespace(), b.Object.GetNamespace()); r != 0 {
			return r
		}
		return cmp.Compare(a.Object.GetName(), b.Object.GetName())
	})
}

func kindOrder(o *unstructured.Unstructured) int {
	gvk := o.GroupVersionKind()
	switch gvk.Group + "/" + gvk.Kind {
	case "/Namespace":
		return -2000
	case "apiextensions.k8s.io/CustomResourceDefinition":
		return -1000
	case "/ServiceAccount", "rbac.authorization.k8s.io/ClusterRole", "rbac.authorization.k8s.io/Role":
		return 1
	case "rbac.authorization.k8s.io/ClusterRoleBinding", "rbac.authorization.k8s.io/RoleBinding":
		return 2
	case "admissionregistration.k8s.io/ValidatingWebhookConfiguration":
		return 3
	case "/ConfigMap", "/Secret":
		return 100
	case "apps/Deployment":
		return 1000
	case "autoscaling/HorizontalPodAutoscaler":
		return 1001
	}
	return 0
}

// YAML returns a value as YAML with sorted keys, the form overlays are printed in.
func YAML(v any) ([]byte, error) { return yaml.Marshal(v) }
