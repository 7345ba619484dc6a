package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"

	yaml "go.yaml.in/yaml/v3"
	"istio.io/istio/operator/pkg/values"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// IstioRelease is the Istio release line the pinned istio.io/istio module renders (its VERSION
// file). The default image tag, v1alpha1.DefaultIstioTag, is a release of this line.
const IstioRelease = "1.31"

// defaultProfile is the Istio installation profile every overlay starts from.
const defaultProfile = "default"

const iopAPIVersion = "install.istio.io/v1alpha1"

// Input is what overlays are built from: a checked, defaulted federation and its compiled form.
type Input struct {
	// Federation is the defaulted federation file.
	Federation *v1alpha1.Federation
	// Desired is the compiled federation; its mesh identity and cluster names go into overlays.
	Desired *federation.Desired
	// Source locates fields of the federation file, so problems in inline overlays point at a line.
	Source *v1alpha1.SourceMap
	// BaseDir resolves overlay files; default: the directory of Source.File.
	BaseDir string
}

// UserOverlay is one entry of spec.mesh.overlays, read and parsed.
type UserOverlay struct {
	// Name is the overlay file as written in the federation file, or the field of an inline one.
	Name string
	// Value is the parsed IstioOperator.
	Value map[string]any

	file   string              // the file problems point into
	prefix string              // field path of the overlay's root inside file
	sm     *v1alpha1.SourceMap // positions inside file
}

// errorAt turns a problem at a path inside the overlay into an error pointing at the file, line
// and field.
func (u UserOverlay) errorAt(e fieldError) v1alpha1.Error {
	path := e.Path
	if u.prefix != "" {
		path = u.prefix + "." + e.Path
	}
	err := u.sm.Errorf(path, e.Hint, "%s", e.Message)
	err.File = u.file
	return err
}

// LoadOverlays reads every user overlay, in order, and checks each one strictly against Istio's
// own types. Problems are reported all at once, each with its file, line and field path.
func LoadOverlays(in Input) ([]UserOverlay, v1alpha1.ErrorList) {
	var out []UserOverlay
	var errs v1alpha1.ErrorList
	fedFile := ""
	if in.Source != nil {
		fedFile = in.Source.File
	}
	for i, o := range in.Federation.Spec.Mesh.Overlays {
		field := fmt.Sprintf("spec.mesh.overlays[%d]", i)
		var u UserOverlay
		switch {
		case o.File != "":
			path := v1alpha1.ResolvePath(in.baseDir(), o.File)
			m, sm, fileErrs := readOverlayFile(path)
			if len(fileErrs) > 0 {
				errs = append(errs, fileErrs...)
				continue
			}
			u = UserOverlay{Name: o.File, Value: m, file: path, sm: sm}
		case o.Inline != nil:
			u = UserOverlay{Name: field + ".inline", Value: o.Inline, file: fedFile, prefix: field + ".inline", sm: in.Source}
		default:
			errs = append(errs, in.Source.Errorf(field, "set file or inline", "overlay is empty"))
			continue
		}
		if m := u.Value; m["apiVersion"] != iopAPIVersion || m["kind"] != "IstioOperator" {
			errs = append(errs, u.errorAt(fieldError{Message: "an overlay is an IstioOperator", Hint: "start it with apiVersion: " + iopAPIVersion + " and kind: IstioOperator"}))
		}
		for _, e := range checkStrict(u.Value) {
			errs = append(errs, u.errorAt(e))
		}
		out = append(out, u)
	}
	errs.Sort()
	return out, errs
}

func (in Input) baseDir() string {
	if in.BaseDir != "" || in.Source == nil || in.Source.File == "" || in.Source.File == "<stdin>" {
		if in.BaseDir == "" {
			return "."
		}
		return in.BaseDir
	}
	return dirOf(in.Source.File)
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}

// readOverlayFile parses one overlay file and records where each field is written.
func readOverlayFile(path string) (map[string]any, *v1alpha1.SourceMap, v1alpha1.ErrorList) {
	data, err := v1alpha1.ReadFile(path)
	if err != nil {
		msg := fmt.Sprintf("cannot read overlay: %v", errors.Unwrap(err))
		if errors.Is(err, fs.ErrNotExist) {
			msg = "overlay file does not exist"
		}
		return nil, nil, v1alpha1.ErrorList{{File: path, Pos: v1alpha1.Pos{Line: 1, Column: 1}, Message: msg}}
	}
	return parseOverlay(path, data)
}

// parseOverlay parses the bytes of an overlay file named path.
func parseOverlay(path string, data []byte) (map[string]any, *v1alpha1.SourceMap, v1alpha1.ErrorList) {
	sm := v1alpha1.NewSourceMap(path)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		msg := err.Error()
		if errors.Is(err, io.EOF) {
			msg = "overlay is empty"
		}
		return nil, nil, v1alpha1.ErrorList{{File: path, Pos: v1alpha1.Pos{Line: 1, Column: 1}, Message: msg}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, v1alpha1.ErrorList{{File: path, Pos: v1alpha1.Pos{Line: extra.Line, Column: extra.Column}, Message: "an overlay file holds one IstioOperator", Hint: "split the documents into several overlays"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		// Not even a mapping: perhaps a token file named by mistake, so say nothing of its value.
		return nil, nil, v1alpha1.ErrorList{{File: path, Pos: v1alpha1.Pos{Line: root.Line, Column: root.Column}, Message: "an overlay is a mapping (an IstioOperator)"}}
	}
	recordPositions(sm, root, "")
	var m map[string]any
	if err := root.Decode(&m); err != nil {
		return nil, nil, v1alpha1.ErrorList{{File: path, Pos: v1alpha1.Pos{Line: root.Line, Column: root.Column}, Message: "an overlay is a mapping: " + err.Error()}}
	}
	return m, sm, nil
}

func recordPositions(sm *v1alpha1.SourceMap, n *yaml.Node, path string) {
	sm.Set(path, v1alpha1.Pos{Line: n.Line, Column: n.Column})
	recordChildren(sm, n, path)
}

// recordChildren records a value's children without overwriting the key's position. Aliases are
// not followed: a problem inside one is reported at the alias, and a few lines of nested aliases
// ("billion laughs") cannot make this walk billions of nodes.
func recordChildren(sm *v1alpha1.SourceMap, n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			sm.Set(p, v1alpha1.Pos{Line: k.Line, Column: k.Column})
			recordChildren(sm, n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			sm.Set(p, v1alpha1.Pos{Line: c.Line, Column: c.Column})
			recordChildren(sm, c, p)
		}
	}
}

// ClusterOverlay is the IstioOperator the tool builds for one cluster, before user overlays.
func ClusterOverlay(in Input, cluster string) (map[string]any, error) {
	c, err := findCluster(in.Desired, cluster)
	if err != nil {
		return nil, err
	}
	return clusterOverlay(in, c.IstioClusterName, c.Network), nil
}

func findCluster(d *federation.Desired, name string) (*federation.ClusterDesired, error) {
	names := make([]string, len(d.Clusters))
	for i := range d.Clusters {
		if d.Clusters[i].Name == name {
			return &d.Clusters[i], nil
		}
		names[i] = d.Clusters[i].Name
	}
	return nil, fmt.Errorf("no cluster %q in the federation (clusters: %v)", name, names)
}

func clusterOverlay(in Input, clusterName, network string) map[string]any {
	m := in.Federation.Spec.Mesh
	id := in.Desired.Mesh
	if network == "" {
		network = id.Network
	}
	accessLogFile := ""
	if m.AccessLogging == nil || *m.AccessLogging {
		accessLogFile = "/dev/stdout"
	}
	meshConfig := map[string]any{
		"trustDomain":           id.TrustDomain,
		"outboundTrafficPolicy": map[string]any{"mode": m.Egress.Mode},
		"accessLogFile":         accessLogFile,
	}
	if len(id.TrustDomainAliases) > 0 {
		meshConfig["trustDomainAliases"] = toAny(id.TrustDomainAliases)
	}
	components := map[string]any{
		"ingressGateways": []any{ingressGateway(m.Ingress)},
	}
	if m.Egress.Gateway {
		components["egressGateways"] = []any{egressGateway(m.Egress)}
	}
	return map[string]any{
		"apiVersion": iopAPIVersion,
		"kind":       "IstioOperator",
		"metadata": map[string]any{
			"name":      "asmfed-" + clusterName,
			"namespace": federation.IstioNamespace,
		},
		"spec": map[string]any{
			"profile":    defaultProfile,
			"revision":   id.Revision,
			"hub":        id.Hub,
			"tag":        id.Tag,
			"meshConfig": meshConfig,
			"components": components,
			"values": map[string]any{
				"global": map[string]any{
					"meshID":       id.MeshID,
					"multiCluster": map[string]any{"clusterName": clusterName},
					"network":      network,
					"platform":     "gke",
				},
			},
		},
	}
}

// ingressGateway is the gateway of the reference architecture: behind an internal load balancer,
// optionally reachable from every region, with the target ports 8080 and 8443 the gateway listens
// on as a non-root pod.
func ingressGateway(in v1alpha1.Ingress) map[string]any {
	enabled := in.Enabled == nil || *in.Enabled
	name := in.Name
	if name == "" {
		name = v1alpha1.DefaultIngressName
	}
	var ports []any
	for _, p := range federation.IngressGatewayPorts {
		ports = append(ports, map[string]any{"name": p.Name, "port": int64(p.Port), "targetPort": int64(p.TargetPort)})
	}
	k8s := map[string]any{"service": map[string]any{"ports": ports}}
	if in.InternalLoadBalancer == nil || *in.InternalLoadBalancer {
		ann := map[string]any{federation.AnnotationILB: "Internal"}
		if in.GlobalAccess != nil && *in.GlobalAccess {
			ann[federation.AnnotationGlobalAccess] = "true"
		}
		k8s["serviceAnnotations"] = ann
	}
	return map[string]any{"name": name, "enabled": enabled, "k8s": k8s}
}

// egressGateway is the egress gateway, serving each allow-listed port (federation.EgressGatewayPorts):
// the routing the federation derives sends the allow-list through it.
func egressGateway(e v1alpha1.Egress) map[string]any {
	gw := map[string]any{"name": federation.EgressGatewayName, "enabled": true}
	var ports []any
	for _, p := range federation.EgressGatewayPorts(e.Allow) {
		ports = append(ports, map[string]any{"name": p.Name, "port": int64(p.Port), "targetPort": int64(p.TargetPort)})
	}
	if len(ports) > 0 {
		gw["k8s"] = map[string]any{"service": map[string]any{"ports": ports}}
	}
	return gw
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// mergeOverlays applies user overlays, in order, over a base overlay, as istioctl does with several -f
// files (install_asm --custom_overlay): mappings merge key by key, anything else (lists included)
// is replaced.
func mergeOverlays(base map[string]any, overlays []UserOverlay) map[string]any {
	out := values.Map(base).DeepClone()
	for _, u := range overlays {
		m := values.Map(u.Value).DeepClone()
		if m["spec"] == nil {
			delete(m, "spec")
		}
		out.MergeFrom(m)
	}
	return out
}
