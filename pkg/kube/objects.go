package kube

import (
	"encoding/base64"
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
	roleCRD
	roleWorkload
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

// addUnstructured adds a rendered object (the control plane from Istio's library) as it is, with
// the ownership labels. Its kind must be one the engine knows.
func (b *builder) addUnstructured(u *unstructured.Unstructured, r role, reason string, deps ...plan.Address) (*object, error) {
	kindName := u.GetKind()
	k, ok := kinds[kindName]
	if !ok {
		return nil, fmt.Errorf("cluster %s: %s %s: kind %s is not one the tool applies", b.cluster, kindName, u.GetName(), kindName)
	}
	u = u.DeepCopy()
	dropNulls(u.Object)
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	u.SetAPIVersion(k.apiVersion)
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedByValue
	labels[LabelFederation] = b.fed
	u.SetLabels(labels)
	namespace := ""
	if k.namespaced {
		namespace = u.GetNamespace()
		if namespace == "" {
			return nil, fmt.Errorf("cluster %s: %s %s has no namespace", b.cluster, kindName, u.GetName())
		}
		deps = append([]plan.Address{Address(b.cluster, "", "Namespace", namespace)}, deps...)
	} else {
		u.SetNamespace("")
	}
	rf := ref{Cluster: b.cluster, Namespace: namespace, Kind: kindName, Name: u.GetName()}
	o := &object{ref: rf, u: u, role: r, res: plan.Resource{
		Address: rf.Address(), Kind: kindName, Group: "cluster " + b.cluster, Fields: objectFields(u), Owned: true,
		Reason: reason, DependsOn: deps, Immutable: k.immutable, Sensitive: k.sensitive,
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
func desiredObjects(f *v1alpha1.Federation, d *federation.Desired, caPlugin bool, rootFingerprint string, opts Options) (map[string][]*object, error) {
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
		if err := b.install(opts.Manifests[c.Name], d.Mesh.Revision); err != nil {
			return nil, err
		}
		if opts.MeshPolicy {
			if err := b.meshPolicy(f, opts.IngressCredential); err != nil {
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
		{APIGroups: []string{""}, Resources: []string{"endpoints", "pods", "services", "nodes", "replicationcontrollers", "namespaces", "secrets", "configmaps"}, Verbs: read},
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

// install adds a rendered control plane: CRDs first (each waited on until established), then
// everything else, which waits for every CRD of its cluster.
func (b *builder) install(manifests []*unstructured.Unstructured, revision string) error {
	var crds []plan.Address
	for _, u := range manifests {
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		o, err := b.addUnstructured(u, roleCRD, fmt.Sprintf("Istio's API %s, installed before the control plane that serves it", u.GetName()))
		if err != nil {
			return err
		}
		crds = append(crds, o.res.Address)
	}
	have := map[plan.Address]bool{}
	for _, o := range b.objs {
		have[o.res.Address] = true
	}
	for _, u := range manifests {
		if u.GetKind() == "CustomResourceDefinition" {
			continue
		}
		// The federation already manages istio-system, with its network label.
		if u.GetKind() == "Namespace" && have[Address(b.cluster, "", "Namespace", u.GetName())] {
			continue
		}
		r := rolePlain
		if u.GetKind() == "Deployment" {
			r = roleWorkload
		}
		if _, err := b.addUnstructured(u, r, fmt.Sprintf("Istio control plane (revision %s) rendered by Istio's operator library", revision), crds...); err != nil {
			return err
		}
	}
	return nil
}

// IngressCredential is the certificate the ingress gateway terminates TLS with, when the file
// gives certFile and keyFile rather than an existing Secret.
type IngressCredential struct {
	CertPEM, KeyPEM, CAPEM []byte
}

// IngressCredentialSecret names the Secret created from the file's certFile and keyFile.
const IngressCredentialSecret = "asmfed-ingress-credential"

// meshPolicy adds mesh-wide mTLS, the egress allow-list and the ingress Gateway. Their kinds come
// with Istio's CRDs, so each waits for its CRD when the CRDs are part of this apply.
func (b *builder) meshPolicy(f *v1alpha1.Federation, cred *IngressCredential) error {
	ns := federation.IstioNamespace
	crdDep := func(kind string) []plan.Address {
		addr := Address(b.cluster, "", "CustomResourceDefinition", crdOf[kind])
		for _, o := range b.objs {
			if o.res.Address == addr {
				return []plan.Address{addr}
			}
		}
		return nil
	}
	m := f.Spec.Mesh
	pa := &unstructured.Unstructured{Object: map[string]any{
		"kind": "PeerAuthentication", "metadata": map[string]any{"name": "default", "namespace": ns},
		"spec": map[string]any{"mtls": map[string]any{"mode": m.MTLS}},
	}}
	if _, err := b.addUnstructured(pa, rolePlain, fmt.Sprintf("mesh-wide mutual TLS %s: in istio-system, the root namespace, it applies to every workload", m.MTLS), crdDep("PeerAuthentication")...); err != nil {
		return err
	}
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
		se := &unstructured.Unstructured{Object: map[string]any{"kind": "ServiceEntry", "metadata": map[string]any{"name": "asmfed-egress-" + rule.Name, "namespace": ns}, "spec": spec}}
		reason := fmt.Sprintf("egress is %s: %s is reachable from the mesh because spec.mesh.egress.allow lists it", m.Egress.Mode, strings.Join(rule.Hosts, ", "))
		if _, err := b.addUnstructured(se, rolePlain, reason, crdDep("ServiceEntry")...); err != nil {
			return err
		}
	}
	in := m.Ingress
	if !v1alpha1.Bool(in.Enabled) {
		return nil
	}
	selector := map[string]any{"istio": strings.TrimPrefix(in.Name, "istio-")}
	servers := []any{}
	if t := in.TLS; t != nil {
		tls := map[string]any{"mode": t.Mode}
		if t.Mode != v1alpha1.TLSPassthrough {
			tls["minProtocolVersion"] = t.MinProtocolVersion
			credential := t.CredentialName
			if credential == "" && cred != nil {
				credential = IngressCredentialSecret
				data := map[string]any{"tls.crt": base64.StdEncoding.EncodeToString(cred.CertPEM), "tls.key": base64.StdEncoding.EncodeToString(cred.KeyPEM)}
				if len(cred.CAPEM) > 0 {
					data["ca.crt"] = base64.StdEncoding.EncodeToString(cred.CAPEM)
				}
				sec := &unstructured.Unstructured{Object: map[string]any{"kind": "Secret", "type": "kubernetes.io/tls",
					"metadata": map[string]any{"name": IngressCredentialSecret, "namespace": ns}, "data": data}}
				if _, err := b.addUnstructured(sec, rolePlain, "the ingress gateway's certificate, from spec.mesh.ingress.tls certFile and keyFile"); err != nil {
					return err
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
	gw := &unstructured.Unstructured{Object: map[string]any{"kind": "Gateway", "metadata": map[string]any{"name": "asmfed-ingress", "namespace": ns},
		"spec": map[string]any{"selector": selector, "servers": servers}}}
	reason := "the ingress gateway's listener"
	if in.TLS != nil {
		reason += fmt.Sprintf(": TLS %s at the gateway, minimum %s", in.TLS.Mode, in.TLS.MinProtocolVersion)
	}
	_, err := b.addUnstructured(gw, rolePlain, reason, crdDep("Gateway")...)
	return err
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
