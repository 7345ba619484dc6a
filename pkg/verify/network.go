package verify

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

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
	host := func(cidr string, n int) netip.Addr {
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
	for _, c := range d.Clusters {
		for _, port := range f.Spec.Mesh.WebhookPorts {
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
			for _, r := range f.Spec.Mesh.CrossClusterPorts {
				proto, port := strings.ToLower(r.Protocol), 15443
				if proto == "all" {
					proto = "tcp"
				}
				if len(r.Ports) > 0 {
					first, _, _ := strings.Cut(r.Ports[0], "-")
					port, _ = strconv.Atoi(first)
				}
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

// firewallFlows evaluates every flow the mesh needs against the network's live firewall rules,
// all of them, so that a rule someone else added (a deny at a higher priority) is seen.
func firewallFlows(_ context.Context, env *Env) []Finding {
	if env.Derived == nil || env.Firewall == nil {
		return []Finding{{Status: Skipped, Message: "the network's firewall rules were not read"}}
	}
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
