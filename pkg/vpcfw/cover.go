package vpcfw

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Flow is one thing an ingress allow rule opens: connections from a source range to the
// instances of a target tag ("" for every instance of the network) on a protocol's ports (none:
// every port of it).
type Flow struct {
	Source, Tag, Protocol string
	Ports                 []string
}

func (f Flow) String() string {
	to := "every instance"
	if f.Tag != "" {
		to = "tag " + f.Tag
	}
	ports := f.Protocol + ":" + strings.Join(f.Ports, ",")
	switch {
	case len(f.Ports) == 0 && f.Protocol == "all":
		ports = "every protocol"
	case len(f.Ports) == 0:
		ports = f.Protocol + " (every port)"
	}
	return fmt.Sprintf("%s from %s to %s", ports, f.Source, to)
}

// Flows lists what an ingress allow rule opens, one flow per source range, target tag and
// protocol. Source tags and service accounts are not flows of ranges: a rule with them is not
// described here.
func Flows(r Rule) []Flow {
	tags := r.TargetTags
	if len(tags) == 0 {
		tags = []string{""}
	}
	var out []Flow
	for _, src := range r.SourceRanges {
		for _, tag := range tags {
			for _, a := range r.Allowed {
				out = append(out, Flow{Source: src, Tag: tag, Protocol: strings.ToLower(a.Protocol), Ports: a.Ports})
			}
		}
	}
	return out
}

// CoveredBy names the first rule of rules that allows every connection of f (its targets
// include f's, a source range contains f's, a protocol entry includes f's ports), or returns "".
// Priorities and deny rules are not weighed: it compares what rules open, not what a network
// decides (Evaluate does that).
func CoveredBy(f Flow, rules []Rule) string {
	src, err := netip.ParsePrefix(f.Source)
	if err != nil {
		return ""
	}
	for _, r := range rules {
		if len(r.TargetTags) > 0 && (f.Tag == "" || !slices.Contains(r.TargetTags, f.Tag)) {
			continue
		}
		if !slices.ContainsFunc(r.SourceRanges, func(s string) bool {
			p, err := netip.ParsePrefix(s)
			return err == nil && p.Bits() <= src.Bits() && p.Contains(src.Addr())
		}) {
			continue
		}
		for _, a := range r.Allowed {
			proto := strings.ToLower(a.Protocol)
			if proto != "all" && (proto != f.Protocol || f.Protocol == "all") {
				continue
			}
			if len(a.Ports) == 0 || (len(f.Ports) > 0 && portsWithin(f.Ports, a.Ports)) {
				return r.Name
			}
		}
	}
	return ""
}

// portsWithin reports whether every port or range of inner lies in one of outer.
func portsWithin(inner, outer []string) bool {
	for _, p := range inner {
		lo, hi, ok := portRange(p)
		if !ok || lo > hi || !slices.ContainsFunc(outer, func(q string) bool {
			qlo, qhi, ok := portRange(q)
			return ok && qlo <= qhi && qlo <= lo && hi <= qhi
		}) {
			return false
		}
	}
	return true
}
