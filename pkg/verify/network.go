package verify

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/netpol"
	"github.com/asmfed/kubectl-asmfed/pkg/vpcfw"
)

// flow is one connection the mesh needs, as the firewall sees it.
type flow struct {
	what string
	// fromKind/fromName and toKind/toName name the ends as a drawing does: a cluster's control
	// plane ("cp") or nodes ("nodes"), or an admin network ("admin", by CIDR).
	fromKind, fromName, toKind, toName string
	conn                               vpcfw.Connection
	fix                                string
}

// FlowVerdict is what the live firewall does to one flow the mesh needs.
type FlowVerdict struct {
	FromKind, From, ToKind, To string
	// What describes the flow, e.g. "control plane 192.168.2.0/28 → nodes of c1 on tcp:15017".
	What    string
	Allowed bool
	// Rule decided; empty when an implied rule did.
	Rule, Reason string
	// Fix says what to allow when the flow is blocked.
	Fix string
}

// FirewallVerdicts evaluates every flow the mesh needs against the live rules; nil when the rules
// were not read.
func FirewallVerdicts(env *Env) []FlowVerdict {
	if env.Derived == nil || env.Firewall == nil {
		return nil
	}
	var out []FlowVerdict
	for _, fl := range meshFlows(env) {
		v := vpcfw.Check(env.Firewall, fl.conn)
		out = append(out, FlowVerdict{FromKind: fl.fromKind, From: fl.fromName, ToKind: fl.toKind, To: fl.toName, What: fl.what,
			Allowed: v.Allowed, Rule: v.Rule, Reason: v.Reason, Fix: fl.fix})
	}
	return out
}

// meshFlows lists the flows the federation needs through the VPC firewall: each control plane to
// its nodes on every webhook port, each cluster's pods to every peer's pods on the mesh ports,
// and the admin networks to every cluster's nodes.
func meshFlows(env *Env) []flow {
	d, f := env.Derived, env.Federation
	var out []flow
	host := nthAddr
	for _, c := range d.Clusters {
		for _, port := range federation.WebhookPorts(f.Spec.Mesh) {
			out = append(out, flow{
				what:     fmt.Sprintf("control plane %s → nodes of %s on tcp:%d", c.ControlPlaneRange, c.Name, port),
				fromKind: "cp", fromName: c.Name, toKind: "nodes", toName: c.Name,
				conn: vpcfw.Connection{From: vpcfw.Instance{IP: host(c.ControlPlaneRange, 2)}, To: vpcfw.Instance{IP: host(c.PodRange, 9), Tags: c.NodeTags}, Protocol: "tcp", Port: int(port)},
				fix: fmt.Sprintf("allow tcp:%d from %s to the nodes tagged %s (kubectl asmfed apply recreates the federation's webhooks rule); istiod's sidecar injection and validation need it",
					port, c.ControlPlaneRange, strings.Join(c.NodeTags, ",")),
			})
		}
		for _, p := range d.Clusters {
			if p.Name == c.Name {
				continue
			}
			for _, mp := range meshPorts(f) {
				proto, port := mp.proto, mp.port
				out = append(out, flow{
					what:     fmt.Sprintf("pods of %s → pods of %s on %s:%d", c.Name, p.Name, proto, port),
					fromKind: "nodes", fromName: c.Name, toKind: "nodes", toName: p.Name,
					conn: vpcfw.Connection{From: vpcfw.Instance{IP: host(c.PodRange, 9), Tags: c.NodeTags}, To: vpcfw.Instance{IP: host(p.PodRange, 9), Tags: p.NodeTags}, Protocol: proto, Port: port},
					fix: fmt.Sprintf("allow %s:%d from %s (pods of %s) to the nodes tagged %s (kubectl asmfed apply recreates the federation's mesh-from-%s rule)",
						proto, port, c.PodRange, c.Name, strings.Join(p.NodeTags, ","), c.Name),
				})
			}
		}
		for _, an := range f.Spec.Admin.AuthorizedNetworks {
			out = append(out, flow{
				what:     fmt.Sprintf("admin network %s (%s) → nodes of %s on tcp:22", an.Name, an.CIDR, c.Name),
				fromKind: "admin", fromName: an.CIDR, toKind: "nodes", toName: c.Name,
				conn: vpcfw.Connection{From: vpcfw.Instance{IP: host(an.CIDR, 1)}, To: vpcfw.Instance{IP: host(c.PodRange, 9), Tags: c.NodeTags}, Protocol: "tcp", Port: 22},
				fix:  fmt.Sprintf("allow tcp from %s to the nodes tagged %s (kubectl asmfed apply recreates the federation's admin rule)", an.CIDR, strings.Join(c.NodeTags, ",")),
			})
		}
	}
	return out
}

// nthAddr is the n-th address of cidr: a stand-in for a node, pod or client in the range.
func nthAddr(cidr string, n int) netip.Addr {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Addr{}
	}
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

// meshPort is one port a cross-cluster port rule opens, as a connection uses it.
type meshPort struct {
	proto string
	port  int
}

// meshPorts are the ports the mesh needs between clusters: the first port of each rule of
// mesh.crossClusterPorts, and 15443 (the east-west gateway's) for a rule of every port.
func meshPorts(f *v1alpha1.Federation) []meshPort {
	var out []meshPort
	for _, r := range f.Spec.Mesh.CrossClusterPorts {
		proto, port := strings.ToLower(r.Protocol), 15443
		if proto == "all" {
			proto = "tcp"
		}
		if len(r.Ports) > 0 {
			first, _, _ := strings.Cut(r.Ports[0], "-")
			port, _ = strconv.Atoi(first)
		}
		out = append(out, meshPort{proto, port})
	}
	return out
}

// firewallFlows evaluates every flow the mesh needs against the network's live firewall rules,
// all of them, so that a rule someone else added (a deny at a higher priority) is seen.
func firewallFlows(_ context.Context, env *Env) []Finding {
	var out []Finding
	for _, v := range FirewallVerdicts(env) {
		if v.Allowed {
			out = append(out, Finding{Subject: v.To, Status: OK, Message: v.What + ": " + v.Reason})
			continue
		}
		out = append(out, Finding{Subject: v.To, Status: Fail, Message: v.What + ": blocked, " + v.Reason, Hint: v.Fix})
	}
	if len(out) == 0 {
		out = append(out, Finding{Status: Skipped, Message: "no flow crosses the VPC firewall (one cluster, no admin network)"})
	}
	return out
}

// authorizedNetworks are a cluster's master authorized networks as GKE reports them, from the
// field GKE fills in either API generation.
func authorizedNetworks(cl *containerpb.Cluster) *containerpb.MasterAuthorizedNetworksConfig {
	if m := cl.GetMasterAuthorizedNetworksConfig(); m != nil {
		return m
	}
	return cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetAuthorizedNetworksConfig()
}

// authorizedEntry is the entry of the authorized networks that holds every address of cidr, or
// nil when none does.
func authorizedEntry(m *containerpb.MasterAuthorizedNetworksConfig, cidr string) *containerpb.MasterAuthorizedNetworksConfig_CidrBlock {
	want, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil
	}
	want = want.Masked()
	for _, b := range m.GetCidrBlocks() {
		p, err := netip.ParsePrefix(b.GetCidrBlock())
		if err == nil && p.Bits() <= want.Bits() && p.Masked().Contains(want.Addr()) {
			return b
		}
	}
	return nil
}

// authorizedFinding says whether a cluster's API server accepts clients from cidr, naming the
// entry that lets them in, or how to add it.
func authorizedFinding(cd federation.ClusterDesired, cl *containerpb.Cluster, subject, cidr, who, consequence string) Finding {
	m := authorizedNetworks(cl)
	if !m.GetEnabled() {
		return Finding{Subject: subject, Status: Warn,
			Message: fmt.Sprintf("%s's master authorized networks are off: any address reaches its API server, %s too", cd.Name, who),
			Hint:    "kubectl asmfed apply turns them on with the federation's entries"}
	}
	if b := authorizedEntry(m, cidr); b != nil {
		name := b.GetDisplayName()
		if name == "" {
			name = "(no name)"
		}
		return Finding{Subject: subject, Status: OK,
			Message: fmt.Sprintf("%s's master authorized networks let in %s: entry %s %s", cd.Name, who, name, b.GetCidrBlock())}
	}
	cidrs := []string{}
	for _, b := range m.GetCidrBlocks() {
		cidrs = append(cidrs, b.GetCidrBlock())
	}
	cidrs = append(cidrs, cidr)
	return Finding{Subject: subject, Status: Fail,
		Message: fmt.Sprintf("%s's master authorized networks do not contain %s: %s", cd.Name, who, consequence),
		Hint: fmt.Sprintf("kubectl asmfed apply adds it back; by hand (the list replaces the current one): gcloud container clusters update %s --project %s --location %s --enable-master-authorized-networks --master-authorized-networks %s",
			cd.Name, cd.Project, cd.Location, strings.Join(cidrs, ","))}
}

// peersAuthorized checks that each cluster's API server lets in every peer's pods, from which
// the peer's istiod watches it through its remote secret.
func peersAuthorized(_ context.Context, env *Env) []Finding {
	var out []Finding
	for _, c := range env.Derived.Clusters {
		cl, live := env.GKE[c.Name]
		for _, p := range env.Derived.Clusters {
			if p.Name == c.Name {
				continue
			}
			subject := fmt.Sprintf("%s → %s", p.Name, c.Name)
			if !live {
				out = append(out, Finding{Subject: subject, Status: Skipped, Message: c.Name + " does not exist in GKE"})
				continue
			}
			out = append(out, authorizedFinding(c, cl, subject, p.PodRange, fmt.Sprintf("the pods of %s (%s)", p.Name, p.PodRange),
				fmt.Sprintf("istiod of %s cannot reach the API server of %s, and sees none of its services", p.Name, c.Name)))
		}
	}
	if len(out) == 0 {
		out = append(out, Finding{Status: Skipped, Message: "one cluster: no peer reaches its API server"})
	}
	return out
}

// adminAuthorized checks that the admin networks of the file, and each cluster's own extra
// entries, are let in by the clusters' API servers.
func adminAuthorized(_ context.Context, env *Env) []Finding {
	extra := map[string][]v1alpha1.NamedCIDR{}
	for _, c := range env.Federation.Spec.Clusters {
		extra[c.Name] = c.AuthorizedNetworks
	}
	var out []Finding
	for _, c := range env.Derived.Clusters {
		cl, live := env.GKE[c.Name]
		for _, an := range append(append([]v1alpha1.NamedCIDR{}, env.Federation.Spec.Admin.AuthorizedNetworks...), extra[c.Name]...) {
			subject := fmt.Sprintf("%s → %s", an.Name, c.Name)
			if !live {
				out = append(out, Finding{Subject: subject, Status: Skipped, Message: c.Name + " does not exist in GKE"})
				continue
			}
			out = append(out, authorizedFinding(c, cl, subject, an.CIDR, fmt.Sprintf("the admin network %s (%s)", an.Name, an.CIDR),
				fmt.Sprintf("kubectl and kubectl asmfed from %s cannot reach %s", an.Name, c.Name)))
		}
	}
	if len(out) == 0 {
		out = append(out, Finding{Status: Skipped, Message: "the file lists no admin network"})
	}
	return out
}

// globalAccessOn says whether a cluster's private endpoint takes clients of every region, from
// the field GKE fills in either API generation.
func globalAccessOn(cl *containerpb.Cluster) bool {
	return cl.GetPrivateClusterConfig().GetMasterGlobalAccessConfig().GetEnabled() || cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetGlobalAccess()
}

// privateEndpoint is the address GKE gives a cluster's API server inside the VPC, or "".
func privateEndpoint(cl *containerpb.Cluster) string {
	if pe := cl.GetPrivateClusterConfig().GetPrivateEndpoint(); pe != "" {
		return pe
	}
	return cl.GetControlPlaneEndpointsConfig().GetIpEndpointsConfig().GetPrivateEndpoint()
}

// sameServer compares two API server addresses by host and port, https's 443 by default.
func sameServer(a, b string) bool {
	norm := func(s string) string {
		if !strings.Contains(s, "://") {
			s = "https://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return s
		}
		if u.Port() == "" {
			return u.Hostname() + ":443"
		}
		return u.Host
	}
	return norm(a) == norm(b)
}

// privateEndpointUsed checks that each remote secret points its holder's istiod at the peer's
// private endpoint (or at the file's peerAPIServer): from pods, the public endpoint is reached
// through Cloud NAT, whose addresses are not in the authorized networks.
func privateEndpointUsed(ctx context.Context, env *Env) []Finding {
	chosen := map[string]string{}
	for _, c := range env.Federation.Spec.Clusters {
		chosen[c.Name] = c.PeerAPIServer
	}
	return forEach(ctx, env, env.Derived.RemoteSecrets, func(ctx context.Context, rs federation.RemoteSecret) []Finding {
		subject := fmt.Sprintf("%s → %s", rs.Holder, rs.Target)
		want, what := chosen[rs.Target], "the file's peerAPIServer for "+rs.Target
		if want == "" {
			cl, ok := env.GKE[rs.Target]
			if !ok {
				return []Finding{{Subject: subject, Status: Skipped, Message: rs.Target + " does not exist in GKE"}}
			}
			pe := privateEndpoint(cl)
			if pe == "" {
				return []Finding{{Subject: subject, Status: Skipped, Message: "GKE reports no private endpoint for " + rs.Target}}
			}
			want, what = "https://"+pe, rs.Target+"'s private endpoint"
		}
		sec, skip, fail := readRemoteSecret(ctx, env, rs)
		switch {
		case skip != "":
			return []Finding{{Subject: subject, Status: Skipped, Message: skip}}
		case fail != nil:
			fail.Subject = subject
			return []Finding{*fail}
		}
		data, _, _ := unstructuredBytes(sec.Object, rs.DataKey)
		peer, err := remoteRESTConfig(data)
		if err != nil {
			return []Finding{{Subject: subject, Status: Skipped, Message: "the remote secret cannot be used (ASMFED-ACCESS-001 says why)"}}
		}
		if !sameServer(peer.Host, want) {
			return []Finding{{Subject: subject, Status: Fail,
				Message: fmt.Sprintf("%s's remote secret for %s points at %s, not at %s %s: from %s's pods that address is not reached through the VPC", rs.Holder, rs.Target, peer.Host, what, want, rs.Holder),
				Hint:    "kubectl asmfed apply rewrites the remote secret with the private endpoint; set clusters[].peerAPIServer when the peers' pods reach the API server at another address"}}
		}
		return []Finding{{Subject: subject, Status: OK, Message: fmt.Sprintf("%s's remote secret for %s points at %s, %s", rs.Holder, rs.Target, peer.Host, what)}}
	})
}

// globalAccess checks that a cluster whose peers are in other regions lets clients from other
// regions reach its private endpoint.
func globalAccess(_ context.Context, env *Env) []Finding {
	var out []Finding
	for _, c := range env.Derived.Clusters {
		cl, live := env.GKE[c.Name]
		for _, p := range env.Derived.Clusters {
			if p.Name == c.Name || p.Region == c.Region {
				continue
			}
			subject := fmt.Sprintf("%s → %s", p.Name, c.Name)
			switch {
			case !live:
				out = append(out, Finding{Subject: subject, Status: Skipped, Message: c.Name + " does not exist in GKE"})
			case globalAccessOn(cl):
				out = append(out, Finding{Subject: subject, Status: OK,
					Message: fmt.Sprintf("%s (%s) has global access on: istiod of %s in %s reaches its private endpoint", c.Name, c.Region, p.Name, p.Region)})
			default:
				out = append(out, Finding{Subject: subject, Status: Fail,
					Message: fmt.Sprintf("%s (%s) has global access off: istiod of %s in %s cannot reach its private endpoint", c.Name, c.Region, p.Name, p.Region),
					Hint:    fmt.Sprintf("kubectl asmfed apply turns it on; by hand: gcloud container clusters update %s --project %s --location %s --enable-master-global-access", c.Name, c.Project, c.Location)})
			}
		}
	}
	if len(out) == 0 {
		out = append(out, Finding{Status: Skipped, Message: "every cluster is in one region: no global access is needed"})
	}
	return out
}

// podFlow is one connection an application pod needs, as NetworkPolicies see it.
type podFlow struct {
	what string
	to   netpol.Endpoint
	port int32
	// proto is TCP or UDP.
	proto corev1.Protocol
}

// podFlows are the connections every pod of an application namespace needs in cluster cd:
// istiod (xDS and certificates), cluster DNS (kube-dns and NodeLocal DNSCache), each peer's
// pods on the mesh ports, the GKE metadata server where Workload Identity is on, and the
// allow-list's ports.
func podFlows(f *v1alpha1.Federation, d *federation.Desired, cd federation.ClusterDesired) []podFlow {
	istiod := &netpol.Pod{Namespace: federation.IstioNamespace, IP: nthAddr(cd.PodRange, 20),
		Labels: map[string]string{"app": "istiod", "istio": "pilot", "istio.io/rev": d.Mesh.Revision}}
	kubeDNS := &netpol.Pod{Namespace: "kube-system", IP: nthAddr(cd.PodRange, 30), Labels: map[string]string{"k8s-app": "kube-dns"}}
	controlPlane := podFlow{what: "istiod", to: netpol.Endpoint{Pod: istiod}, port: 15012, proto: corev1.ProtocolTCP}
	if f.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneManaged {
		// Sidecars fetch configuration and certificates from Google's APIs: an address of
		// private.googleapis.com stands for them.
		controlPlane = podFlow{what: "the managed control plane (Google APIs)", to: netpol.Endpoint{IP: netip.MustParseAddr("199.36.153.8")}, port: 443, proto: corev1.ProtocolTCP}
	}
	out := []podFlow{
		controlPlane,
		{what: "kube-dns", to: netpol.Endpoint{Pod: kubeDNS}, port: 53, proto: corev1.ProtocolUDP},
		{what: "kube-dns", to: netpol.Endpoint{Pod: kubeDNS}, port: 53, proto: corev1.ProtocolTCP},
		{what: "NodeLocal DNSCache 169.254.20.10", to: netpol.Endpoint{IP: netip.MustParseAddr("169.254.20.10")}, port: 53, proto: corev1.ProtocolUDP},
	}
	for _, p := range d.Clusters {
		if p.Name == cd.Name {
			continue
		}
		for _, mp := range meshPorts(f) {
			out = append(out, podFlow{what: fmt.Sprintf("the pods of %s (%s)", p.Name, p.PodRange), to: netpol.Endpoint{IP: nthAddr(p.PodRange, 30)},
				port: int32(mp.port), proto: corev1.Protocol(strings.ToUpper(mp.proto))})
		}
	}
	if cd.WorkloadPool != "" {
		out = append(out,
			podFlow{what: "the GKE metadata server 169.254.169.254", to: netpol.Endpoint{IP: netip.MustParseAddr("169.254.169.254")}, port: 80, proto: corev1.ProtocolTCP},
			podFlow{what: "the node's gke-metadata-server 169.254.169.252", to: netpol.Endpoint{IP: netip.MustParseAddr("169.254.169.252")}, port: 988, proto: corev1.ProtocolTCP})
	}
	for _, r := range f.Spec.Mesh.Egress.Allow {
		// An address of the documentation range stands for a host on the internet.
		ip, what := netip.MustParseAddr("203.0.113.10"), strings.Join(r.Hosts, ",")
		if len(r.Addresses) > 0 {
			if p, err := netip.ParsePrefix(r.Addresses[0]); err == nil {
				ip = p.Addr()
			} else if a, err := netip.ParseAddr(r.Addresses[0]); err == nil {
				ip = a
			}
			what += " at " + ip.String()
		}
		for _, port := range r.Ports {
			proto := corev1.ProtocolTCP
			if strings.EqualFold(port.Protocol, "UDP") {
				proto = corev1.ProtocolUDP
			}
			out = append(out, podFlow{what: "the allow-listed " + what, to: netpol.Endpoint{IP: ip}, port: port.Number, proto: proto})
		}
	}
	return out
}

// policyFlows evaluates the live NetworkPolicies of every application namespace, all of them and
// not only the federation's, over the connections the mesh's pods need (pkg/netpol), cluster by
// cluster in parallel.
func policyFlows(ctx context.Context, env *Env) []Finding {
	if len(env.Federation.Spec.Namespaces) == 0 {
		return []Finding{{Status: Skipped, Message: "the file lists no application namespace"}}
	}
	return forEach(ctx, env, env.Derived.Clusters, func(ctx context.Context, cd federation.ClusterDesired) []Finding {
		return clusterPolicyFlows(ctx, env, cd)
	})
}

func clusterPolicyFlows(ctx context.Context, env *Env, cd federation.ClusterDesired) []Finding {
	cfg, ok := env.Clusters[cd.Name]
	if !ok {
		return []Finding{{Subject: cd.Name, Status: Skipped, Message: cd.Name + " cannot be reached"}}
	}
	live, err := readPolicies(ctx, cfg)
	if err != nil {
		return []Finding{{Subject: cd.Name, Status: Fail, Message: err.Error(), Hint: "verify reads NetworkPolicies and Namespaces: check the credentials' permissions"}}
	}
	desired := map[string]networkingv1.NetworkPolicy{}
	for _, o := range cd.Objects {
		if o.Kind != "NetworkPolicy" {
			continue
		}
		var np networkingv1.NetworkPolicy
		if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &np) == nil {
			desired[np.Namespace+"/"+np.Name] = np
		}
	}
	have := map[string]bool{}
	for _, p := range live.Policies {
		have[p.Namespace+"/"+p.Name] = true
	}
	var out []Finding
	for _, ns := range env.Federation.Spec.Namespaces {
		subject := cd.Name + "/" + ns.Name
		app := netpol.Pod{Namespace: ns.Name, Labels: map[string]string{}, IP: nthAddr(cd.PodRange, 10)}
		var allowed []string
		var failed []Finding
		for _, fl := range podFlows(env.Federation, env.Derived, cd) {
			conn := netpol.Connection{From: app, To: fl.to, Port: fl.port, Protocol: fl.proto}
			what := fmt.Sprintf("%s on %s:%d", fl.what, strings.ToLower(string(fl.proto)), fl.port)
			v := live.Allowed(conn)
			if v.Allowed {
				allowed = append(allowed, what)
				continue
			}
			failed = append(failed, Finding{Subject: subject, Status: Fail,
				Message: fmt.Sprintf("pods of %s → %s: blocked, isolated by NetworkPolicy %s and allowed by none", ns.Name, what, strings.Join(v.Isolating, ", ")),
				Hint:    policyFix(live, desired, have, conn, ns.Name, v.Isolating)})
		}
		if len(failed) > 0 {
			out = append(out, failed...)
			continue
		}
		out = append(out, Finding{Subject: subject, Status: OK, Message: fmt.Sprintf("pods of %s reach %s", ns.Name, strings.Join(allowed, "; "))})
	}
	return out
}

// policyFix says how to let a blocked connection through: recreate the federation's policy
// that allows it when it is missing, otherwise allow it beside the policies that isolate it.
func policyFix(live *netpol.Cluster, desired map[string]networkingv1.NetworkPolicy, have map[string]bool, conn netpol.Connection, ns string, isolating []string) string {
	for _, key := range sortedKeys(desired) {
		if have[key] || desired[key].Namespace != ns {
			continue
		}
		with := &netpol.Cluster{Policies: append(append([]networkingv1.NetworkPolicy{}, live.Policies...), desired[key]), Namespaces: live.Namespaces}
		if with.Allowed(conn).Allowed {
			return fmt.Sprintf("the federation's NetworkPolicy %s, which allows it, is missing: kubectl asmfed apply recreates it", key)
		}
	}
	return fmt.Sprintf("allow it in a NetworkPolicy of %s, or change %s, which isolate the pods (NetworkPolicies only ever allow: a policy cannot undo another's isolation)", ns, strings.Join(isolating, ", "))
}

// readPolicies reads every NetworkPolicy and every namespace's labels of a cluster.
func readPolicies(ctx context.Context, cfg *rest.Config) (*netpol.Cluster, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	nps, err := cs.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list NetworkPolicies: %w", err)
	}
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	c := &netpol.Cluster{Policies: nps.Items, Namespaces: map[string]map[string]string{}}
	for _, ns := range nss.Items {
		c.Namespaces[ns.Name] = ns.Labels
	}
	return c, nil
}

// BastionVM is the bastion's VM as Compute Engine reports it.
type BastionVM struct {
	// Instance is nil when the VM does not exist.
	Instance *computepb.Instance
}

// bastionReach checks the path administrators take to the private clusters: Identity-Aware
// Proxy's TCP forwarding to the bastion's SSH port through the live firewall, and from the
// bastion's live address to every cluster's private endpoint (master authorized networks, and
// global access for a cluster in another region).
func bastionReach(_ context.Context, env *Env) []Finding {
	b := env.Derived.Bastion
	if b == nil {
		return []Finding{{Status: Skipped, Message: "the file has no bastion (spec.admin.bastion)"}}
	}
	in := env.Bastion.Instance
	if in == nil {
		return []Finding{{Subject: b.Name, Status: Fail, Message: fmt.Sprintf("the bastion %s does not exist in %s (project %s)", b.Name, b.Zone, b.Project),
			Hint: "kubectl asmfed apply creates it"}}
	}
	var out []Finding
	if st := in.GetStatus(); st != "RUNNING" {
		out = append(out, Finding{Subject: b.Name, Status: Fail, Message: fmt.Sprintf("the bastion %s is %s: administrators cannot reach the clusters through it", b.Name, st),
			Hint: fmt.Sprintf("gcloud compute instances start %s --zone %s --project %s", b.Name, b.Zone, b.Project)})
	}
	ip := netip.Addr{}
	if nics := in.GetNetworkInterfaces(); len(nics) > 0 {
		ip, _ = netip.ParseAddr(nics[0].GetNetworkIP())
	}
	if !ip.IsValid() {
		return append(out, Finding{Subject: b.Name, Status: Fail, Message: fmt.Sprintf("the bastion %s has no internal address", b.Name),
			Hint: "kubectl asmfed plan shows what differs from the file"})
	}
	if env.Firewall != nil {
		vm := vpcfw.Instance{IP: ip, Tags: in.GetTags().GetItems()}
		if sas := in.GetServiceAccounts(); len(sas) > 0 {
			vm.ServiceAccount = sas[0].GetEmail()
		}
		v := vpcfw.Check(env.Firewall, vpcfw.Connection{From: vpcfw.Instance{IP: nthAddr(federation.IAPRange, 1)}, To: vm, Protocol: "tcp", Port: 22})
		what := fmt.Sprintf("Identity-Aware Proxy (%s) → bastion %s (%s) on tcp:22", federation.IAPRange, b.Name, ip)
		if v.Allowed {
			out = append(out, Finding{Subject: b.Name, Status: OK, Message: what + ": " + v.Reason})
		} else {
			out = append(out, Finding{Subject: b.Name, Status: Fail, Message: what + ": blocked, " + v.Reason + fmt.Sprintf("; `%s` cannot connect", b.SSHCommand),
				Hint: fmt.Sprintf("allow tcp:22 from %s to the VMs tagged %s (kubectl asmfed apply recreates the federation's iap-ssh rule); a deny rule of higher priority must be changed by its owner", federation.IAPRange, b.Tag)})
		}
	}
	if env.GKE == nil {
		return out
	}
	vmRange := netip.PrefixFrom(ip, 32).String()
	for _, c := range env.Derived.Clusters {
		subject := fmt.Sprintf("%s → %s", b.Name, c.Name)
		cl, live := env.GKE[c.Name]
		if !live {
			out = append(out, Finding{Subject: subject, Status: Skipped, Message: c.Name + " does not exist in GKE"})
			continue
		}
		out = append(out, authorizedFinding(c, cl, subject, vmRange, fmt.Sprintf("the bastion %s (%s)", b.Name, ip),
			fmt.Sprintf("kubectl on the bastion %s cannot reach %s", b.Name, c.Name)))
		if c.Region == b.Region {
			continue
		}
		if globalAccessOn(cl) {
			out = append(out, Finding{Subject: subject, Status: OK,
				Message: fmt.Sprintf("%s (%s) has global access on: the bastion in %s reaches its private endpoint", c.Name, c.Region, b.Region)})
			continue
		}
		out = append(out, Finding{Subject: subject, Status: Fail,
			Message: fmt.Sprintf("%s (%s) has global access off: the bastion in %s cannot reach its private endpoint", c.Name, c.Region, b.Region),
			Hint:    fmt.Sprintf("kubectl asmfed apply turns it on; by hand: gcloud container clusters update %s --project %s --location %s --enable-master-global-access", c.Name, c.Project, c.Location)})
	}
	return out
}
