package federation

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Names and marks of the Kubernetes objects the federation wants.
const (
	// labelNetwork is the Istio network of a cluster, on its istio-system namespace.
	labelNetwork = "topology.istio.io/network"
	// LabelRevision enrols a namespace in the mesh revision; labelInjection disables injection.
	LabelRevision  = "istio.io/rev"
	labelInjection = "istio-injection"
	// ReaderClusterRole grants each peer's reader account what istiod needs of a peer, and
	// nothing more; only the tool's own per-peer bindings name it.
	ReaderClusterRole = "asmfed-istio-reader"
	// readerPrefix starts the names of a peer's reader account, its binding and its token
	// Secret. They are distinct from the chart's istio-reader-service-account, which the
	// rendered control plane binds to istio-reader-clusterrole-*, so chart values cannot
	// widen what a peer may do.
	readerPrefix = "asmfed-reader-"
	// cacertsSecret holds the cluster's intermediate of the plug-in root; istiod reads it.
	cacertsSecret = "cacerts"
	// IngressCredentialSecret names the Secret made from the file's certFile and keyFile.
	IngressCredentialSecret = "asmfed-ingress-credential"
	// Default NetworkPolicy names.
	PolicyDenyAll = "asmfed-default-deny"
	PolicyDNS     = "asmfed-allow-dns"
	PolicyIstiod  = "asmfed-allow-istiod"
	PolicyMesh    = "asmfed-allow-mesh"
)

// apiVersions are the API versions of the kinds the compiler builds.
var apiVersions = map[string]string{
	"Namespace":          "v1",
	"ServiceAccount":     "v1",
	"Secret":             "v1",
	"NetworkPolicy":      "networking.k8s.io/v1",
	"ClusterRole":        "rbac.authorization.k8s.io/v1",
	"ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
	"PeerAuthentication": "security.istio.io/v1",
	"ServiceEntry":       "networking.istio.io/v1",
	"Gateway":            "networking.istio.io/v1",
	"VirtualService":     "networking.istio.io/v1",
	"DestinationRule":    "networking.istio.io/v1",
	"DaemonSet":          "apps/v1",
}

// CRDOf names the CRD that defines an Istio kind, so that an object of that kind waits for it
// when the CRD is installed in the same apply.
var CRDOf = map[string]string{
	"PeerAuthentication": "peerauthentications.security.istio.io",
	"ServiceEntry":       "serviceentries.networking.istio.io",
	"Gateway":            "gateways.networking.istio.io",
	"VirtualService":     "virtualservices.networking.istio.io",
	"DestinationRule":    "destinationrules.networking.istio.io",
}

// objectBuilder accumulates the objects of one cluster.
type objectBuilder struct {
	fed     string
	cluster string
	objs    []KubeObject
	err     error
}

// add converts a typed object, or takes an unstructured one (a copy of it) or an object map (as it
// is: the builder made it), sets the ownership labels and records it with its reason. The
// namespace of a namespaced object is a dependency.
func (b *objectBuilder) add(namespace string, obj any, role ObjectRole, reason string, deps ...plan.Address) *KubeObject {
	if b.err != nil {
		return nil
	}
	var m map[string]any
	switch o := obj.(type) {
	case objectMap:
		m = o
	case *unstructured.Unstructured:
		m = o.DeepCopy().Object
	case runtime.Object:
		var err error
		if m, err = runtime.DefaultUnstructuredConverter.ToUnstructured(o); err != nil {
			b.err = fmt.Errorf("cluster %s: convert %T: %w", b.cluster, obj, err)
			return nil
		}
	default:
		b.err = fmt.Errorf("cluster %s: %T is not an object", b.cluster, obj)
		return nil
	}
	u := &unstructured.Unstructured{Object: m}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if spec, ok := u.Object["spec"].(map[string]any); ok && len(spec) == 0 {
		delete(u.Object, "spec")
	}
	kind := u.GetKind()
	if kind == "" {
		kind = kindOf(obj)
		u.SetKind(kind)
	}
	if u.GetAPIVersion() == "" {
		u.SetAPIVersion(apiVersions[kind])
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[KubeLabelManagedBy] = ManagedByValue
	labels[KubeLabelFederation] = b.fed
	u.SetLabels(labels)
	if namespace != "" {
		u.SetNamespace(namespace)
		deps = append([]plan.Address{plan.ObjectAddress(b.cluster, "", "Namespace", namespace)}, deps...)
	}
	b.objs = append(b.objs, KubeObject{
		Address:   plan.ObjectAddress(b.cluster, namespace, kind, u.GetName()),
		Cluster:   b.cluster,
		Namespace: namespace,
		Kind:      kind,
		Name:      u.GetName(),
		Role:      role,
		Object:    u.Object,
		DependsOn: deps,
		Reason:    reason,
	})
	return &b.objs[len(b.objs)-1]
}

// objectMap is an object built as the map the unstructured converter would make of its typed
// form, without the converter's reflection: the objects of every ordered pair of clusters (reader
// accounts, their bindings and tokens, remote secrets) are most of a large federation's compile.
// TestObjectMapsAsConverted holds each builder to the converter's output.
type objectMap = map[string]any

// metaMap is the metadata of an object named name, as the converter writes an ObjectMeta with
// those fields set.
func metaMap(name string, labels, annotations map[string]string) map[string]any {
	m := map[string]any{"name": name}
	if len(labels) > 0 {
		m["labels"] = toAnyMap(labels)
	}
	if len(annotations) > 0 {
		m["annotations"] = toAnyMap(annotations)
	}
	return m
}

// namespaceMap is a Namespace with labels.
func namespaceMap(name string, labels map[string]string) objectMap {
	return objectMap{"apiVersion": "v1", "kind": "Namespace", "metadata": metaMap(name, labels, nil)}
}

// secretMap is a Secret of a type, without data.
func secretMap(name string, labels, annotations map[string]string, typ corev1.SecretType) objectMap {
	return objectMap{"apiVersion": "v1", "kind": "Secret", "metadata": metaMap(name, labels, annotations), "type": string(typ)}
}

// serviceAccountMap is a ServiceAccount.
func serviceAccountMap(name string) objectMap {
	return objectMap{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metaMap(name, nil, nil)}
}

// readerBindingMap binds the service account sa in namespace to the reader ClusterRole.
func readerBindingMap(sa, namespace string) objectMap {
	return objectMap{"apiVersion": apiVersions["ClusterRoleBinding"], "kind": "ClusterRoleBinding", "metadata": metaMap(sa, nil, nil),
		"roleRef":  map[string]any{"apiGroup": rbacv1.GroupName, "kind": "ClusterRole", "name": ReaderClusterRole},
		"subjects": []any{map[string]any{"kind": rbacv1.ServiceAccountKind, "name": sa, "namespace": namespace}},
	}
}

func kindOf(obj any) string {
	switch obj.(type) {
	case *corev1.Namespace:
		return "Namespace"
	case *corev1.ServiceAccount:
		return "ServiceAccount"
	case *corev1.Secret:
		return "Secret"
	case *networkingv1.NetworkPolicy:
		return "NetworkPolicy"
	case *rbacv1.ClusterRole:
		return "ClusterRole"
	case *rbacv1.ClusterRoleBinding:
		return "ClusterRoleBinding"
	}
	return ""
}

func meta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: labels}
}

// clusterObjects derives the Kubernetes objects of every cluster: istio-system on the mesh's
// network, the application namespaces with their default policies, the reader account peers
// use, the remote secrets, cacerts of the plug-in CA, the mesh policy, and with a managed
// control plane its mesh ConfigMap and gateways. An in-cluster control plane is attached later
// (AttachControlPlane): it is rendered by Istio's library, which the compiler does not run.
func (c *compiler) clusterObjects(d *Desired) error {
	if c.noObjects {
		return nil
	}
	podRanges := map[string]string{}
	for _, cd := range d.Clusters {
		podRanges[cd.Name] = cd.PodRange
	}
	// The remote secrets each cluster holds, and those whose reader it serves, in the model's
	// order: grouped once rather than scanned for every cluster.
	held, served := map[string][]*RemoteSecret{}, map[string][]*RemoteSecret{}
	for i := range d.RemoteSecrets {
		rs := &d.RemoteSecrets[i]
		held[rs.Holder] = append(held[rs.Holder], rs)
		served[rs.Target] = append(served[rs.Target], rs)
	}
	// Each cluster's objects depend on nothing built for another, so the clusters are built on
	// every processor at once: a remote secret and a reader account for every ordered pair of
	// clusters are most of a large federation's compile.
	build := func(i int) error {
		cd := &d.Clusters[i]
		b := &objectBuilder{fed: d.Federation, cluster: cd.Name}
		istioNS := b.add("", namespaceMap(IstioNamespace, map[string]string{labelNetwork: cd.Network}), RoleNamespace,
			fmt.Sprintf("the Istio control plane's namespace; %s=%s puts %s on the mesh's one network, so its pods talk to every peer's pods directly", labelNetwork, cd.Network, cd.Name))
		if istioNS != nil && d.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
			// The managed control plane creates it too, and keeps its own objects there.
			istioNS.Shared = true
		}
		revision := d.Mesh.Revision
		if cd.Revision != "" {
			revision = cd.Revision
		}
		for _, ns := range c.spec.Namespaces {
			b.appNamespace(ns, revision, c.spec.Mesh.Egress, cd, podRanges)
		}
		if len(served[cd.Name]) > 0 {
			b.add("", &rbacv1.ClusterRole{ObjectMeta: meta(ReaderClusterRole, nil), Rules: ReaderRules()}, "",
				"the least-privilege read-only access istiod needs to a peer: what it watches, and no writes")
		}
		for _, rs := range served[cd.Name] {
			b.reader(rs.Holder)
		}
		for _, rs := range held[cd.Name] {
			o := b.add(rs.Namespace, secretMap(rs.Name, rs.Labels, rs.Annotations, corev1.SecretTypeOpaque), RoleRemoteSecret, rs.Reason,
				rs.TokenAddress(),
				plan.ObjectAddress(rs.Target, "", "ClusterRoleBinding", ReaderAccount(rs.Holder)))
			if o != nil {
				o.Pending = fmt.Sprintf("data.%s: a kubeconfig for %s with the live token of %s in %s", rs.DataKey, rs.Server, rs.ServiceAccount, rs.Target)
			}
		}
		if d.Mesh.CA == v1alpha1.CAPlugin {
			o := b.add(IstioNamespace, secretMap(cacertsSecret, nil, nil, corev1.SecretTypeOpaque), RoleCACerts,
				fmt.Sprintf("istiod in %s signs workload certificates with an intermediate of the shared root %s (spec.mesh.ca.rootCertFile), so workloads of every cluster trust each other; without it istiod signs with a root of its own", cd.Name, c.spec.Mesh.CA.RootCertFile))
			if o != nil {
				ca := c.spec.Mesh.CA
				o.Pending = fmt.Sprintf("data: an intermediate CA issued by the plug-in root %s (key %s), kept until it nears expiry", ca.RootCertFile, ca.RootKeyFile)
			}
		}
		b.meshPolicy(c.spec.Mesh, cd.WorkloadPool != "")
		b.cloudSQLObjects(d.CloudSQL, c.spec.Namespaces, c.spec.Mesh.Egress)
		if pc := c.spec.Addons.PrismaCloud; pc != nil {
			b.prismaCloud(pc)
		}
		if d.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
			b.managedControlPlane(c.spec.Mesh, revision)
		}
		if b.err != nil {
			return b.err
		}
		sort.Slice(b.objs, func(i, j int) bool { return b.objs[i].Address < b.objs[j].Address })
		cd.Objects = b.objs
		return nil
	}
	var g errgroup.Group
	g.SetLimit(goruntime.GOMAXPROCS(0))
	for i := range d.Clusters {
		g.Go(func() error { return build(i) })
	}
	return g.Wait()
}

func (b *objectBuilder) appNamespace(ns v1alpha1.Namespace, revision string, egress v1alpha1.Egress, cd *ClusterDesired, podRanges map[string]string) {
	labels := map[string]string{}
	level := ns.PodSecurity
	if level == "" {
		level = v1alpha1.PodSecurityBaseline
	}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		labels["pod-security.kubernetes.io/"+mode] = level
	}
	why := []string{"Pod Security level " + level}
	if ns.Injection == nil || *ns.Injection {
		labels[LabelRevision] = revision
		why = append(why, "sidecars of revision "+revision)
	} else {
		labels[labelInjection] = "disabled"
		why = append(why, "no sidecar injection")
	}
	b.add("", namespaceMap(ns.Name, labels), RoleNamespace,
		fmt.Sprintf("application namespace %s of the federation: %s", ns.Name, strings.Join(why, ", ")))
	if ns.DefaultNetworkPolicy != nil && !*ns.DefaultNetworkPolicy {
		return
	}
	b.networkPolicies(ns.Name, revision, cd.Name, podRanges, cd.Revision != "")
	b.egressPolicies(ns.Name, egress, cd.WorkloadPool != "")
}

func (b *objectBuilder) networkPolicies(ns, revision, cluster string, podRanges map[string]string, managed bool) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p corev1.Protocol, n int) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(int32(n))
		return networkingv1.NetworkPolicyPort{Protocol: &p, Port: &v}
	}
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	istioNS := &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: IstioNamespace}}
	meshPeers := []networkingv1.NetworkPolicyPeer{
		{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelRevision: revision}}},
		{NamespaceSelector: istioNS},
	}
	var peers []string
	for name, cidr := range podRanges {
		if name != cluster && cidr != "" {
			peers = append(peers, cidr)
		}
	}
	sort.Strings(peers)
	for _, cidr := range peers {
		meshPeers = append(meshPeers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
	}
	policies := []struct {
		name, reason string
		spec         networkingv1.NetworkPolicySpec
	}{
		{PolicyDenyAll, "deny by default: pods of " + ns + " receive and send only what the other default policies allow",
			networkingv1.NetworkPolicySpec{PolicyTypes: both}},
		{PolicyDNS, "pods resolve names through the cluster DNS (port 53, UDP and TCP)",
			networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{port(udp, 53), port(tcp, 53)}}}}},
		{PolicyIstiod, "sidecars fetch configuration and certificates from istiod in istio-system (15012) and report to it (15014)",
			networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: istioNS}},
					Ports: []networkingv1.NetworkPolicyPort{port(tcp, 15012), port(tcp, 15014)}}}}},
		{PolicyMesh, "mesh traffic (mutual TLS between sidecars) to and from the namespaces of revision " + revision + ", istio-system and the pod ranges of the peer clusters",
			networkingv1.NetworkPolicySpec{PolicyTypes: both,
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: meshPeers}},
				Egress:  []networkingv1.NetworkPolicyEgressRule{{To: meshPeers}}}},
	}
	if managed {
		// The managed control plane serves configuration and certificates from Google's APIs,
		// outside the cluster, on 443.
		policies[2].name = PolicyManagedControlPlane
		policies[2].reason = "sidecars fetch configuration and certificates from the managed control plane, Google APIs outside the cluster on 443"
		policies[2].spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{outside()}, Ports: []networkingv1.NetworkPolicyPort{port(tcp, 443)}}}
	}
	for _, p := range policies {
		b.add(ns, &networkingv1.NetworkPolicy{ObjectMeta: meta(p.name, nil), Spec: p.spec}, "", p.reason)
	}
}

// outside is every address outside the private ranges the cluster and its peers live in, which
// the mesh and istiod policies govern, and the link-local range of the node's servers.
func outside() networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"}}}
}

// Addresses of GKE's metadata server: pods reach 169.254.169.254:80, which each node redirects
// to its gke-metadata-server on 169.254.169.252:988 when Workload Identity is on.
const (
	metadataServer     = "169.254.169.254/32"
	metadataServerNode = "169.254.169.252/32"
	// PolicyEgress and PolicyMetadata are the default policies that let egress leave the pod.
	PolicyEgress   = "asmfed-allow-egress"
	PolicyMetadata = "asmfed-allow-metadata"
)

// egressPolicies make L3 agree with L7. Without an egress gateway, the allow-list's ports are open
// to addresses outside the cluster's private ranges (the rule's addresses when it lists them) and
// Istio's REGISTRY_ONLY, with a ServiceEntry per rule, decides the host; under ALLOW_ANY every
// port is open, as Istio lets every host through. With an egress gateway, the allow-list leaves
// only through it: pods reach the gateway's pods, and the gateway (in istio-system, which no
// policy restricts) reaches the hosts. Where Workload Identity is on, pods reach the metadata
// server for their tokens. DNS, NodeLocal DNSCache included, is asmfed-allow-dns's.
func (b *objectBuilder) egressPolicies(ns string, egress v1alpha1.Egress, workloadIdentity bool) {
	egressOnly := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	tcp := corev1.ProtocolTCP
	port := func(n int32) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(n)
		return networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &v}
	}
	outside := outside()
	switch {
	case egress.Mode == v1alpha1.EgressAllowAny:
		b.add(ns, &networkingv1.NetworkPolicy{ObjectMeta: meta(PolicyEgress, nil), Spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{outside}}}}}, "",
			"egress is ALLOW_ANY: Istio lets pods of "+ns+" reach any external host, so the network lets them reach any address outside the cluster's private ranges")
	case egress.Gateway && len(egress.Allow) > 0:
		var ports []networkingv1.NetworkPolicyPort
		for _, p := range EgressGatewayPorts(egress.Allow) {
			ports = append(ports, port(p.TargetPort))
		}
		gw := networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: IstioNamespace}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: EgressGatewaySelector},
		}
		b.add(ns, &networkingv1.NetworkPolicy{ObjectMeta: meta(PolicyEgress, nil), Spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{gw}, Ports: ports}}}}, "",
			fmt.Sprintf("egress leaves through the egress gateway: pods of %s reach its pods in %s on the ports they listen on, and no allow-listed address directly", ns, IstioNamespace))
	case len(egress.Allow) > 0:
		var rules []networkingv1.NetworkPolicyEgressRule
		var hosts []string
		for _, r := range egress.Allow {
			var ports []networkingv1.NetworkPolicyPort
			for _, p := range r.Ports {
				ports = append(ports, port(p.Number))
			}
			to := []networkingv1.NetworkPolicyPeer{outside}
			if len(r.Addresses) > 0 {
				to = nil
				for _, a := range r.Addresses {
					cidr := a
					if !strings.Contains(cidr, "/") {
						cidr += "/32"
					}
					to = append(to, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
				}
			}
			rules = append(rules, networkingv1.NetworkPolicyEgressRule{To: to, Ports: ports})
			hosts = append(hosts, r.Hosts...)
		}
		b.add(ns, &networkingv1.NetworkPolicy{ObjectMeta: meta(PolicyEgress, nil), Spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly, Egress: rules}}, "",
			fmt.Sprintf("the network lets pods of %s reach the allow-list's ports outside the cluster; Istio's %s and its ServiceEntries decide which hosts (%s)", ns, egress.Mode, strings.Join(hosts, ", ")))
	}
	if workloadIdentity {
		b.add(ns, &networkingv1.NetworkPolicy{ObjectMeta: meta(PolicyMetadata, nil), Spec: networkingv1.NetworkPolicySpec{PolicyTypes: egressOnly,
			Egress: []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: metadataServer}}}, Ports: []networkingv1.NetworkPolicyPort{port(80)}},
				{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: metadataServerNode}}}, Ports: []networkingv1.NetworkPolicyPort{port(988)}},
			}}}, "",
			"Workload Identity: pods of "+ns+" get Google tokens from the GKE metadata server (169.254.169.254:80, served by the node's gke-metadata-server on 169.254.169.252:988)")
	}
}

// ReaderRules are the permissions istiod needs in a peer cluster, and no more: get, list and
// watch on what it discovers services and endpoints from (the read rules of Istio's
// istio-reader role). Unlike that role they grant no writes (serviceexports create/delete are
// for MCS auto-export, which the federation does not turn on) and no tokenreviews or
// subjectaccessreviews (a peer's proxies never authenticate to this cluster). Secrets stay
// readable: istiod's remote credentials controller lists and watches every Secret of a peer and
// never reports the peer synced without them, and turning it off
// (PILOT_ENABLE_REMOTE_CREDENTIALS_CONTROLLER=false) crashes istiod of the 1.31 line.
func ReaderRules() []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"config.istio.io", "security.istio.io", "networking.istio.io", "authentication.istio.io", "rbac.istio.io", "telemetry.istio.io", "extensions.istio.io"}, Resources: []string{"*"}, Verbs: read},
		{APIGroups: []string{""}, Resources: []string{"endpoints", "pods", "services", "nodes", "replicationcontrollers", "namespaces", "configmaps", "secrets"}, Verbs: read},
		{APIGroups: []string{"networking.x-k8s.io", "gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: read},
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		{APIGroups: []string{"multicluster.x-k8s.io"}, Resources: []string{"serviceexports", "serviceimports"}, Verbs: read},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: read},
	}
}

// ReaderAccount names the account, in a target cluster, whose token the holder's remote secret
// carries; its ClusterRoleBinding has the same name. Each peer has its own, so that removing a
// peer deletes its credentials and leaves the others' valid.
func ReaderAccount(holder string) string { return readerPrefix + holder }

// ReaderTokenSecret names the long-lived token Secret of the holder's reader account.
func ReaderTokenSecret(holder string) string { return ReaderAccount(holder) + "-token" }

// reader adds, in a cluster peers read from, the reader account of one peer (the holder), its
// binding to the read-only ClusterRole and its long-lived token Secret.
func (b *objectBuilder) reader(holder string) {
	ns, sa := IstioNamespace, ReaderAccount(holder)
	b.add(ns, serviceAccountMap(sa), "",
		fmt.Sprintf("the identity istiod in %s, and only it, uses to watch %s's services and endpoints; deleted when %s leaves", holder, b.cluster, holder))
	saAddr := plan.ObjectAddress(b.cluster, ns, "ServiceAccount", sa)
	b.add("", readerBindingMap(sa, ns), "", "grants "+sa+" the read-only role "+ReaderClusterRole+" and nothing else", plan.ObjectAddress(b.cluster, "", "ClusterRole", ReaderClusterRole), saAddr)
	b.add(ns, secretMap(ReaderTokenSecret(holder), nil, map[string]string{corev1.ServiceAccountNameKey: sa}, corev1.SecretTypeServiceAccountToken), RoleReaderToken, fmt.Sprintf("the long-lived token of %s that the remote secret in %s carries; deleting it invalidates the token", sa, holder), saAddr)
}

// meshPolicy adds mesh-wide mTLS, the egress allow-list with its routing through the egress
// gateway when there is one, and the ingress Gateway. They are plain Istio resources, the same
// for an in-cluster and a managed control plane.
func (b *objectBuilder) meshPolicy(m v1alpha1.Mesh, workloadIdentity bool) {
	ns := IstioNamespace
	b.add(ns, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersions["PeerAuthentication"], "kind": "PeerAuthentication", "metadata": map[string]any{"name": "default"},
		"spec": map[string]any{"mtls": map[string]any{"mode": m.MTLS}},
	}}, "", fmt.Sprintf("mesh-wide mutual TLS %s: in istio-system, the root namespace, it applies to every workload", m.MTLS))
	for _, rule := range m.Egress.Allow {
		var ports []any
		for _, p := range rule.Ports {
			ports = append(ports, map[string]any{"number": int64(p.Number), "name": strings.ToLower(p.Protocol) + "-" + fmt.Sprint(p.Number), "protocol": p.Protocol})
		}
		resolution := "DNS"
		for _, h := range rule.Hosts {
			if strings.HasPrefix(h, "*") {
				resolution = "NONE"
			}
		}
		spec := map[string]any{"hosts": toAny(rule.Hosts), "ports": ports, "location": "MESH_EXTERNAL", "resolution": resolution, "exportTo": []any{"*"}}
		if len(rule.Addresses) > 0 {
			spec["addresses"] = toAny(rule.Addresses)
		}
		b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersions["ServiceEntry"], "kind": "ServiceEntry",
			"metadata": map[string]any{"name": "asmfed-egress-" + rule.Name}, "spec": spec}}, "",
			fmt.Sprintf("egress is %s: %s is reachable from the mesh because spec.mesh.egress.allow lists it", m.Egress.Mode, strings.Join(rule.Hosts, ", ")))
	}
	if workloadIdentity && m.Egress.Mode == v1alpha1.EgressRegistryOnly {
		b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersions["ServiceEntry"], "kind": "ServiceEntry",
			"metadata": map[string]any{"name": "asmfed-egress-gke-metadata"}, "spec": map[string]any{
				"hosts": []any{"metadata.google.internal"}, "addresses": []any{"169.254.169.254/32"},
				"ports":    []any{map[string]any{"number": int64(80), "name": "http-80", "protocol": "HTTP"}},
				"location": "MESH_EXTERNAL", "resolution": "STATIC", "endpoints": []any{map[string]any{"address": "169.254.169.254"}}, "exportTo": []any{"*"}}}}, "",
			"Workload Identity under REGISTRY_ONLY: the sidecar lets workloads reach the GKE metadata server for their Google tokens")
	}
	if m.Egress.Gateway && len(m.Egress.Allow) > 0 {
		b.egressGateway(m.Egress)
	}
	in := m.Ingress
	if !v1alpha1.Bool(in.Enabled) {
		return
	}
	servers := []any{}
	if t := in.TLS; t != nil {
		tls := map[string]any{"mode": t.Mode}
		if t.Mode != v1alpha1.TLSPassthrough {
			tls["minProtocolVersion"] = t.MinProtocolVersion
			credential := t.CredentialName
			if credential == "" && t.CertFile != "" {
				credential = IngressCredentialSecret
				o := b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
					"metadata": map[string]any{"name": IngressCredentialSecret}}}, RoleIngressCredential,
					"the ingress gateway's certificate, from spec.mesh.ingress.tls certFile and keyFile")
				if o != nil {
					o.Pending = fmt.Sprintf("data: tls.crt and tls.key from %s and %s", t.CertFile, t.KeyFile)
					if t.CACertFile != "" {
						o.Pending += ", ca.crt from " + t.CACertFile
					}
				}
			}
			tls["credentialName"] = credential
		}
		protocol := "HTTPS"
		if t.Mode == v1alpha1.TLSPassthrough {
			protocol = "TLS"
		}
		servers = append(servers, map[string]any{"port": map[string]any{"number": int64(443), "name": "https", "protocol": protocol}, "hosts": toAny(in.Hosts), "tls": tls})
	} else {
		servers = append(servers, map[string]any{"port": map[string]any{"number": int64(80), "name": "http", "protocol": "HTTP"}, "hosts": toAny(in.Hosts)})
	}
	reason := "the ingress gateway's listener"
	if in.TLS != nil {
		reason += fmt.Sprintf(": TLS %s at the gateway, minimum %s", in.TLS.Mode, in.TLS.MinProtocolVersion)
	}
	b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersions["Gateway"], "kind": "Gateway", "metadata": map[string]any{"name": "asmfed-ingress"},
		"spec": map[string]any{"selector": toAnyMap(IngressGatewaySelector(in.Name)), "servers": servers}}}, "", reason)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// AttachControlPlane adds each cluster's rendered control plane (Istio's install, from
// pkg/istio/render) to the desired objects: CRDs, then everything else, which waits for every CRD
// of its cluster; the federation's own objects of Istio kinds wait for their CRD. The compiler
// leaves the control plane out because rendering it runs Istio's library; the result is the
// same value the plan and render --derived show.
func (d *Desired) AttachControlPlane(manifests map[string][]*unstructured.Unstructured) error {
	for i := range d.Clusters {
		cd := &d.Clusters[i]
		ms := manifests[cd.Name]
		if len(ms) == 0 {
			continue
		}
		b := &objectBuilder{fed: d.Federation, cluster: cd.Name}
		have := map[plan.Address]bool{}
		for _, o := range cd.Objects {
			have[o.Address] = true
		}
		var crds []plan.Address
		for _, u := range ms {
			if u.GetKind() != "CustomResourceDefinition" {
				continue
			}
			if o := b.add("", u, RoleCRD, fmt.Sprintf("Istio's API %s, installed before the control plane that serves it", u.GetName())); o != nil {
				crds = append(crds, o.Address)
			}
		}
		for _, u := range ms {
			kind := u.GetKind()
			if kind == "CustomResourceDefinition" {
				continue
			}
			// The federation already manages istio-system, with its network label.
			if kind == "Namespace" && have[plan.ObjectAddress(cd.Name, "", "Namespace", u.GetName())] {
				continue
			}
			role := ObjectRole("")
			deps := crds
			if kind == "Deployment" {
				role = RoleWorkload
				// istiod picks its CA when it starts: without cacerts it signs with a root
				// of its own until restarted, so the plug-in intermediate comes first.
				if cacerts := plan.ObjectAddress(cd.Name, IstioNamespace, "Secret", cacertsSecret); have[cacerts] && strings.HasPrefix(u.GetName(), "istiod") {
					deps = append(slices.Clone(crds), cacerts)
				}
			}
			b.add(u.GetNamespace(), u, role, fmt.Sprintf("Istio control plane (revision %s) rendered by Istio's operator library", d.Mesh.Revision), deps...)
		}
		if b.err != nil {
			return b.err
		}
		installed := map[plan.Address]bool{}
		for _, a := range crds {
			installed[a] = true
		}
		for j := range cd.Objects {
			o := &cd.Objects[j]
			if crd, ok := CRDOf[o.Kind]; ok {
				if a := plan.ObjectAddress(cd.Name, "", "CustomResourceDefinition", crd); installed[a] && !slices.Contains(o.DependsOn, a) {
					o.DependsOn = append(o.DependsOn, a)
				}
			}
		}
		cd.Objects = append(cd.Objects, b.objs...)
		sort.Slice(cd.Objects, func(i, j int) bool { return cd.Objects[i].Address < cd.Objects[j].Address })
	}
	return nil
}
