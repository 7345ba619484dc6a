package federation

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// Marks of the gateways and their Services.
const (
	// AnnotationInjectTemplates selects the injection template of a pod: "gateway" makes the
	// control plane inject a gateway's proxy instead of a sidecar.
	AnnotationInjectTemplates = "inject.istio.io/templates"
	// AnnotationILB puts a Service of type LoadBalancer behind an internal passthrough load
	// balancer on GKE; AnnotationGlobalAccess lets clients of every region reach it.
	AnnotationILB          = "cloud.google.com/load-balancer-type"
	AnnotationGlobalAccess = "networking.gke.io/internal-load-balancer-allow-global-access"
	// MeshConfigKey is the data key of a mesh ConfigMap.
	MeshConfigKey = "mesh"
	// PolicyManagedControlPlane replaces PolicyIstiod with a managed control plane.
	PolicyManagedControlPlane = "asmfed-allow-managed-control-plane"
	// ASMOptionsName is the ConfigMap of istio-system through which Cloud Service Mesh's
	// declarative API configures a cluster; MultiClusterModeKey set to MultiClusterConnected
	// there opts the cluster into the managed control plane's multi-cluster endpoint discovery,
	// in place of the remote secrets an in-cluster istiod reads, which the TRAFFIC_DIRECTOR
	// implementation does not support.
	ASMOptionsName        = "asm-options"
	MultiClusterModeKey   = "multicluster_mode"
	MultiClusterConnected = "connected"
)

// IngressGatewayPorts are the ingress gateway's ports, in-cluster and managed: the status port,
// and 80 and 443 on the unprivileged 8080 and 8443 the gateway listens on as a non-root user.
var IngressGatewayPorts = []GatewayPort{
	{Name: "status-port", Port: 15021, TargetPort: 15021},
	{Name: "http2", Port: 80, TargetPort: 8080},
	{Name: "https", Port: 443, TargetPort: 8443},
}

// MeshConfigName is the mesh ConfigMap of a revision, in istio-system.
func MeshConfigName(revision string) string { return "istio-" + revision }

// managedRevision is the revision of a cluster's managed channel; the release channel was
// validated.
func managedRevision(releaseChannel string) (string, error) {
	rev, ok := v1alpha1.ManagedRevision(releaseChannel)
	if !ok {
		return "", fmt.Errorf("release channel %s has no managed channel (run validate first)", releaseChannel)
	}
	return rev, nil
}

// meshConfig is what the tool sets of the mesh config, as the mesh ConfigMap's YAML: egress
// mode, access logging and trust domain aliases. In-cluster, the IstioOperator carries the same
// settings.
func meshConfig(m v1alpha1.Mesh) map[string]any {
	accessLog := ""
	if m.AccessLogging == nil || *m.AccessLogging {
		accessLog = "/dev/stdout"
	}
	return map[string]any{
		"outboundTrafficPolicy": map[string]any{"mode": m.Egress.Mode},
		"accessLogFile":         accessLog,
		"trustDomainAliases":    toAny(sortedUnique(m.TrustDomainAliases)),
	}
}

// managedControlPlane adds what a managed control plane needs in a cluster beside the mesh
// policy: its mesh settings in the channel's mesh ConfigMap, and the gateways, which the managed
// control plane injects but does not deploy.
func (b *objectBuilder) managedControlPlane(m v1alpha1.Mesh, revision string) {
	data, err := yaml.Marshal(meshConfig(m))
	if err != nil {
		b.err = fmt.Errorf("cluster %s: mesh config: %w", b.cluster, err)
		return
	}
	settings := fmt.Sprintf("egress %s, access logging %s", m.Egress.Mode, onOff(v1alpha1.Bool(m.AccessLogging)))
	names := []string{MeshConfigName(revision)}
	reasons := []string{fmt.Sprintf("the managed control plane of %s (revision %s) reads its mesh config here: %s; the tool writes only these keys of data.mesh and keeps the rest", b.cluster, revision, settings)}
	if revision != v1alpha1.ManagedRevisionRapid {
		names = append(names, MeshConfigName(v1alpha1.ManagedRevisionRapid))
		reasons = append(reasons, fmt.Sprintf("Cloud Service Mesh's TRAFFIC_DIRECTOR implementation reads the rapid channel's mesh ConfigMap whatever the channel (a known issue), so it gets the same settings: %s; the tool writes only these keys of data.mesh and keeps the rest", settings))
	}
	for i, name := range names {
		o := b.add(IstioNamespace, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name}, "data": map[string]any{MeshConfigKey: string(data)}}}, RoleMeshConfig, reasons[i])
		if o != nil {
			o.Shared = true
			o.Pending = "data.mesh: these keys merged into the mesh config the managed control plane keeps there"
		}
	}
	b.multiClusterMode()
	if in := m.Ingress; v1alpha1.Bool(in.Enabled) {
		annotations := map[string]any{}
		if v1alpha1.Bool(in.InternalLoadBalancer) {
			annotations[AnnotationILB] = "Internal"
			if v1alpha1.Bool(in.GlobalAccess) {
				annotations[AnnotationGlobalAccess] = "true"
			}
		}
		b.gateway(gateway{name: in.Name, selector: IngressGatewaySelector(in.Name), revision: revision, ports: IngressGatewayPorts,
			serviceType: "LoadBalancer", annotations: annotations, readsSecrets: true,
			reason: "the ingress gateway (spec.mesh.ingress), injected by the managed control plane"})
	}
	if m.Egress.Gateway {
		ports := EgressGatewayPorts(m.Egress.Allow)
		if len(ports) == 0 {
			// Nothing to route yet: the ports Istio's egress chart serves by default.
			ports = []GatewayPort{{Name: "http2", Port: 80, TargetPort: 8080}, {Name: "https", Port: 443, TargetPort: 8443}}
		}
		b.gateway(gateway{name: EgressGatewayName, selector: EgressGatewaySelector, revision: revision, ports: ports,
			serviceType: "ClusterIP", reason: "the egress gateway (spec.mesh.egress.gateway), injected by the managed control plane: the allow-list leaves the cluster through it"})
	}
}

// inClusterIstiod reports whether istiod runs in the clusters. Only then does each cluster's
// control plane read its peers' API servers, through remote secrets, from its pods' addresses
// (the peers' pod ranges in the authorized networks, global access across regions), and serve
// sidecar injection and validation from the nodes on 15017. A managed control plane is told by
// asm-options to discover the peers' endpoints itself, and Google serves its webhooks.
func (c *compiler) inClusterIstiod() bool {
	return c.spec.Mesh.ControlPlane != v1alpha1.ControlPlaneManaged
}

// managedNoGlobalAccess is why a managed cluster with peers in other regions keeps global access
// off: no control plane in a peer reaches its private endpoint.
const managedNoGlobalAccess = "the managed control plane reads every cluster from Google's side, not from a peer's pods, so the private endpoint needs no access from other regions"

// WebhookPorts are the node ports the private control planes must reach for admission webhooks.
// A managed control plane's injection webhook is served by Google, not by a pod on the nodes:
// 15017 is left out, and the ports the file adds for other webhooks stay.
func WebhookPorts(m v1alpha1.Mesh) []int32 {
	if m.ControlPlane != v1alpha1.ControlPlaneManaged {
		return m.WebhookPorts
	}
	return slices.DeleteFunc(slices.Clone(m.WebhookPorts), func(p int32) bool { return p == v1alpha1.DefaultWebhookPort })
}

// webhookPorts are WebhookPorts as the firewall rule writes them, with the reason.
func (c *compiler) webhookPorts() ([]string, string) {
	ports := WebhookPorts(c.spec.Mesh)
	if len(ports) == 0 {
		return nil, ""
	}
	note := " (istiod's sidecar injection and validation on 15017)"
	if !c.inClusterIstiod() {
		note = fmt.Sprintf(" (not %d: the managed control plane's injection webhook is served by Google, not from the nodes)", v1alpha1.DefaultWebhookPort)
	}
	sorted := sortedPorts(ports)
	return sorted, fmt.Sprintf("the private control planes call admission webhooks on the nodes on tcp %s%s; GKE only opens 443 and 10250 from the control plane",
		strings.Join(sorted, ","), note)
}

// multiClusterMode opts the cluster into the managed control plane's multi-cluster endpoint
// discovery through Cloud Service Mesh's declarative API, in place of remote secrets.
func (b *objectBuilder) multiClusterMode() {
	o := b.add(IstioNamespace, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": ASMOptionsName}, "data": map[string]any{MultiClusterModeKey: MultiClusterConnected}}}, "",
		fmt.Sprintf("%s: %s opts %s into the managed control plane's multi-cluster endpoint discovery (Cloud Service Mesh's declarative API): its endpoints reach the sidecars of every other connected cluster of the fleet, and theirs reach it; "+
			"the TRAFFIC_DIRECTOR implementation does not support the remote secrets an in-cluster istiod reads, so none are made; the tool writes only this key and keeps the rest",
			MultiClusterModeKey, MultiClusterConnected, b.cluster))
	if o != nil {
		o.Shared = true
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// IngressGatewaySelector is the label of the ingress gateway's pods, which its Gateway selects:
// istio=<name without istio->, as Istio's charts label gateways.
func IngressGatewaySelector(name string) map[string]string {
	return map[string]string{"istio": strings.TrimPrefix(name, "istio-")}
}

// gateway is a gateway Deployment the managed control plane injects.
type gateway struct {
	name        string
	selector    map[string]string
	revision    string
	ports       []GatewayPort
	serviceType string
	annotations map[string]any
	// readsSecrets lets the gateway read the credentials of its Gateway's servers.
	readsSecrets bool
	reason       string
}

// gateway adds a gateway as Istio's gateway injection deploys one: a Deployment whose pods ask
// for the gateway template of the revision's injector, its account, its Service and, to serve
// credentialName certificates, the right to read Secrets of its namespace.
func (b *objectBuilder) gateway(g gateway) {
	ns := IstioNamespace
	labels := toAnyMap(g.selector)
	labels["app"] = g.name
	podLabels := toAnyMap(g.selector)
	podLabels["app"] = g.name
	podLabels[LabelRevision] = g.revision
	b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": g.name}}}, "", "the identity of "+g.name)
	if g.readsSecrets {
		b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
			"metadata": map[string]any{"name": g.name + "-sds"},
			"rules":    []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "verbs": []any{"get", "watch", "list"}}}}}, "",
			g.name+" serves the certificates its Gateway names (credentialName), which are Secrets of "+ns)
		b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]any{"name": g.name + "-sds"},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": g.name + "-sds"},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": g.name, "namespace": ns}}}}, "",
			"grants "+g.name+" the reading of its certificates")
	}
	b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": g.name, "labels": labels},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": toAnyMap(g.selector)},
			"template": map[string]any{
				"metadata": map[string]any{"labels": podLabels, "annotations": map[string]any{AnnotationInjectTemplates: "gateway"}},
				"spec": map[string]any{
					"serviceAccountName": g.name,
					// The injector replaces "auto" with the proxy image of the revision.
					"containers": []any{map[string]any{"name": "istio-proxy", "image": "auto"}},
				},
			},
		}}}, RoleWorkload, fmt.Sprintf("%s; its pods get the gateway template of revision %s", g.reason, g.revision))
	var ports []any
	for _, p := range g.ports {
		ports = append(ports, map[string]any{"name": p.Name, "port": int64(p.Port), "targetPort": int64(p.TargetPort), "protocol": "TCP"})
	}
	meta := map[string]any{"name": g.name, "labels": labels}
	if len(g.annotations) > 0 {
		meta["annotations"] = g.annotations
	}
	b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": meta,
		"spec": map[string]any{"type": g.serviceType, "selector": toAnyMap(g.selector), "ports": ports}}}, "",
		fmt.Sprintf("the Service of %s (%s)", g.name, g.serviceType))
}
