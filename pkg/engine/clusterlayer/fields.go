package clusterlayer

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsyaml "sigs.k8s.io/yaml"

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
	"CustomResourceDefinition": {gvr: schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, apiVersion: "apiextensions.k8s.io/v1"},
	"Role":                     {gvr: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, apiVersion: "rbac.authorization.k8s.io/v1", namespaced: true},
	"RoleBinding":              {gvr: schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, apiVersion: "rbac.authorization.k8s.io/v1", namespaced: true, immutable: []string{"roleRef"}},
	"Service":                  {gvr: schema.GroupVersionResource{Version: "v1", Resource: "services"}, apiVersion: "v1", namespaced: true},
	"Deployment":               {gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, apiVersion: "apps/v1", namespaced: true},
	// Add-ons' kinds (the Prisma Cloud Defenders).
	"DaemonSet":                      {gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, apiVersion: "apps/v1", namespaced: true},
	"HorizontalPodAutoscaler":        {gvr: schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}, apiVersion: "autoscaling/v2", namespaced: true},
	"PodDisruptionBudget":            {gvr: schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, apiVersion: "policy/v1", namespaced: true},
	"MutatingWebhookConfiguration":   {gvr: schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"}, apiVersion: "admissionregistration.k8s.io/v1"},
	"ValidatingWebhookConfiguration": {gvr: schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}, apiVersion: "admissionregistration.k8s.io/v1"},

	// Mesh policy, whose kinds come with Istio's CRDs.
	"PeerAuthentication": {gvr: schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}, apiVersion: "security.istio.io/v1", namespaced: true},
	"ServiceEntry":       {gvr: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "serviceentries"}, apiVersion: "networking.istio.io/v1", namespaced: true},
	"Gateway":            {gvr: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "gateways"}, apiVersion: "networking.istio.io/v1", namespaced: true},
	"VirtualService":     {gvr: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}, apiVersion: "networking.istio.io/v1", namespaced: true},
	"DestinationRule":    {gvr: schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}, apiVersion: "networking.istio.io/v1", namespaced: true},
}

// crdOf names the CRD that defines an Istio kind, so an object of that kind waits for it.
var crdOf = map[string]string{
	"PeerAuthentication": "peerauthentications.security.istio.io",
	"ServiceEntry":       "serviceentries.networking.istio.io",
	"Gateway":            "gateways.networking.istio.io",
	"VirtualService":     "virtualservices.networking.istio.io",
	"DestinationRule":    "destinationrules.networking.istio.io",
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
	f := rawFields(u)
	redacted, tokens := federation.RedactRegistryTokensIn(f)
	if len(tokens) == 0 {
		return f
	}
	f = redacted.(map[string]any)
	f[fieldRegistryTokens] = stringList(tokens)
	return f
}

// fieldRegistryTokens holds the access tokens of the Prisma Cloud image paths in an object's
// fields (registry-auth.twistlock.com/tw_<token>/...): its other fields show the images with the
// token redacted, and this one, sensitive, makes a new token a change that plans show as a hash.
const fieldRegistryTokens = "registryTokens"

// sensitiveFields are a kind's sensitive fields and fieldRegistryTokens, which any object may have.
func sensitiveFields(k kind) []string {
	return append(slices.Clone(k.sensitive), fieldRegistryTokens)
}

func stringList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// rawFields are objectFields before the registry tokens are redacted.
func rawFields(u *unstructured.Unstructured) map[string]any {
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
// ownedByOther names the other federation whose labels an object carries, or "".
func ownedByOther(u *unstructured.Unstructured, fed string) string {
	l := u.GetLabels()
	if other := l[federation.KubeLabelFederation]; l[federation.KubeLabelManagedBy] == federation.ManagedByValue && other != fed {
		return other
	}
	return ""
}

func owned(u *unstructured.Unstructured, fed string) bool {
	l := u.GetLabels()
	return l[federation.KubeLabelManagedBy] == federation.ManagedByValue && l[federation.KubeLabelFederation] == fed
}

// fieldMeshConfig is the plan field of a mesh ConfigMap (federation.RoleMeshConfig): the keys of
// its mesh config the tool sets, compared as values rather than as the text they are written in.
const fieldMeshConfig = "meshConfig"

// parseMeshConfig reads a mesh config as JSON-compatible values; empty text is an empty config.
func parseMeshConfig(text string) (map[string]any, error) {
	out := map[string]any{}
	if strings.TrimSpace(text) == "" {
		return out, nil
	}
	if err := sigsyaml.Unmarshal([]byte(text), &out); err != nil {
		return nil, fmt.Errorf("the mesh config is not a YAML mapping: %w", err)
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}

// meshConfigOf is what a live mesh ConfigMap holds of the keys the tool sets (want): the rest of
// its mesh config is someone else's. A mesh config that is not YAML shows as its error.
func meshConfigOf(u *unstructured.Unstructured, want map[string]any) any {
	text, _, _ := unstructured.NestedString(u.Object, "data", federation.MeshConfigKey)
	live, err := parseMeshConfig(text)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return prune(live, want)
}

// mergeMeshConfig sets the keys of want in a mesh config's YAML and keeps everything else of it,
// its comments and order included: the managed control plane's ConfigMap carries settings others
// wrote.
func mergeMeshConfig(text string, want map[string]any) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return "", fmt.Errorf("the mesh config is not YAML: %w", err)
	}
	prefix := ""
	if len(doc.Content) == 0 {
		// Nothing but comments, or nothing: keep the text and start a mapping after it.
		if t := strings.TrimSpace(text); t != "" {
			prefix = t + "\n"
		}
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	root := doc.Content[0]
	if root.Tag == "!!null" {
		*root = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	if root.Kind != yaml.MappingNode {
		return "", fmt.Errorf("the mesh config is a %s, not a mapping", root.Tag)
	}
	if err := setKeys(root, want); err != nil {
		return "", err
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return prefix + b.String(), nil
}

// setKeys sets each key of want in the mapping m, recursing into mappings so that a key the tool
// does not set beside one it does (outboundTrafficPolicy.egressProxy beside mode) stays.
func setKeys(m *yaml.Node, want map[string]any) error {
	m.Style &^= yaml.FlowStyle
	for _, k := range slices.Sorted(maps.Keys(want)) {
		i := -1
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value == k {
				i = j + 1
			}
		}
		if i < 0 {
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, &yaml.Node{})
			i = len(m.Content) - 1
		}
		if sub, ok := want[k].(map[string]any); ok {
			if m.Content[i].Kind != yaml.MappingNode {
				m.Content[i] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			}
			if err := setKeys(m.Content[i], sub); err != nil {
				return err
			}
			continue
		}
		var v yaml.Node
		if err := v.Encode(want[k]); err != nil {
			return fmt.Errorf("encode %s: %w", k, err)
		}
		m.Content[i] = &v
	}
	return nil
}
