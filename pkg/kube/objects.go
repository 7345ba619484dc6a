package kube

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Names and marks of the objects the engine manages.
const (
	// FieldManager is the server-side apply field manager of every write.
	FieldManager = "asmfed"
	// LabelManagedBy and LabelFederation mark what the tool owns.
	LabelManagedBy  = federation.KubeLabelManagedBy
	LabelFederation = federation.KubeLabelFederation
	ManagedByValue  = federation.ManagedByValue
	// LabelNetwork is the Istio network of a cluster, on its istio-system namespace.
	LabelNetwork = "topology.istio.io/network"
	// LabelRevision enrols a namespace in the mesh revision; LabelInjection disables injection.
	LabelRevision  = "istio.io/rev"
	LabelInjection = "istio-injection"
	// ReaderClusterRole and its binding grant the reader account what istiod needs of a peer.
	ReaderClusterRole = "asmfed-istio-reader"
	// ReaderTokenSecret is the long-lived token Secret of the reader account.
	ReaderTokenSecret = "asmfed-istio-reader-token"
	// AnnotationTokenGeneration counts rotations of the reader token, on the token Secret and
	// on every remote secret carrying it.
	AnnotationTokenGeneration = "asmfed.io/token-generation"
	// InventoryPrefix starts the name of each cluster's inventory ConfigMap in istio-system.
	InventoryPrefix = "asmfed-inventory-"
	// InventoryKey is the inventory's data key: the addresses applied, one per line, sorted.
	InventoryKey = "addresses"
	// Default NetworkPolicy names.
	PolicyDenyAll = "asmfed-default-deny"
	PolicyDNS     = "asmfed-allow-dns"
	PolicyIstiod  = "asmfed-allow-istiod"
	PolicyMesh    = "asmfed-allow-mesh"
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

// role says how the engine treats an object beyond applying it.
type role int

const (
	rolePlain role = iota
	roleNamespace
	roleTokenSecret
	roleRemoteSecret
	roleCACerts
	roleInventory
)

// object is a desired or live object with its plan resource.
type object struct {
	ref  ref
	u    *unstructured.Unstructured
	res  plan.Resource
	role role
	// remote is the derivation of a remote secret.
	remote *federation.RemoteSecret
}

func inventoryName(fed string) string { return InventoryPrefix + fed }

// builder accumulates the desired objects of one cluster.
type builder struct {
	fed     string
	cluster string
	objs    []*object
}

func (b *builder) add(kindName, namespace string, typed runtime.Object, r role, reason string, deps ...plan.Address) (*object, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", kindName, err)
	}
	u := &unstructured.Unstructured{Object: m}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if spec, ok := u.Object["spec"].(map[string]any); ok && len(spec) == 0 {
		delete(u.Object, "spec")
	}
	k := kinds[kindName]
	u.SetAPIVersion(k.apiVersion)
	u.SetKind(kindName)
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedByValue
	labels[LabelFederation] = b.fed
	u.SetLabels(labels)
	rf := ref{Cluster: b.cluster, Namespace: namespace, Kind: kindName, Name: u.GetName()}
	if namespace != "" {
		u.SetNamespace(namespace)
		deps = append([]plan.Address{Address(b.cluster, "", "Namespace", namespace)}, deps...)
	}
	o := &object{ref: rf, u: u, role: r, res: plan.Resource{
		Address:   rf.Address(),
		Kind:      kindName,
		Group:     "cluster " + b.cluster,
		Fields:    objectFields(u),
		Owned:     true,
		Reason:    reason,
		DependsOn: deps,
		Immutable: k.immutable,
		Sensitive: k.sensitive,
	}}
	b.objs = append(b.objs, o)
	return o, nil
}

// meta is ObjectMeta with a name and labels.
func meta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: labels}
}

// desiredObjects builds every object the federation wants in every cluster, keyed by cluster.
// Remote secrets' data and cacerts' data are filled in later: they depend on live state.
func desiredObjects(f *v1alpha1.Federation, d *federation.Desired, caPlugin bool, rootFingerprint string) (map[string][]*object, error) {
	out := map[string][]*object{}
	podRanges := map[string]string{}
	for _, c := range d.Clusters {
		podRanges[c.Name] = c.PodRange
	}
	targets := map[string]bool{}
	for _, rs := range d.RemoteSecrets {
		targets[rs.Target] = true
	}
	for _, c := range d.Clusters {
		b := &builder{fed: d.Federation, cluster: c.Name}
		istioNS := federation.IstioNamespace
		if _, err := b.add("Namespace", "", &corev1.Namespace{ObjectMeta: meta(istioNS, map[string]string{LabelNetwork: c.Network})}, roleNamespace,
			fmt.Sprintf("the Istio control plane's namespace; %s=%s puts %s on the mesh's one network, so its pods talk to every peer's pods directly", LabelNetwork, c.Network, c.Name)); err != nil {
			return nil, err
		}
		for _, ns := range f.Spec.Namespaces {
			if err := b.appNamespace(ns, d.Mesh, c.Name, podRanges); err != nil {
				return nil, err
			}
		}
		if targets[c.Name] {
			if err := b.reader(d); err != nil {
				return nil, err
			}
		}
		for i := range d.RemoteSecrets {
			rs := &d.RemoteSecrets[i]
			if rs.Holder != c.Name {
				continue
			}
			o, err := b.add("Secret", rs.Namespace, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: rs.Name, Labels: rs.Labels, Annotations: rs.Annotations},
				Type:       corev1.SecretTypeOpaque,
			}, roleRemoteSecret, rs.Reason,
				Address(rs.Target, federation.IstioNamespace, "Secret", ReaderTokenSecret),
				Address(rs.Target, "", "ClusterRoleBinding", ReaderClusterRole))
			if err != nil {
				return nil, err
			}
			o.remote = rs
		}
		if caPlugin {
			if _, err := b.add("Secret", istioNS, &corev1.Secret{ObjectMeta: meta("cacerts", nil), Type: corev1.SecretTypeOpaque}, roleCACerts,
				fmt.Sprintf("istiod in %s signs workload certificates with an intermediate of the shared root %s, so workloads of every cluster trust each other", c.Name, rootFingerprint)); err != nil {
				return nil, err
			}
		}
		// The inventory waits for everything else in its cluster: its final content is written
		// once the rest is done (apply records the union beforehand).
		var deps []plan.Address
		for _, o := range b.objs {
			deps = append(deps, o.res.Address)
		}
		if _, err := b.add("ConfigMap", istioNS, &corev1.ConfigMap{ObjectMeta: meta(inventoryName(d.Federation), nil)}, roleInventory,
			fmt.Sprintf("lists what federation %s applied to %s, so that objects it no longer wants are found and pruned", d.Federation, c.Name), deps...); err != nil {
			return nil, err
		}
		out[c.Name] = b.objs
	}
	return out, nil
}

func (b *builder) appNamespace(ns v1alpha1.Namespace, mesh federation.MeshIdentity, cluster string, podRanges map[string]string) error {
	labels := map[string]string{}
	level := ns.PodSecurity
	if level == "" {
		level = v1alpha1.PodSecurityBaseline
	}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		labels["pod-security.kubernetes.io/"+mode] = level
	}
	why := []string{"Pod Security level " + level}
	injection := ns.Injection == nil || *ns.Injection
	if injection {
		labels[LabelRevision] = mesh.Revision
		why = append(why, "sidecars of revision "+mesh.Revision)
	} else {
		labels[LabelInjection] = "disabled"
		why = append(why, "no sidecar injection")
	}
	if _, err := b.add("Namespace", "", &corev1.Namespace{ObjectMeta: meta(ns.Name, labels)}, roleNamespace,
		fmt.Sprintf("application namespace %s of the federation: %s", ns.Name, strings.Join(why, ", "))); err != nil {
		return err
	}
	if ns.DefaultNetworkPolicy != nil && !*ns.DefaultNetworkPolicy {
		return nil
	}
	return b.networkPolicies(ns.Name, mesh.Revision, cluster, podRanges)
}

func (b *builder) networkPolicies(ns, revision, cluster string, podRanges map[string]string) error {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p corev1.Protocol, n int) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(int32(n))
		return networkingv1.NetworkPolicyPort{Protocol: &p, Port: &v}
	}
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	istioNS := &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: federation.IstioNamespace}}
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
	for _, p := range policies {
		np := &networkingv1.NetworkPolicy{ObjectMeta: meta(p.name, nil), Spec: p.spec}
		if _, err := b.add("NetworkPolicy", ns, np, rolePlain, p.reason); err != nil {
			return err
		}
	}
	return nil
}

// ReaderRules are the read-only permissions istiod needs in a peer cluster: those of the
// istio-reader ClusterRole that istioctl create-remote-secret binds the reader account to.
func ReaderRules() []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"config.istio.io", "security.istio.io", "networking.istio.io", "authentication.istio.io", "rbac.istio.io", "telemetry.istio.io", "extensions.istio.io"}, Resources: []string{"*"}, Verbs: read},
		{APIGroups: []string{""}, Resources: []string{"endpoints", "pods", "services", "nodes", "replicationcontrollers", "namespaces", "secrets"}, Verbs: read},
		{APIGroups: []string{"networking.istio.io"}, Resources: []string{"workloadentries"}, Verbs: read},
		{APIGroups: []string{"networking.x-k8s.io", "gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: read},
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		{APIGroups: []string{"multicluster.x-k8s.io"}, Resources: []string{"serviceexports"}, Verbs: []string{"get", "list", "watch", "create", "delete"}},
		{APIGroups: []string{"multicluster.x-k8s.io"}, Resources: []string{"serviceimports"}, Verbs: read},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: read},
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
}

// reader adds, in a cluster peers read from, the reader account, its ClusterRole and binding
// and its long-lived token Secret.
func (b *builder) reader(d *federation.Desired) error {
	ns := federation.IstioNamespace
	sa := federation.ReaderServiceAccount
	why := fmt.Sprintf("the identity the istiod of every peer uses to watch %s's services and endpoints", b.cluster)
	if _, err := b.add("ServiceAccount", ns, &corev1.ServiceAccount{ObjectMeta: meta(sa, nil)}, rolePlain, why); err != nil {
		return err
	}
	if _, err := b.add("ClusterRole", "", &rbacv1.ClusterRole{ObjectMeta: meta(ReaderClusterRole, nil), Rules: ReaderRules()}, rolePlain,
		"read-only access istiod needs to a peer (the istio-reader role of istioctl create-remote-secret)"); err != nil {
		return err
	}
	saAddr := Address(b.cluster, ns, "ServiceAccount", sa)
	if _, err := b.add("ClusterRoleBinding", "", &rbacv1.ClusterRoleBinding{
		ObjectMeta: meta(ReaderClusterRole, nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ReaderClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
	}, rolePlain, "grants "+sa+" the read-only role", Address(b.cluster, "", "ClusterRole", ReaderClusterRole), saAddr); err != nil {
		return err
	}
	o, err := b.add("Secret", ns, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: ReaderTokenSecret, Annotations: map[string]string{corev1.ServiceAccountNameKey: sa}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}, roleTokenSecret, "the long-lived token of "+sa+" that remote secrets in the peers carry; deleting it invalidates the token", saAddr)
	if err != nil {
		return err
	}
	o.res.Immutable = append(append([]string{}, o.res.Immutable...), fieldTokenGeneration)
	return nil
}

// generation reads the token generation annotation, 1 when absent or malformed.
func generation(a map[string]string) int {
	n, err := strconv.Atoi(a[AnnotationTokenGeneration])
	if err != nil || n < 1 {
		return 1
	}
	return n
}
