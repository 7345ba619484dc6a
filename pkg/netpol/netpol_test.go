package netpol

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func policy(ns, name string, spec networkingv1.NetworkPolicySpec) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func port(proto corev1.Protocol, n int32) networkingv1.NetworkPolicyPort {
	v := intstr.FromInt32(n)
	return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &v}
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

var (
	egress  = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	ingress = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	both    = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	tcp     = corev1.ProtocolTCP
	udp     = corev1.ProtocolUDP
)

func TestAllowed(t *testing.T) {
	app := Pod{Namespace: "apps", Labels: map[string]string{"app": "web"}, IP: netip.MustParseAddr("10.100.0.5")}
	db := Pod{Namespace: "data", Labels: map[string]string{"app": "db"}, IP: netip.MustParseAddr("10.100.1.7"), Ports: map[string]int32{"pg": 5432}}
	external := netip.MustParseAddr("142.250.1.1")
	denyAll := policy("apps", "deny", networkingv1.NetworkPolicySpec{PolicyTypes: both})
	namespaces := map[string]map[string]string{"apps": {"team": "web"}, "data": {"tier": "data"}}
	endPort := int32(8090)
	namedPG := intstr.FromString("pg")
	tests := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		conn     Connection
		allowed  bool
		reason   string
	}{
		{name: "no policy: not isolated", conn: Connection{From: app, To: Endpoint{IP: external}, Port: 443}, allowed: true, reason: "not isolated"},
		{name: "deny all isolates egress", policies: []networkingv1.NetworkPolicy{denyAll}, conn: Connection{From: app, To: Endpoint{IP: external}, Port: 443}, reason: "Egress denied"},
		{name: "a policy of another namespace does not isolate", policies: []networkingv1.NetworkPolicy{policy("other", "deny", networkingv1.NetworkPolicySpec{PolicyTypes: both})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 443}, allowed: true},
		{name: "a pod selector that does not match does not isolate", policies: []networkingv1.NetworkPolicy{policy("apps", "deny", networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "other"), PolicyTypes: both})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 443}, allowed: true},
		{name: "no policy types and no egress rules: ingress only", policies: []networkingv1.NetworkPolicy{policy("apps", "in", networkingv1.NetworkPolicySpec{})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 443}, allowed: true},
		{name: "no policy types with egress rules: egress too", policies: []networkingv1.NetworkPolicy{policy("apps", "out", networkingv1.NetworkPolicySpec{
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{port(udp, 53)}}}})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 443}, reason: "Egress denied"},
		{name: "the union of policies: a second allows what the first denies", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "https", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{port(tcp, 443)}}}})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 443}, allowed: true, reason: "apps/https"},
		{name: "protocol must match", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "dns", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{port(udp, 53)}}}})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 53, Protocol: tcp}},
		{name: "port range with endPort", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "range", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{func() networkingv1.NetworkPolicyPort { p := port(tcp, 8080); p.EndPort = &endPort; return p }()}}}})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 8085}, allowed: true},
		{name: "a port without a number is every port of its protocol", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "tcp", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp}}}}})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 9999}, allowed: true},
		{name: "ipBlock with except", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "internet", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"142.250.0.0/16"}}}}}}})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 443}, reason: "Egress denied"},
		{name: "ipBlock matches a pod by its address", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "pods", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.100.0.0/16"}}}}}})},
			conn: Connection{From: app, To: Endpoint{Pod: &db}, Port: 5432}, allowed: true},
		{name: "selectors never match an address outside the cluster", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "all-ns", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}}})},
			conn: Connection{From: app, To: Endpoint{IP: external}, Port: 443}},
		{name: "an empty namespace selector is every namespace", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "all-ns", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}}})},
			conn: Connection{From: app, To: Endpoint{Pod: &db}, Port: 5432}, allowed: true},
		{name: "a pod selector alone is the policy's own namespace", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "same-ns", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}})},
			conn: Connection{From: app, To: Endpoint{Pod: &db}, Port: 5432}},
		{name: "namespace and pod selector together", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "db", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("tier", "data"), PodSelector: sel("app", "db")}}}}})},
			conn: Connection{From: app, To: Endpoint{Pod: &db}, Port: 5432}, allowed: true},
		{name: "the namespace name label is always there", policies: []networkingv1.NetworkPolicy{denyAll, policy("apps", "db", networkingv1.NetworkPolicySpec{PolicyTypes: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel(corev1.LabelMetadataName, "data")}}}}})},
			conn: Connection{From: app, To: Endpoint{Pod: &db}, Port: 5432}, allowed: true},
		{name: "the destination's ingress must allow it too", policies: []networkingv1.NetworkPolicy{policy("data", "deny", networkingv1.NetworkPolicySpec{PolicyTypes: ingress})},
			conn: Connection{From: app, To: Endpoint{Pod: &db}, Port: 5432}, reason: "Ingress denied"},
		{name: "ingress from a namespace, on a named port", policies: []networkingv1.NetworkPolicy{policy("data", "from-apps", networkingv1.NetworkPolicySpec{PolicyTypes: ingress,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "web")}}, Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &namedPG}}}}})},
			conn: Connection{From: app, To: Endpoint{Pod: &db}, Port: 5432}, allowed: true, reason: "data/from-apps"},
		{name: "a named port the destination does not have", policies: []networkingv1.NetworkPolicy{policy("data", "from-apps", networkingv1.NetworkPolicySpec{PolicyTypes: ingress,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &namedPG}}}}})},
			conn: Connection{From: app, To: Endpoint{Pod: &db}, Port: 5433}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{Policies: tt.policies, Namespaces: namespaces}
			v := c.Allowed(tt.conn)
			if v.Allowed != tt.allowed {
				t.Fatalf("allowed = %v (%s), want %v", v.Allowed, v.Reason, tt.allowed)
			}
			if tt.reason != "" && !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", v.Reason, tt.reason)
			}
		})
	}
}

// A denial names every policy that isolates the pod in the direction that denied it, and only
// those: a policy of another namespace or for the other direction is not one of them.
func TestIsolatingPolicies(t *testing.T) {
	app := Pod{Namespace: "apps", Labels: map[string]string{"app": "web"}, IP: netip.MustParseAddr("10.100.0.5")}
	db := Pod{Namespace: "data", Labels: map[string]string{"app": "db"}, IP: netip.MustParseAddr("10.100.1.7")}
	tcp := corev1.ProtocolTCP
	dnsOnly := policy("apps", "dns-only", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &intstr.IntOrString{IntVal: 53}}}}}})
	denyEgress := policy("apps", "deny-egress", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}})
	ingressOnly := policy("apps", "ingress-only", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}})
	otherPods := policy("apps", "other-pods", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "batch"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}})
	denyIngressDB := policy("data", "deny-in", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}})
	tests := []struct {
		name     string
		policies []networkingv1.NetworkPolicy
		want     []string
	}{
		{name: "egress isolated by two", policies: []networkingv1.NetworkPolicy{dnsOnly, denyEgress, ingressOnly, otherPods}, want: []string{"apps/dns-only", "apps/deny-egress"}},
		{name: "the destination's ingress", policies: []networkingv1.NetworkPolicy{denyIngressDB, ingressOnly}, want: []string{"data/deny-in"}},
		{name: "allowed: none named", policies: []networkingv1.NetworkPolicy{ingressOnly, otherPods}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := (&Cluster{Policies: tt.policies}).Allowed(Connection{From: app, To: Endpoint{Pod: &db}, Port: 5432})
			if v.Allowed != (tt.want == nil) {
				t.Fatalf("allowed = %v (%s)", v.Allowed, v.Reason)
			}
			if diff := cmp.Diff(tt.want, v.Isolating); diff != "" {
				t.Errorf("Isolating (-want +got):\n%s", diff)
			}
		})
	}
}
