package v1alpha1

import (
	"fmt"
	"strings"
)

// egressGateway checks what routing the allow-list through the egress gateway needs: REGISTRY_ONLY
// (under ALLOW_ANY other hosts leave directly, past it), named hosts (a gateway forwards to the
// host a connection names, and cannot resolve a wildcard's), one protocol per port (the gateway
// listens on each port once), and one host per TCP port (TCP names no host).
func (v *validator) egressGateway() {
	e := &v.f.Spec.Mesh.Egress
	if !e.Gateway {
		return
	}
	if e.Mode == EgressAllowAny {
		v.errorf("spec.mesh.egress.gateway", "set mode: REGISTRY_ONLY, or gateway: false",
			"under ALLOW_ANY pods reach the hosts the allow-list does not name directly, past the egress gateway")
	}
	type portUse struct {
		path, protocol, host string
	}
	first := map[int32]portUse{}
	for i, r := range e.Allow {
		p := fmt.Sprintf("spec.mesh.egress.allow[%d]", i)
		for j, h := range r.Hosts {
			if strings.HasPrefix(h, "*") {
				v.errorf(fmt.Sprintf("%s.hosts[%d]", p, j), "list the hosts, e.g. storage.googleapis.com, or set egress.gateway: false",
					"the egress gateway forwards to the host a connection names, and Istio's gateways cannot resolve the hosts of a wildcard")
			}
		}
		for k, port := range r.Ports {
			pp := fmt.Sprintf("%s.ports[%d]", p, k)
			proto := EgressGatewayProtocol(port.Protocol)
			prev, seen := first[port.Number]
			if !seen {
				if len(r.Hosts) > 0 {
					first[port.Number] = portUse{path: pp, protocol: proto, host: r.Hosts[0]}
				}
				prev = first[port.Number]
			} else if prev.protocol != proto {
				v.errorf(pp+".protocol", "use one protocol per port across the allow-list",
					"the egress gateway listens on port %d once, as %s (%s)", port.Number, prev.protocol, prev.path)
				continue
			}
			if EgressGatewayByHost(proto) {
				continue
			}
			for _, h := range r.Hosts {
				if h != prev.host {
					v.errorf(pp, "reach each TCP host on a port of its own",
						"%s carries no host name, so the egress gateway's port %d forwards to one host, %s (%s), and cannot also reach %s", proto, port.Number, prev.host, prev.path, h)
					break
				}
			}
		}
	}
}
