// Package netpol evaluates Kubernetes NetworkPolicy semantics: given the policies of a cluster,
// its namespaces and a connection (a source pod, a destination pod or address, a port and a
// protocol), it says whether the policies allow it and which policy decided. It is pure: the
// tool's tests use it on the policies the federation derives, and verify on the policies it reads.
//
// It follows the API's documented semantics: a pod is isolated for a direction when a policy of
// its namespace selects it and has that direction in its policy types (Ingress always, Egress
// when listed or when egress rules exist); an isolated pod accepts a connection in that
// direction when any selecting policy has a rule whose peers and ports match; a connection needs
// both the source's egress and the destination's ingress to allow it.
package netpol

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Pod is a pod by what policies see of it.
type Pod struct {
	Namespace string
	Labels    map[string]string
	// IP is the pod's address; ipBlock peers match it.
	IP netip.Addr
	// Ports are the pod's named container ports, for policies that name a port.
	Ports map[string]int32
}

// Endpoint is one end of a connection: a pod of the cluster, or an address outside it.
type Endpoint struct {
	// Pod is nil for an address outside the cluster.
	Pod *Pod
	// IP is the address of an endpoint outside the cluster.
	IP netip.Addr
}

func (e Endpoint) addr() netip.Addr {
	if e.Pod != nil {
		return e.Pod.IP
	}
	return e.IP
}

func (e Endpoint) String() string {
	if e.Pod != nil {
		return fmt.Sprintf("pod %v in %s (%s)", e.Pod.Labels, e.Pod.Namespace, e.Pod.IP)
	}
	return e.IP.String()
}

// Connection is a connection from a pod to an endpoint.
type Connection struct {
	From     Pod
	To       Endpoint
	Port     int32
	Protocol corev1.Protocol
}

// Cluster is what policies are evaluated against: the policies and the namespaces' labels
// (namespace selectors match them; kubernetes.io/metadata.name is added if missing).
type Cluster struct {
	Policies   []networkingv1.NetworkPolicy
	Namespaces map[string]map[string]string
}

// Verdict says whether a connection is allowed and why.
type Verdict struct {
	Allowed bool
	// Reason names the policy that allowed it, or says why nothing did.
	Reason string
	// Isolating names, when the connection is denied, the policies (namespace/name) that isolate
	// the pod in the direction that denied it, none of which allows the connection.
	Isolating []string
}

// Allowed evaluates a connection: the source's egress, then, for a destination pod, its ingress.
func (c *Cluster) Allowed(conn Connection) Verdict {
	if conn.Protocol == "" {
		conn.Protocol = corev1.ProtocolTCP
	}
	out := c.direction(conn.From, conn.To, conn, networkingv1.PolicyTypeEgress)
	if !out.Allowed || conn.To.Pod == nil {
		return out
	}
	in := c.direction(*conn.To.Pod, Endpoint{Pod: &conn.From}, conn, networkingv1.PolicyTypeIngress)
	if !in.Allowed {
		return in
	}
	return Verdict{Allowed: true, Reason: out.Reason + "; " + in.Reason}
}

// direction evaluates one side: subject is the pod whose policies apply, peer the other end.
func (c *Cluster) direction(subject Pod, peer Endpoint, conn Connection, dir networkingv1.PolicyType) Verdict {
	var isolating []string
	for i := range c.Policies {
		p := &c.Policies[i]
		if p.Namespace != subject.Namespace || !hasType(p, dir) || !matches(&p.Spec.PodSelector, subject.Labels) {
			continue
		}
		isolating = append(isolating, p.Namespace+"/"+p.Name)
		if c.ruleAllows(p, peer, conn, dir, subject) {
			return Verdict{Allowed: true, Reason: fmt.Sprintf("%s allowed by NetworkPolicy %s/%s", dir, p.Namespace, p.Name)}
		}
	}
	if len(isolating) == 0 {
		return Verdict{Allowed: true, Reason: fmt.Sprintf("%s not isolated: no NetworkPolicy of %s selects the pod for %s", dir, subject.Namespace, dir)}
	}
	return Verdict{Reason: fmt.Sprintf("%s denied: the pod in %s is isolated for %s and no policy allows %s port %d/%s", dir, subject.Namespace, dir, peer, conn.Port, conn.Protocol),
		Isolating: isolating}
}

// hasType applies the API's default: Ingress always, Egress when egress rules exist.
func hasType(p *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return dir == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		if t == dir {
			return true
		}
	}
	return false
}

func (c *Cluster) ruleAllows(p *networkingv1.NetworkPolicy, peer Endpoint, conn Connection, dir networkingv1.PolicyType, subject Pod) bool {
	// Named ports are resolved on the destination pod: the peer for egress, the subject for ingress.
	var named map[string]int32
	if dir == networkingv1.PolicyTypeEgress && peer.Pod != nil {
		named = peer.Pod.Ports
	} else if dir == networkingv1.PolicyTypeIngress {
		named = subject.Ports
	}
	if dir == networkingv1.PolicyTypeEgress {
		for _, r := range p.Spec.Egress {
			if c.peersMatch(r.To, p.Namespace, peer) && portsMatch(r.Ports, conn, named) {
				return true
			}
		}
		return false
	}
	for _, r := range p.Spec.Ingress {
		if c.peersMatch(r.From, p.Namespace, peer) && portsMatch(r.Ports, conn, named) {
			return true
		}
	}
	return false
}

// peersMatch: no peers means every peer.
func (c *Cluster) peersMatch(peers []networkingv1.NetworkPolicyPeer, policyNS string, e Endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if c.peerMatches(p, policyNS, e) {
			return true
		}
	}
	return false
}

func (c *Cluster) peerMatches(p networkingv1.NetworkPolicyPeer, policyNS string, e Endpoint) bool {
	if p.IPBlock != nil {
		return ipBlockMatches(p.IPBlock, e.addr())
	}
	if e.Pod == nil {
		return false // selectors match pods of the cluster only
	}
	if p.NamespaceSelector == nil {
		if e.Pod.Namespace != policyNS {
			return false
		}
	} else if !matches(p.NamespaceSelector, c.namespaceLabels(e.Pod.Namespace)) {
		return false
	}
	return p.PodSelector == nil || matches(p.PodSelector, e.Pod.Labels)
}

func (c *Cluster) namespaceLabels(ns string) map[string]string {
	out := map[string]string{corev1.LabelMetadataName: ns}
	for k, v := range c.Namespaces[ns] {
		out[k] = v
	}
	return out
}

func ipBlockMatches(b *networkingv1.IPBlock, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !cidr.Contains(ip) {
		return false
	}
	for _, ex := range b.Except {
		if e, err := netip.ParsePrefix(ex); err == nil && e.Contains(ip) {
			return false
		}
	}
	return true
}

// portsMatch: no ports means every port; a port without a number means every port of its
// protocol; endPort makes a range; a named port matches the destination's port of that name.
func portsMatch(ports []networkingv1.NetworkPolicyPort, conn Connection, named map[string]int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if proto != conn.Protocol {
			continue
		}
		if p.Port == nil {
			return true
		}
		first := p.Port.IntVal
		if p.Port.Type != 0 { // a named port
			n, ok := named[p.Port.StrVal]
			if !ok {
				continue
			}
			first = n
		}
		last := first
		if p.EndPort != nil {
			last = *p.EndPort
		}
		if conn.Port >= first && conn.Port <= last {
			return true
		}
	}
	return false
}

func matches(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false // an invalid selector selects nothing, as the API server would refuse it
	}
	return s.Matches(labels.Set(l))
}
