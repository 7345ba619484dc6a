// Package graph draws a federation: projects, the VPC and its subnets, each cluster's control
// plane and nodes, and the flows the mesh needs, each labelled with the firewall rule or
// authorized-network entry that carries it; remote secrets as dashed edges; the egress allow-list
// and the ingress as external nodes. It builds a graph value from the compiled model and renders it
// as Mermaid or Graphviz DOT. Everything is sorted, so the same model always draws the same text.
package graph

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
)

// Group is a box nodes and other groups are drawn in: a project, the VPC, a subnet.
type Group struct {
	ID, Label string
	// Parent is the enclosing group's ID, empty at the top.
	Parent string
}

// Node is something traffic leaves or reaches.
type Node struct {
	ID, Label string
	// Group is the enclosing group's ID, empty for nodes outside every project.
	Group string
}

// Edge is a flow the mesh needs, labelled with what carries it.
type Edge struct {
	From, To, Label string
	// Dashed edges are not network rules but credentials: a remote secret.
	Dashed bool
	// Status is what a check of the live network found: Allowed, Blocked, or empty (not checked).
	Status string
}

// Statuses of an edge checked against the live network.
const (
	Allowed = "allowed"
	Blocked = "blocked"
)

// NodeID is the ID of a cluster's control plane ("cp"), its nodes ("nodes") or an admin network
// ("admin", by CIDR), so that callers can find the edges between them.
func NodeID(kind, name string) string { return id(kind, name) }

// Mark sets the status of the edges between two nodes whose label contains what, and adds note
// to their labels. It returns how many edges it marked.
func (g *Graph) Mark(from, to, what, status, note string) int {
	n := 0
	for i := range g.Edges {
		e := &g.Edges[i]
		if e.From == from && e.To == to && strings.Contains(e.Label, what) {
			if e.Status != Blocked { // one blocked flow on an edge makes it blocked
				e.Status = status
			}
			if note != "" && !strings.Contains(e.Label, note) {
				e.Label += "; " + note
			}
			n++
		}
	}
	return n
}

// Graph is a federation drawn as groups, nodes and edges, each list sorted.
type Graph struct {
	Groups []Group
	Nodes  []Node
	Edges  []Edge
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9_]`)

func id(parts ...string) string {
	return unsafeID.ReplaceAllString(strings.Join(parts, "_"), "_")
}

// Of draws the model.
func Of(d *federation.Desired) *Graph {
	g := &Graph{}
	projects := map[string]bool{d.Network.Project: true}
	for _, c := range d.Clusters {
		projects[c.Project] = true
	}
	for p := range projects {
		g.Groups = append(g.Groups, Group{ID: id("project", p), Label: "project " + p})
	}
	vpc := id("vpc", d.Network.Name)
	g.Groups = append(g.Groups, Group{ID: vpc, Label: "VPC " + d.Network.Name, Parent: id("project", d.Network.Project)})
	for _, s := range d.Subnets {
		ranges := []string{s.PrimaryRange}
		for _, r := range s.SecondaryRanges {
			ranges = append(ranges, r.CIDR)
		}
		g.Groups = append(g.Groups, Group{ID: id("subnet", s.Name), Label: fmt.Sprintf("subnet %s (%s) %s", s.Name, s.Region, strings.Join(ranges, ", ")), Parent: vpc})
	}
	clusterByTag := map[string][]string{}
	byName := map[string]federation.ClusterDesired{}
	for _, c := range d.Clusters {
		byName[c.Name] = c
		subnet := c.Subnetwork[strings.LastIndex(c.Subnetwork, "/")+1:]
		var pools []string
		for _, p := range c.NodePools {
			pools = append(pools, p.Name)
		}
		g.Nodes = append(g.Nodes,
			Node{ID: id("cp", c.Name), Label: fmt.Sprintf("%s control plane %s", c.Name, c.ControlPlaneRange), Group: id("subnet", subnet)},
			Node{ID: id("nodes", c.Name), Label: fmt.Sprintf("%s nodes and pods %s (pools %s)", c.Name, c.PodRange, strings.Join(pools, ", ")), Group: id("subnet", subnet)})
		for _, t := range c.NodeTags {
			clusterByTag[t] = append(clusterByTag[t], c.Name)
		}
	}

	// Firewall rules: from the clusters (or admin networks) whose ranges they admit, to the
	// clusters whose node tags they target.
	podOwner := map[string]string{}
	cpOwner := map[string]string{}
	for _, c := range d.Clusters {
		podOwner[c.PodRange] = c.Name
		cpOwner[c.ControlPlaneRange] = c.Name
	}
	// An authorized network admits the peers whose pod ranges it holds (one peer's, several merged,
	// or an admin network's that holds some); one that holds more than their pod ranges is an admin
	// network too.
	type admits struct {
		peers []string
		admin bool
	}
	admitted := func(c federation.ClusterDesired, an federation.AuthorizedNetwork) admits {
		e, err := netip.ParsePrefix(an.CIDR)
		if err != nil {
			return admits{admin: true}
		}
		var out admits
		var held []netip.Prefix
		for _, p := range d.Clusters {
			pr, err := netip.ParsePrefix(p.PodRange)
			if err != nil || p.Name == c.Name || pr.Bits() < e.Bits() || !e.Contains(pr.Addr()) {
				continue
			}
			out.peers = append(out.peers, p.Name)
			held = append(held, pr)
		}
		merged := federation.MergePrefixes(held)
		out.admin = len(merged) != 1 || merged[0] != e.Masked()
		return out
	}
	admin := map[string]bool{}
	// What each cluster's entries admit, worked out once for the nodes and the edges below.
	entries := make([][]admits, len(d.Clusters))
	for i, c := range d.Clusters {
		for _, an := range c.MasterAuthorizedNetworks {
			a := admitted(c, an)
			entries[i] = append(entries[i], a)
			if a.admin {
				admin[an.CIDR] = true
			}
		}
	}
	for cidr := range admin {
		g.Nodes = append(g.Nodes, Node{ID: id("admin", cidr), Label: "admin " + cidr})
	}
	for _, r := range d.FirewallRules {
		targets := map[string]bool{}
		for _, t := range r.TargetTags {
			for _, c := range clusterByTag[t] {
				targets[c] = true
			}
		}
		for _, src := range r.SourceRanges {
			for t := range targets {
				label := fmt.Sprintf("%s (firewall %s)", allowed(r.Allowed), r.Name)
				switch {
				case cpOwner[src] == t:
					g.Edges = append(g.Edges, Edge{From: id("cp", t), To: id("nodes", t), Label: label})
				case podOwner[src] != "" && podOwner[src] != t:
					g.Edges = append(g.Edges, Edge{From: id("nodes", podOwner[src]), To: id("nodes", t), Label: label})
				case admin[src]:
					g.Edges = append(g.Edges, Edge{From: id("admin", src), To: id("nodes", t), Label: label})
				}
			}
		}
	}
	// Master authorized networks: the peers' pods (istiod through the remote secret) and the
	// admin networks reach each control plane.
	for i, c := range d.Clusters {
		for j, an := range c.MasterAuthorizedNetworks {
			a := entries[i][j]
			for _, peer := range a.peers {
				g.Edges = append(g.Edges, Edge{From: id("nodes", peer), To: id("cp", c.Name), Label: "tcp:443 (authorized network " + an.DisplayName + ")"})
			}
			if a.admin {
				g.Edges = append(g.Edges, Edge{From: id("admin", an.CIDR), To: id("cp", c.Name), Label: "tcp:443 (authorized network " + an.DisplayName + ")"})
			}
		}
	}
	for _, rs := range d.RemoteSecrets {
		g.Edges = append(g.Edges, Edge{From: id("cp", rs.Holder), To: id("cp", rs.Target), Label: "remote secret " + rs.Name, Dashed: true})
	}
	// Egress: through the region's Cloud NAT to the allow-list.
	natOf := map[string]string{}
	for _, n := range d.NATs {
		natOf[n.Region] = id("nat", n.Region)
		g.Nodes = append(g.Nodes, Node{ID: id("nat", n.Region), Label: "Cloud NAT " + n.Router, Group: vpc})
	}
	var hosts []string
	for _, c := range d.Clusters {
		for _, o := range c.Objects {
			if o.Kind != "ServiceEntry" {
				continue
			}
			spec, _ := o.Object["spec"].(map[string]any)
			var hs []string
			for _, h := range asList(spec["hosts"]) {
				hs = append(hs, fmt.Sprint(h))
			}
			hosts = append(hosts, strings.Join(hs, ", "))
		}
	}
	hosts = uniqueSorted(hosts)
	for _, h := range hosts {
		g.Nodes = append(g.Nodes, Node{ID: id("egress", h), Label: "egress to " + h})
	}
	for _, c := range d.Clusters {
		nat, ok := natOf[c.Region]
		if !ok {
			continue
		}
		g.Edges = append(g.Edges, Edge{From: id("nodes", c.Name), To: nat, Label: "private nodes egress"})
	}
	for _, nat := range natOf {
		for _, h := range hosts {
			g.Edges = append(g.Edges, Edge{From: nat, To: id("egress", h), Label: "ServiceEntry (REGISTRY_ONLY)"})
		}
	}
	// The bastion: Identity-Aware Proxy reaches its SSH port through the rule on its tag.
	if b := d.Bastion; b != nil {
		bastion := id("bastion", b.Name)
		g.Nodes = append(g.Nodes,
			Node{ID: bastion, Label: strings.TrimSpace("bastion " + b.Name + " " + b.InternalIP), Group: id("subnet", b.Subnetwork[strings.LastIndex(b.Subnetwork, "/")+1:])},
			Node{ID: "iap", Label: "Identity-Aware Proxy " + federation.IAPRange})
		for _, r := range d.FirewallRules {
			if r.Address == b.SSHRule {
				g.Edges = append(g.Edges, Edge{From: "iap", To: bastion, Label: fmt.Sprintf("%s (firewall %s)", allowed(r.Allowed), r.Name)})
			}
		}
	}
	// Ingress: clients reach every cluster's ingress gateway.
	for _, c := range d.Clusters {
		for _, o := range c.Objects {
			if o.Kind != "Gateway" || o.Name == federation.EgressGatewayRouting {
				continue
			}
			g.Nodes = append(g.Nodes, Node{ID: "ingress_clients", Label: "ingress clients"})
			g.Edges = append(g.Edges, Edge{From: "ingress_clients", To: id("nodes", c.Name), Label: "ingress gateway " + o.Name})
		}
	}
	g.normalise()
	return g
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func allowed(as []federation.Allowed) string {
	var out []string
	for _, a := range as {
		if len(a.Ports) == 0 {
			out = append(out, a.IPProtocol)
		} else {
			out = append(out, a.IPProtocol+":"+strings.Join(a.Ports, ","))
		}
	}
	return strings.Join(out, " ")
}

func uniqueSorted(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// normalise sorts everything and drops duplicates, so the output is stable.
func (g *Graph) normalise() {
	sort.Slice(g.Groups, func(i, j int) bool { return g.Groups[i].ID < g.Groups[j].ID })
	seenN := map[string]bool{}
	var nodes []Node
	for _, n := range g.Nodes {
		if !seenN[n.ID] {
			seenN[n.ID] = true
			nodes = append(nodes, n)
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
	g.Nodes = nodes
	seenE := map[Edge]bool{}
	var edges []Edge
	for _, e := range g.Edges {
		if !seenE[e] {
			seenE[e] = true
			edges = append(edges, e)
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		a, b := edges[i], edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Label < b.Label
	})
	g.Edges = edges
}

// nest visits nodes and groups in nesting order, each with the indentation of its depth: a
// group's open, then its nodes and groups, then its close.
func (g *Graph) nest(node func(n Node, indent string), open, close func(gr Group, indent string)) {
	groups := map[string][]Group{}
	for _, gr := range g.Groups {
		groups[gr.Parent] = append(groups[gr.Parent], gr)
	}
	nodes := map[string][]Node{}
	for _, n := range g.Nodes {
		nodes[n.Group] = append(nodes[n.Group], n)
	}
	var walk func(parent, indent string)
	walk = func(parent, indent string) {
		for _, n := range nodes[parent] {
			node(n, indent)
		}
		for _, gr := range groups[parent] {
			open(gr, indent)
			walk(gr.ID, indent+"  ")
			close(gr, indent)
		}
	}
	walk("", "  ")
}

// Mermaid renders a flowchart that code hosts and most documentation tools draw.
func (g *Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	g.nest(func(n Node, indent string) { fmt.Fprintf(&b, "%s%s[%q]\n", indent, n.ID, mermaidText(n.Label)) },
		func(gr Group, indent string) {
			fmt.Fprintf(&b, "%ssubgraph %s[%q]\n", indent, gr.ID, mermaidText(gr.Label))
		},
		func(_ Group, indent string) { fmt.Fprintf(&b, "%send\n", indent) })
	for i, e := range g.Edges {
		arrow := "-->"
		if e.Dashed {
			arrow = "-.->"
		}
		fmt.Fprintf(&b, "  %s %s|%q| %s\n", e.From, arrow, mermaidText(e.Label), e.To)
		if c := colour[e.Status]; c != "" {
			fmt.Fprintf(&b, "  linkStyle %d stroke:%s,stroke-width:2px\n", i, c)
		}
	}
	return b.String()
}

// mermaidText keeps labels inside Mermaid's quoted strings.
func mermaidText(s string) string { return strings.ReplaceAll(s, `"`, "'") }

// DOT renders a Graphviz digraph with a cluster subgraph per group.
func (g *Graph) DOT() string {
	var b strings.Builder
	b.WriteString("digraph federation {\n  rankdir=LR;\n  newrank=true;\n  node [shape=box];\n")
	g.nest(func(n Node, indent string) { fmt.Fprintf(&b, "%s%s [label=%s];\n", indent, n.ID, dotString(n.Label)) },
		func(gr Group, indent string) {
			fmt.Fprintf(&b, "%ssubgraph cluster_%s {\n%s  label=%s;\n", indent, gr.ID, indent, dotString(gr.Label))
		},
		func(_ Group, indent string) { fmt.Fprintf(&b, "%s}\n", indent) })
	for _, e := range g.Edges {
		style := ""
		if e.Dashed {
			style = ", style=dashed"
		}
		if c := colour[e.Status]; c != "" {
			style += ", color=\"" + c + "\", fontcolor=\"" + c + "\""
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s%s];\n", e.From, e.To, dotString(e.Label), style)
	}
	b.WriteString("}\n")
	return b.String()
}

// colour of an edge by its status; unchecked edges keep the default.
var colour = map[string]string{Allowed: "#1a7f37", Blocked: "#cf222e"}

func dotString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
