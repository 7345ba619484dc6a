package clusterlayer

import (
	"encoding/base64"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Names and marks the layer adds to what the model wants.
const (
	// FieldManager is the server-side apply field manager of every write.
	FieldManager = "asmfed"
	// annotationTokenGeneration counts rotations of the reader token, on the token Secret and
	// on every remote secret carrying it.
	annotationTokenGeneration = "asmfed.io/token-generation"
	// InventoryPrefix starts the name of each cluster's inventory ConfigMap in istio-system.
	InventoryPrefix = "asmfed-inventory-"
	// InventoryKey is the inventory's data key: the addresses applied, one per line, sorted.
	InventoryKey = "addresses"
)

// Extra plan fields, beside the object's own: what a remote secret's kubeconfig points at and
// which token generation it carries, and the root and state of a cacerts intermediate.
const (
	fieldServer          = "kubeconfigServer"
	fieldTokenGeneration = "tokenGeneration"
	fieldRootFingerprint = "rootFingerprint"
	fieldIntermediate    = "intermediate"
	intermediateOK       = "issued by the root, valid beyond the renewal window"
)

// roleInventory is the layer's own bookkeeping object: what it applied to a cluster.
const roleInventory federation.ObjectRole = "inventory"

// object is a desired or live object with its plan resource.
type object struct {
	ref  ref
	u    *unstructured.Unstructured
	res  plan.Resource
	role federation.ObjectRole
	// remote is the derivation of a remote secret.
	remote *federation.RemoteSecret
	// shared objects belong to a managed control plane: written into whoever created them,
	// never deleted (federation.KubeObject.Shared).
	shared bool
}

func inventoryName(fed string) string { return InventoryPrefix + fed }

// desiredObjects turns the model's objects of every cluster into the layer's, normalised the one
// way every desired object is, and adds each cluster's inventory. Values only known live (remote
// secrets' kubeconfigs, cacerts, token generations) are filled in by complete.
func desiredObjects(d *federation.Desired, cred *IngressCredential, addonSecrets map[string]map[string]any) (map[string][]*object, error) {
	remotes := map[plan.Address]*federation.RemoteSecret{}
	for i := range d.RemoteSecrets {
		remotes[d.RemoteSecrets[i].Address] = &d.RemoteSecrets[i]
	}
	out := map[string][]*object{}
	for _, c := range d.Clusters {
		var objs []*object
		for _, ko := range c.Objects {
			o, err := fromModel(ko)
			if err != nil {
				return nil, err
			}
			switch o.role {
			case federation.RoleRemoteSecret:
				if o.remote = remotes[ko.Address]; o.remote == nil {
					return nil, fmt.Errorf("%s: remote secret without its pair in the model", ko.Address)
				}
			case federation.RoleReaderToken:
				o.res.Immutable = append(append([]string{}, o.res.Immutable...), fieldTokenGeneration)
			case federation.RoleIngressCredential:
				if cred == nil {
					return nil, fmt.Errorf("%s: the gateway certificate was not read (spec.mesh.ingress.tls certFile and keyFile)", ko.Address)
				}
				data := map[string]any{"tls.crt": base64.StdEncoding.EncodeToString(cred.CertPEM), "tls.key": base64.StdEncoding.EncodeToString(cred.KeyPEM)}
				if len(cred.CAPEM) > 0 {
					data["ca.crt"] = base64.StdEncoding.EncodeToString(cred.CAPEM)
				}
				o.u.Object["data"] = data
				o.res.Fields = objectFields(o.u)
			case federation.RoleAddonSecret:
				data, ok := addonSecrets[ko.Namespace+"/"+ko.Name]
				if !ok {
					return nil, fmt.Errorf("%s: the add-on's secret was not read (%s)", ko.Address, ko.Pending)
				}
				o.u.Object["data"] = runtime.DeepCopyJSONValue(data)
				o.res.Fields = objectFields(o.u)
			case federation.RoleMeshConfig:
				// Compared by the keys the tool sets; written merged into the live config.
				text, _, _ := unstructured.NestedString(o.u.Object, "data", federation.MeshConfigKey)
				want, err := parseMeshConfig(text)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", ko.Address, err)
				}
				delete(o.res.Fields, "data")
				o.res.Fields[fieldMeshConfig] = want
			}
			objs = append(objs, o)
		}
		// The inventory waits for everything else in its cluster: its final content is written
		// once the rest is done (apply records the union beforehand).
		deps := make([]plan.Address, 0, len(objs))
		for _, o := range objs {
			deps = append(deps, o.res.Address)
		}
		inv := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": inventoryName(d.Federation), "namespace": federation.IstioNamespace}}}
		o, err := fromModel(federation.KubeObject{
			Address: plan.ObjectAddress(c.Name, federation.IstioNamespace, "ConfigMap", inventoryName(d.Federation)),
			Cluster: c.Name, Namespace: federation.IstioNamespace, Kind: "ConfigMap", Name: inventoryName(d.Federation),
			Object:    withOwnership(inv, d.Federation).Object,
			Reason:    fmt.Sprintf("lists what federation %s applied to %s, so that objects it no longer wants are found and pruned", d.Federation, c.Name),
			DependsOn: append([]plan.Address{plan.ObjectAddress(c.Name, "", "Namespace", federation.IstioNamespace)}, deps...),
		})
		if err != nil {
			return nil, err
		}
		o.role = roleInventory
		out[c.Name] = append(objs, o)
	}
	return out, nil
}

func withOwnership(u *unstructured.Unstructured, fed string) *unstructured.Unstructured {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[federation.KubeLabelManagedBy] = federation.ManagedByValue
	labels[federation.KubeLabelFederation] = fed
	u.SetLabels(labels)
	return u
}

// fromModel checks that the layer knows the object's kind and scope, and normalises it: the API
// version the layer reads and writes the kind at, no status, no creation timestamp, no nulls
// (applying null means "no value", which is how the server stores it).
func fromModel(ko federation.KubeObject) (*object, error) {
	k, ok := kinds[ko.Kind]
	if !ok {
		return nil, fmt.Errorf("%s: kind %s is not one the tool applies", ko.Address, ko.Kind)
	}
	if k.namespaced != (ko.Namespace != "") {
		return nil, fmt.Errorf("%s: kind %s is namespaced=%v, but the object has namespace %q", ko.Address, ko.Kind, k.namespaced, ko.Namespace)
	}
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(ko.Object)}
	dropNulls(u.Object)
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	u.SetAPIVersion(k.apiVersion)
	u.SetKind(ko.Kind)
	u.SetNamespace(ko.Namespace)
	rf := ref{Cluster: ko.Cluster, Namespace: ko.Namespace, Kind: ko.Kind, Name: ko.Name}
	if rf.Address() != ko.Address || u.GetName() != ko.Name {
		return nil, fmt.Errorf("%s: the object is named %q in cluster %s", ko.Address, u.GetName(), ko.Cluster)
	}
	return &object{ref: rf, u: u, role: ko.Role, shared: ko.Shared, res: plan.Resource{
		Address:   ko.Address,
		Kind:      ko.Kind,
		Group:     "cluster " + ko.Cluster,
		Fields:    objectFields(u),
		Owned:     true,
		Reason:    ko.Reason,
		DependsOn: ko.DependsOn,
		Immutable: k.immutable,
		Sensitive: sensitiveFields(k),
	}}, nil
}

// generation reads the token generation annotation, 1 when absent or malformed.
func generation(a map[string]string) int {
	n, err := strconv.Atoi(a[annotationTokenGeneration])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// IngressCredential is the certificate the ingress gateway terminates TLS with, when the file
// gives certFile and keyFile rather than an existing Secret.
type IngressCredential struct {
	CertPEM, KeyPEM, CAPEM []byte
}
