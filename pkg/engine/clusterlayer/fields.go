package clusterlayer

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// kind is what the engine needs to know of each Kubernetes kind it manages.
type kind struct {
	gvr        schema.GroupVersionResource
	apiVersion string
	namespaced bool
	// immutable are fields that cannot change in place.
	immutable []string
	// sensitive are fields that never appear in output.
	sensitive []string
}

// kinds are the only kinds the engine creates, reads, updates or deletes.
var kinds = map[string]kind{
	"Namespace":          {gvr: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, apiVersion: "v1"},
	"ServiceAccount":     {gvr: schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, apiVersion: "v1", namespaced: true},
	"ConfigMap":          {gvr: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, apiVersion: "v1", namespaced: true},
	"Secret":             {gvr: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, apiVersion: "v1", namespaced: true, immutable: []string{"type"}, sensitive: []string{"data", "stringData"}},
	"NetworkPolicy":      {gvr: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, apiVersion: "networking.k8s.io/v1", namespaced: true},
	"ClusterRole":        {gvr: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}, apiVersion: "rbac.authorization.k8s.io/v1"},
	"ClusterRoleBinding": {gvr: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, apiVersion: "rbac.authorization.k8s.io/v1", immutable: []string{"roleRef"}},

	// Kinds of the control plane Istio's library renders.
	"CustomResourceDefinition":       {gvr: schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, apiVersion: "apiextensions.k8s.io/v1"},
	"Role":                           {gvr: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, apiVersion: "rbac.authorization.k8s.io/v1", namespaced: true},
	"RoleBinding":                    {gvr: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, apiVersion: "rbac.authorization.k8s.io/v1", namespaced: true, immutable: []string{"roleRef"}},
	"Service":                        {gvr: schema.GroupVersionResource{Version: "v1", Resource: "services"}, apiVersion: "v1", namespaced: true},
	"Deployment":                     {gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, apiVersion: "apps/v1", namespaced: true},
	"HorizontalPodAutoscaler":        {gvr: schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}, apiVersion: "autoscaling/v2", namespaced: true},
	"PodDisruptionBudget":            {gvr: schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, apiVersion: "policy/v1", namespaced: true},
	"MutatingWebhookConfiguration":   {gvr: schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}, apiVersion: "admissionregistration.k8s.io/v1"},
	"ValidatingWebhookConfiguration": {gvr: schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}, apiVersion: "admissionregistration.k8s.io/v1"},

	// Mesh policy, whose kinds come with Istio's CRDs.
	"PeerAuthentication": {gvr: schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}, apiVersion: "security.istio.io/v1", namespaced: true},
	"ServiceEntry":       {gvr: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}, apiVersion: "networking.istio.io/v1", namespaced: true},
	"Gateway":            {gvr: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}, apiVersion: "networking.istio.io/v1", namespaced: true},
}

// crdOf names the CRD that defines an Istio kind, so an object of that kind waits for it.
var crdOf = map[string]string{
	"PeerAuthentication": "peerauthentications.security.istio.io",
	"ServiceEntry":       "serviceentries.networking.istio.io",
	"Gateway":            "gateways.networking.istio.io",
}

// ref identifies one object in one cluster.
type ref struct {
	Cluster   string
	Namespace string // empty for cluster-scoped kinds
	Kind      string
	Name      string
}

// Address is the plan address of the object.
func (r ref) Address() plan.Address {
	return plan.ObjectAddress(r.Cluster, r.Namespace, r.Kind, r.Name)
}

// parseAddress reads the address of an object of a kind the layer manages.
func parseAddress(a plan.Address) (ref, error) {
	p, err := plan.ParseAddress(a)
	if err != nil {
		return ref{}, err
	}
	if p.Layer != plan.LayerK8s {
		return ref{}, fmt.Errorf("%q is not a Kubernetes address", a)
	}
	k, known := kinds[p.Kind]
	if !known {
		return ref{}, fmt.Errorf("%q: the tool does not manage kind %s", a, p.Kind)
	}
	if k.namespaced != (p.Namespace != "") {
		return ref{}, fmt.Errorf("%q: wrong scope for kind %s", a, p.Kind)
	}
	return ref{Cluster: p.Cluster, Namespace: p.Namespace, Kind: p.Kind, Name: p.Name}, nil
}

// objectFields are the managed fields of an object as a plan shows them: its labels and
// annotations, and each top-level field other than apiVersion, kind, metadata and status.
func objectFields(u *unstructured.Unstructured) map[string]any {
	f := map[string]any{}
	if l := u.GetLabels(); len(l) > 0 {
		f["labels"] = stringMap(l)
	}
	if a := u.GetAnnotations(); len(a) > 0 {
		f["annotations"] = stringMap(a)
	}
	for k, v := range u.Object {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
			continue
		}
		f[k] = v
	}
	return f
}

// liveFields reduces a live object to the fields desired manages, each pruned to the shape of
// the desired value: a map keeps only the keys desired sets, a list of the same length is pruned
// element by element. So labels others add, annotations controllers write and fields the server
// defaults never show up as differences.
func liveFields(live *unstructured.Unstructured, desired map[string]any) map[string]any {
	all := objectFields(live)
	out := map[string]any{}
	for k, dv := range desired {
		if lv, ok := all[k]; ok {
			out[k] = prune(lv, dv)
		}
	}
	return out
}

// deletedFields are what a plan shows of an object it deletes: its ownership labels and its
// top-level fields.
func deletedFields(live *unstructured.Unstructured) map[string]any {
	f := objectFields(live)
	if l, ok := f["labels"].(map[string]any); ok {
		own := map[string]any{}
		for _, k := range []string{federation.KubeLabelManagedBy, federation.KubeLabelFederation} {
			if v, ok := l[k]; ok {
				own[k] = v
			}
		}
		f["labels"] = own
	}
	delete(f, "annotations")
	return f
}

func prune(live, desired any) any {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return live
		}
		out := make(map[string]any, len(d))
		for k, dv := range d {
			if lv, ok := l[k]; ok {
				out[k] = prune(lv, dv)
				if k == "limits" || k == "requests" {
					out[k] = sameQuantities(out[k], dv)
				}
			}
		}
		return out
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return live
		}
		out := make([]any, len(l))
		for i := range l {
			out[i] = prune(l[i], d[i])
		}
		return out
	}
	return live
}

// sameQuantities gives live resource quantities the desired spelling where they are equal: the
// API server stores 2Gi as 2048Mi and 2 CPUs as 2000m.
func sameQuantities(live, desired any) any {
	l, ok1 := live.(map[string]any)
	d, ok2 := desired.(map[string]any)
	if !ok1 || !ok2 {
		return live
	}
	out := make(map[string]any, len(l))
	for k, lv := range l {
		out[k] = lv
		ls, okl := lv.(string)
		ds, okd := d[k].(string)
		if !okl || !okd {
			continue
		}
		lq, errl := resource.ParseQuantity(ls)
		dq, errd := resource.ParseQuantity(ds)
		if errl == nil && errd == nil && lq.Cmp(dq) == 0 {
			out[k] = ds
		}
	}
	return out
}

// dropNulls removes null values from rendered objects: applying null means "no value", which is
// how the server stores it, so keeping them would show as a difference forever.
func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = dropNulls(e)
		}
	case []any:
		for i, e := range x {
			x[i] = dropNulls(e)
		}
	}
	return v
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// owned reports whether an object carries this federation's ownership labels.
func owned(u *unstructured.Unstructured, fed string) bool {
	l := u.GetLabels()
	return l[federation.KubeLabelManagedBy] == federation.ManagedByValue && l[federation.KubeLabelFederation] == fed
}
