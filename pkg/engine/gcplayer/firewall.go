package gcplayer

import (
	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/asmfed/kubectl-asmfed/pkg/vpcfw"
)

// firewallRules turns the network's live rules, every one of them and not only the federation's,
// into what the firewall evaluator reads: a rule someone else added can block a flow the mesh
// needs.
func firewallRules(fws []*computepb.Firewall, network string) []vpcfw.Rule {
	var out []vpcfw.Rule
	for _, f := range fws {
		if lastSegment(f.GetNetwork()) != network {
			continue
		}
		r := vpcfw.Rule{Name: f.GetName(), Direction: vpcfw.Direction(f.GetDirection()), Priority: 1000, Disabled: f.GetDisabled(),
			SourceRanges: f.GetSourceRanges(), SourceTags: f.GetSourceTags(), SourceServiceAccounts: f.GetSourceServiceAccounts(),
			DestinationRanges: f.GetDestinationRanges(), TargetTags: f.GetTargetTags(), TargetServiceAccounts: f.GetTargetServiceAccounts()}
		if f.Priority != nil {
			r.Priority = f.GetPriority()
		}
		if r.Direction == "" {
			r.Direction = vpcfw.Ingress
		}
		for _, a := range f.GetAllowed() {
			r.Allowed = append(r.Allowed, vpcfw.ProtocolPorts{Protocol: a.GetIPProtocol(), Ports: a.GetPorts()})
		}
		for _, d := range f.GetDenied() {
			r.Denied = append(r.Denied, vpcfw.ProtocolPorts{Protocol: d.GetIPProtocol(), Ports: d.GetPorts()})
		}
		out = append(out, r)
	}
	return out
}
