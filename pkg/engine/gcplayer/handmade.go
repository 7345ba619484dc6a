package gcplayer

import (
	"fmt"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
	"github.com/asmfed/kubectl-asmfed/pkg/vpcfw"
)

// handMadeRules reports the firewall rules of the federation's network that carry no
// federation's mark and open flows to the federation's nodes: a rule whose every flow one of the
// federation's own rules also allows is redundant once they exist, and the warning names the
// rule(s) that cover it and suggests deleting it by hand; a rule that opens more than the
// federation's rules says what beyond. The tool never deletes them: they are not its own. Rules
// it cannot compare (deny rules, disabled ones, egress, source tags or service accounts) are left
// out.
func handMadeRules(desired []*object, fws []*computepb.Firewall, d *federation.Desired) []string {
	var derivedFws []*computepb.Firewall
	want := map[string]bool{}
	for _, o := range desired {
		if o.res.Kind == plan.KindFirewall {
			fw := o.msg.(*computepb.Firewall)
			derivedFws = append(derivedFws, fw)
			want[fw.GetName()] = true
		}
	}
	derived := firewallRules(derivedFws, d.Network.Name)
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
		for _, f := range vpcfw.Flows(firewallRules([]*computepb.Firewall{fw}, d.Network.Name)[0]) {
			if f.Tag != "" && !nodeTags[f.Tag] {
				continue // not the federation's nodes: none of its business
			}
			by := vpcfw.CoveredBy(f, derived)
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
