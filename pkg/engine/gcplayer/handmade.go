package gcplayer

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// flow is one thing an ingress allow rule opens: connections from a source range to the
// instances of a target tag ("" for every instance of the network) on a protocol's ports (none:
// every port of it).
type flow struct {
	source, tag, protocol string
	ports                 []string
}

func (f flow) String() string {
	to := "every instance"
	if f.tag != "" {
		to = "tag " + f.tag
	}
	return fmt.Sprintf("%s from %s to %s", protoPorts(f.protocol, f.ports), f.source, to)
}

func protoPorts(protocol string, ports []string) string {
	if len(ports) == 0 {
		if protocol == "all" {
			return "every protocol"
		}
		return protocol + " (every port)"
	}
	return protocol + ":" + strings.Join(ports, ",")
}

// handMadeRules reports the firewall rules of the federation's network that carry no
// federation's mark and open flows to the federation's nodes: a rule whose every flow one of the
// federation's own rules also allows is redundant once they exist, and the warning names the
// rule(s) that cover it and suggests deleting it by hand; a rule that opens more than the
// federation's rules says what beyond. The tool never deletes them: they are not its own. Rules
// it cannot compare (deny rules, disabled ones, egress, source tags or service accounts) are left
// out.
func handMadeRules(desired []*object, fws []*computepb.Firewall, d *federation.Desired) []string {
	var derived []*computepb.Firewall
	want := map[string]bool{}
	for _, o := range desired {
		if o.res.Kind == plan.KindFirewall {
			fw := o.msg.(*computepb.Firewall)
			derived = append(derived, fw)
			want[fw.GetName()] = true
		}
	}
	nodeTags := map[string]bool{}
	for _, c := range d.Clusters {
		for _, t := range c.NodeTags {
			nodeTags[t] = true
		}
	}
	var out []string
	for _, fw := range fws {
		if lastSegment(fw.GetNetwork()) != d.Network.Name || want[fw.GetName()] || fw.GetDisabled() || len(fw.GetDenied()) > 0 ||
			(fw.GetDirection() != "" && fw.GetDirection() != "INGRESS") || len(fw.GetSourceTags())+len(fw.GetSourceServiceAccounts())+len(fw.GetTargetServiceAccounts()) > 0 {
			continue
		}
		if _, marked := federation.ParseDescriptionMarker(fw.GetDescription()); marked {
			continue
		}
		targetsNodes := len(fw.GetTargetTags()) == 0
		for _, t := range fw.GetTargetTags() {
			targetsNodes = targetsNodes || nodeTags[t]
		}
		if !targetsNodes {
			continue
		}
		covering := map[string]bool{}
		var beyond []string
		for _, f := range flowsOf(fw) {
			if f.tag != "" && !nodeTags[f.tag] {
				continue // not the federation's nodes: none of its business
			}
			by := coveredBy(f, derived)
			if by == "" {
				beyond = append(beyond, f.String())
				continue
			}
			covering[by] = true
		}
		names := make([]string, 0, len(covering))
		for n := range covering {
			names = append(names, n)
		}
		sort.Strings(names)
		switch {
		case len(beyond) == 0:
			out = append(out, fmt.Sprintf("firewall rule %s, made without the tool, allows nothing to the federation's nodes that %s does not: it is redundant once the federation is applied; delete it by hand when nothing else needs it (gcloud compute firewall-rules delete %s); the tool never deletes it",
				fw.GetName(), strings.Join(names, " and "), fw.GetName()))
		default:
			msg := fmt.Sprintf("firewall rule %s, made without the tool, opens more to the federation's nodes than the federation needs: %s", fw.GetName(), strings.Join(beyond, "; "))
			if len(names) > 0 {
				msg += fmt.Sprintf(" (the rest is covered by %s)", strings.Join(names, " and "))
			}
			out = append(out, msg+"; narrow or delete it by hand if nothing else needs it; the tool never changes it")
		}
	}
	return out
}

// flowsOf lists what an ingress allow rule opens, one flow per source range, target tag and
// protocol.
func flowsOf(fw *computepb.Firewall) []flow {
	tags := fw.GetTargetTags()
	if len(tags) == 0 {
		tags = []string{""}
	}
	var out []flow
	for _, src := range fw.GetSourceRanges() {
		for _, tag := range tags {
			for _, a := range fw.GetAllowed() {
				out = append(out, flow{source: src, tag: tag, protocol: strings.ToLower(a.GetIPProtocol()), ports: a.GetPorts()})
			}
		}
	}
	return out
}

// coveredBy names a derived rule that allows every connection of f, or returns "".
func coveredBy(f flow, derived []*computepb.Firewall) string {
	src, err := netip.ParsePrefix(f.source)
	if err != nil {
		return ""
	}
	for _, d := range derived {
		if len(d.GetTargetTags()) > 0 && (f.tag == "" || !slices.Contains(d.GetTargetTags(), f.tag)) {
			continue
		}
		if !slices.ContainsFunc(d.GetSourceRanges(), func(r string) bool {
			p, err := netip.ParsePrefix(r)
			return err == nil && p.Bits() <= src.Bits() && p.Contains(src.Addr())
		}) {
			continue
		}
		for _, a := range d.GetAllowed() {
			proto := strings.ToLower(a.GetIPProtocol())
			if proto != "all" && (proto != f.protocol || f.protocol == "all") {
				continue
			}
			if len(a.GetPorts()) == 0 || (len(f.ports) > 0 && portsWithin(f.ports, a.GetPorts())) {
				return d.GetName()
			}
		}
	}
	return ""
}

// portsWithin reports whether every port or range of inner lies in one of outer.
func portsWithin(inner, outer []string) bool {
	for _, p := range inner {
		lo, hi, ok := portSpan(p)
		if !ok || !slices.ContainsFunc(outer, func(q string) bool {
			qlo, qhi, ok := portSpan(q)
			return ok && qlo <= lo && hi <= qhi
		}) {
			return false
		}
	}
	return true
}

func portSpan(p string) (int, int, bool) {
	a, b, isRange := strings.Cut(p, "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, false
	}
	if !isRange {
		return lo, lo, true
	}
	hi, err := strconv.Atoi(b)
	return lo, hi, err == nil && lo <= hi
}
