// Package vpcfw evaluates VPC firewall semantics: given a network's rules and a connection (source
// address, tags and service account; destination address, tags and service account; protocol
// and port), it says whether the firewall allows it and which rule decided. It is pure: verify runs
// it over the live rules for every flow the mesh needs.
//
// The semantics are Google Cloud's: rules apply to one direction; a disabled rule does not apply;
// among the rules that match, the lowest priority number wins and, at equal priority, deny wins
// over allow; when nothing matches, the implied rules decide: ingress is denied, egress allowed.
package vpcfw

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Direction of a rule or a connection's check.
type Direction string

// Directions.
const (
	Ingress Direction = "INGRESS"
	Egress  Direction = "EGRESS"
)

// ProtocolPorts is one protocol of a rule and its ports ("443", "8080-8090"); no ports is every
// port of the protocol, "all" every protocol.
type ProtocolPorts struct {
	Protocol string
	Ports    []string
}

// Rule is a VPC firewall rule as the Compute API describes it.
type Rule struct {
	Name      string
	Direction Direction
	// Priority: 0 is the highest, 65535 the lowest; the API's default is 1000.
	Priority int32
	Disabled bool
	// Allowed or Denied: one of them is set.
	Allowed, Denied []ProtocolPorts
	// Ingress: sources; egress: destinations. Empty source criteria on an ingress rule match
	// nothing unless ranges are given (the API requires one of them).
	SourceRanges, SourceTags, SourceServiceAccounts []string
	DestinationRanges                               []string
	// Targets: empty means every instance of the network.
	TargetTags, TargetServiceAccounts []string
}

// Instance is one end of a connection as the firewall sees it: an address, and for VM instances
// (GKE nodes, whose alias ranges carry the pods) their network tags and service account.
type Instance struct {
	IP             netip.Addr
	Tags           []string
	ServiceAccount string
}

// Connection is a new connection from one instance to another.
type Connection struct {
	From, To Instance
	Protocol string
	Port     int
}

// Verdict says whether a connection is allowed and by which rule.
type Verdict struct {
	Allowed bool
	// Rule is the deciding rule's name, empty when an implied rule decided.
	Rule   string
	Reason string
}

// Evaluate checks the ingress side of a connection: the destination's firewall. (Egress is allowed
// by the implied rule unless a rule denies it; Check evaluates both.)
func Evaluate(rules []Rule, c Connection, dir Direction) Verdict {
	var matching []Rule
	for _, r := range rules {
		if r.Disabled || r.Direction != dir || !r.matches(c, dir) {
			continue
		}
		matching = append(matching, r)
	}
	if len(matching) == 0 {
		if dir == Ingress {
			return Verdict{Reason: fmt.Sprintf("no rule allows %s:%d to %s: the implied deny-ingress rule drops it", strings.ToLower(c.Protocol), c.Port, c.To.IP)}
		}
		return Verdict{Allowed: true, Reason: "the implied allow-egress rule"}
	}
	sort.SliceStable(matching, func(i, j int) bool {
		if matching[i].Priority != matching[j].Priority {
			return matching[i].Priority < matching[j].Priority
		}
		return len(matching[i].Denied) > 0 && len(matching[j].Denied) == 0
	})
	w := matching[0]
	if len(w.Denied) > 0 {
		return Verdict{Rule: w.Name, Reason: fmt.Sprintf("denied by %s (priority %d)", w.Name, w.Priority)}
	}
	return Verdict{Allowed: true, Rule: w.Name, Reason: fmt.Sprintf("allowed by %s (priority %d)", w.Name, w.Priority)}
}

// Check evaluates a connection on both sides: the source's egress, then the destination's ingress.
func Check(rules []Rule, c Connection) Verdict {
	if out := Evaluate(rules, c, Egress); !out.Allowed {
		return out
	}
	return Evaluate(rules, c, Ingress)
}

func (r Rule) matches(c Connection, dir Direction) bool {
	if !protocolMatches(r.Allowed, c) && !protocolMatches(r.Denied, c) {
		return false
	}
	target, peer := c.To, c.From
	if dir == Egress {
		target, peer = c.From, c.To
	}
	if len(r.TargetTags) > 0 && !overlaps(r.TargetTags, target.Tags) {
		return false
	}
	if len(r.TargetServiceAccounts) > 0 && !contains(r.TargetServiceAccounts, target.ServiceAccount) {
		return false
	}
	if dir == Egress {
		return len(r.DestinationRanges) == 0 || inRanges(r.DestinationRanges, peer.IP)
	}
	// Ingress: a source matches by range, or by tag or service account of the sending instance.
	return inRanges(r.SourceRanges, peer.IP) || overlaps(r.SourceTags, peer.Tags) ||
		(peer.ServiceAccount != "" && contains(r.SourceServiceAccounts, peer.ServiceAccount))
}

func protocolMatches(pps []ProtocolPorts, c Connection) bool {
	for _, pp := range pps {
		proto := strings.ToLower(pp.Protocol)
		if proto != "all" && proto != strings.ToLower(c.Protocol) && proto != protocolNumber(c.Protocol) {
			continue
		}
		if proto == "all" || len(pp.Ports) == 0 {
			return true
		}
		for _, p := range pp.Ports {
			lo, hi, ok := portRange(p)
			if ok && c.Port >= lo && c.Port <= hi {
				return true
			}
		}
	}
	return false
}

func protocolNumber(name string) string {
	switch strings.ToLower(name) {
	case "tcp":
		return "6"
	case "udp":
		return "17"
	case "icmp":
		return "1"
	case "sctp":
		return "132"
	}
	return ""
}

func portRange(p string) (int, int, bool) {
	a, b, isRange := strings.Cut(p, "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, false
	}
	if !isRange {
		return lo, lo, true
	}
	hi, err := strconv.Atoi(b)
	return lo, hi, err == nil
}

func inRanges(ranges []string, ip netip.Addr) bool {
	for _, r := range ranges {
		if p, err := netip.ParsePrefix(r); err == nil && p.Contains(ip) {
			return true
		}
		if a, err := netip.ParseAddr(r); err == nil && a == ip {
			return true
		}
	}
	return false
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if contains(b, x) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
