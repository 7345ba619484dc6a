package v1alpha1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// DefenderKinds are the kinds a Defender manifest may hold, by kind: what twistcli defender
// export kubernetes ships with the DaemonSet, at the API version it writes them.
var DefenderKinds = map[string]string{
	"Namespace":          "v1",
	"Secret":             "v1",
	"ServiceAccount":     "v1",
	"Service":            "v1",
	"ClusterRole":        "rbac.authorization.k8s.io/v1",
	"ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
	"Role":               "rbac.authorization.k8s.io/v1",
	"RoleBinding":        "rbac.authorization.k8s.io/v1",
	"DaemonSet":          "apps/v1",
}

// clusterScoped are the kinds of DefenderKinds that have no namespace.
var clusterScoped = map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true}

// DefenderAddressEnv is the Defender's environment variable naming the Console it connects to
// (wss://<clusterAddress>:443).
const DefenderAddressEnv = "WS_ADDRESS"

// ParseDefenderManifest reads a Defender manifest: YAML documents, each an object of
// DefenderKinds in namespace (or cluster-scoped), exactly one of them a DaemonSet, no two with the
// same kind and name. A namespaced object without a namespace is put in namespace. The problems
// name the manifest's file and line; none quotes a value, which may be a key.
func ParseDefenderManifest(file string, data []byte, namespace string) ([]map[string]any, ErrorList) {
	var objs []map[string]any
	var errs ErrorList
	at := func(n *yaml.Node, field, hint, format string, args ...any) {
		errs = append(errs, Error{File: file, Pos: Pos{n.Line, n.Column}, Field: field, Message: fmt.Sprintf(format, args...), Hint: hint})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	seen := map[string]bool{}
	daemonSets := 0
	for i := 0; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, yamlSyntaxError(file, err))
			return nil, errs
		}
		if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue // an empty document between two ---
		}
		root := doc.Content[0]
		field := fmt.Sprintf("document %d", i+1)
		if root.Kind != yaml.MappingNode {
			at(root, field, "each document is a Kubernetes object", "a Defender manifest object is a mapping, got %s", kindName(root))
			continue
		}
		var m map[string]any
		if err := root.Decode(&m); err != nil {
			at(root, field, "", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			continue
		}
		m = jsonCompatible(m).(map[string]any)
		kind, _ := m["kind"].(string)
		apiVersion, _ := m["apiVersion"].(string)
		meta, _ := m["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		want, known := DefenderKinds[kind]
		switch {
		case !known:
			at(root, field+".kind", "the manifest is the one twistcli defender export kubernetes generates; kinds: "+strings.Join(sortedKeys(DefenderKinds), ", "),
				"kind %s is not part of a Defender manifest", Excerpt(fmt.Sprint(m["kind"])))
			continue
		case apiVersion != want:
			at(root, field+".apiVersion", "use "+want, "%s %s: apiVersion %q is not %s", kind, name, apiVersion, want)
			continue
		case name == "":
			at(root, field+".metadata.name", "", "%s has no metadata.name", kind)
			continue
		}
		field = fmt.Sprintf("%s %s", kind, name)
		ns, _ := meta["namespace"].(string)
		switch {
		case kind == "Namespace" && name != namespace:
			at(root, field, "spec.addons.prismaCloud.namespace names the manifest's namespace: make them equal", "the manifest creates namespace %s, not %s", name, namespace)
		case clusterScoped[kind] && ns != "":
			at(root, field+".metadata.namespace", "remove it", "%s is cluster-scoped", kind)
		case !clusterScoped[kind] && ns == "":
			meta["namespace"] = namespace
		case !clusterScoped[kind] && ns != namespace:
			at(root, field+".metadata.namespace", "spec.addons.prismaCloud.namespace names the manifest's namespace: make them equal", "%s is in namespace %s, not %s", field, ns, namespace)
		}
		if key := kind + "/" + name; seen[key] {
			at(root, field, "keep one", "%s appears twice", field)
		} else {
			seen[key] = true
		}
		if kind == "ClusterRoleBinding" || kind == "RoleBinding" {
			subjects, _ := m["subjects"].([]any)
			for _, s := range subjects {
				sm, _ := s.(map[string]any)
				if sm["kind"] == "ServiceAccount" && sm["namespace"] != nil && sm["namespace"] != namespace {
					at(root, field+".subjects", "spec.addons.prismaCloud.namespace names the manifest's namespace: make them equal", "%s binds service account %v of namespace %v, not %s", field, sm["name"], sm["namespace"], namespace)
				}
			}
		}
		if kind == "DaemonSet" {
			daemonSets++
		}
		objs = append(objs, m)
	}
	if daemonSets != 1 {
		errs = append(errs, Error{File: file, Pos: Pos{1, 1}, Message: fmt.Sprintf("a Defender manifest holds one DaemonSet, this one %d", daemonSets),
			Hint: "use the manifest twistcli defender export kubernetes or the Console's Manage > Defenders > Deploy > DaemonSet generates"})
	}
	return objs, errs
}

// DefenderAddress is the host of the WS_ADDRESS the manifest's DaemonSet gives its Defenders,
// empty when none does.
func DefenderAddress(objs []map[string]any) string {
	for _, o := range objs {
		if o["kind"] != "DaemonSet" {
			continue
		}
		spec, _ := o["spec"].(map[string]any)
		tmpl, _ := spec["template"].(map[string]any)
		pod, _ := tmpl["spec"].(map[string]any)
		containers, _ := pod["containers"].([]any)
		for _, c := range containers {
			cm, _ := c.(map[string]any)
			env, _ := cm["env"].([]any)
			for _, e := range env {
				em, _ := e.(map[string]any)
				if em["name"] != DefenderAddressEnv {
					continue
				}
				v, _ := em["value"].(string)
				if u, err := url.Parse(v); err == nil && u.Hostname() != "" {
					return u.Hostname()
				}
				return v
			}
		}
	}
	return ""
}

// prismaManifest reads and checks the Defender manifest, and keeps its objects on pc.
func (v *validator) prismaManifest(pc *PrismaCloud) {
	p := "spec.addons.prismaCloud.manifestFile"
	if pc.ManifestFile == "" {
		v.errorf(p, "export the Defender DaemonSet with twistcli defender export kubernetes (or from the Console's Manage > Defenders > Deploy) and point here", "is required")
		return
	}
	if v.hasNamespace(pc.Namespace) {
		v.errorf("spec.addons.prismaCloud.namespace", "give the Defenders a namespace of their own", "%q is an application namespace of spec.namespaces: Defenders run privileged and outside the mesh", pc.Namespace)
	}
	for _, r := range reservedNSPrefix {
		if strings.HasPrefix(pc.Namespace, r) {
			v.errorf("spec.addons.prismaCloud.namespace", "give the Defenders a namespace of their own", "%q is reserved", pc.Namespace)
		}
	}
	data, ok := v.readFile(p, pc.ManifestFile)
	if !ok {
		return
	}
	file := ResolvePath(v.opts.BaseDir, pc.ManifestFile)
	objs, errs := ParseDefenderManifest(file, data, pc.Namespace)
	v.errors(errs)
	if len(errs) > 0 {
		return
	}
	if addr := DefenderAddress(objs); addr != "" && addr != pc.ClusterAddress {
		v.errorf("spec.addons.prismaCloud.clusterAddress", "export the manifest for this Console, or set clusterAddress to the host of its "+DefenderAddressEnv,
			"the manifest's Defenders connect to %s (%s), not to %s", addr, DefenderAddressEnv, pc.ClusterAddress)
	}
	pc.Manifest = objs
}

// jsonCompatible turns what YAML decodes into JSON-compatible values: map[string]any throughout,
// integers as int64, as the unstructured API objects expect.
func jsonCompatible(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonCompatible(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonCompatible(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = jsonCompatible(e)
		}
		return x
	case int:
		return int64(x)
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}
