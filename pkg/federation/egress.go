package federation

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
)

// Names of the egress gateway and the routing that sends the allow-list through it (Istio's
// egress gateway pattern: a Gateway on the gateway's pods, a DestinationRule for the gateway's
// subsets, a VirtualService per host routing mesh → gateway → host).
const (
	// EgressGatewayName names the egress gateway's Deployment and Service, as Istio's chart does.
	EgressGatewayName = "istio-egressgateway"
	// EgressGatewayHost is the gateway's Service as the mesh addresses it.
	EgressGatewayHost = EgressGatewayName + "." + IstioNamespace + ".svc.cluster.local"
	// EgressGatewayRouting names the Gateway and the DestinationRule of the egress routing.
	EgressGatewayRouting = "asmfed-egress-gateway"
	// egressRoutePrefix starts the name of each host's VirtualService.
	egressRoutePrefix = "asmfed-egress-"
	// gatewayMesh is the gateway name Istio gives the sidecars.
	gatewayMesh = "mesh"
)

// EgressGatewaySelector is the label of the egress gateway's pods, which its Gateway selects.
var EgressGatewaySelector = map[string]string{"istio": "egressgateway"}

// GatewayPort is one port of a gateway's Service: the port clients connect to, and the port the
// gateway's pods listen on.
type GatewayPort struct {
	Name       string
	Port       int32
	TargetPort int32
	// Protocol is the gateway server's protocol: TLS (passed through), HTTP, HTTP2, GRPC, TCP or
	// MONGO.
	Protocol string
}

// Ports Envoy itself uses in a gateway's pod (admin, the status and metrics ports): no server
// listens on them.
const reservedLow, reservedHigh = 15000, 15099

// EgressGatewayPorts lists, sorted, the ports the egress gateway serves for the allow-list: each
// allow-listed port once, with the protocol the gateway serves it as. The gateway runs as a
// non-root user, so a port below 1024 listens on port+8000 (8080 for 80, 8443 for 443, as Istio's
// gateway charts do); any other listens on itself unless Envoy uses it or another port took it.
func EgressGatewayPorts(allow []v1alpha1.EgressRule) []GatewayPort {
	protocol := map[int32]string{}
	for _, r := range allow {
		for _, p := range r.Ports {
			if _, ok := protocol[p.Number]; !ok {
				protocol[p.Number] = v1alpha1.EgressGatewayProtocol(p.Protocol)
			}
		}
	}
	numbers := make([]int32, 0, len(protocol))
	for n := range protocol {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	taken := map[int32]bool{}
	target := map[int32]int32{}
	for _, n := range numbers {
		if n >= 1024 && (n < reservedLow || n > reservedHigh) {
			target[n], taken[n] = n, true
		}
	}
	for _, n := range numbers {
		if _, ok := target[n]; ok {
			continue
		}
		t := n + 8000
		if n >= 1024 {
			t = n + 10000
		}
		for taken[t] || (t >= reservedLow && t <= reservedHigh) {
			t++
		}
		target[n], taken[t] = t, true
	}
	out := make([]GatewayPort, 0, len(numbers))
	for _, n := range numbers {
		out = append(out, GatewayPort{Name: fmt.Sprintf("%s-%d", strings.ToLower(protocol[n]), n), Port: n, TargetPort: target[n], Protocol: protocol[n]})
	}
	return out
}

// egressRoute is an allow-listed host and the ports it is reached on.
type egressRoute struct {
	host  string
	name  string // the VirtualService's and the subset's
	ports []v1alpha1.EgressPort
}

// egressRoutes groups the allow-list by host: one VirtualService per host, however many rules
// name it, so that no two VirtualServices claim one host.
func egressRoutes(allow []v1alpha1.EgressRule) []egressRoute {
	byHost := map[string][]v1alpha1.EgressPort{}
	for _, r := range allow {
		for _, h := range r.Hosts {
			for _, p := range r.Ports {
				if !slices.ContainsFunc(byHost[h], func(q v1alpha1.EgressPort) bool { return q.Number == p.Number }) {
					byHost[h] = append(byHost[h], p)
				}
			}
		}
	}
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	used := map[string]bool{}
	out := make([]egressRoute, 0, len(hosts))
	for _, h := range hosts {
		name := v1alpha1.EgressRuleName(h)
		for i := 2; used[name]; i++ {
			name = fmt.Sprintf("%s-%d", v1alpha1.EgressRuleName(h), i)
		}
		used[name] = true
		ports := byHost[h]
		sort.Slice(ports, func(i, j int) bool { return ports[i].Number < ports[j].Number })
		out = append(out, egressRoute{host: h, name: name, ports: ports})
	}
	return out
}

// egressGateway routes every allow-listed host through the egress gateway: the sidecars send it
// to the gateway, which alone sends it out. TLS passes through the gateway untouched and is routed
// by SNI; HTTP by host; TCP by port. The GKE metadata server is not routed: it answers on the
// node, for the pod's own identity.
func (b *objectBuilder) egressGateway(egress v1alpha1.Egress) {
	ns := IstioNamespace
	ports := EgressGatewayPorts(egress.Allow)
	routes := egressRoutes(egress.Allow)
	hostsOn := map[int32][]any{}
	for _, r := range routes {
		for _, p := range r.ports {
			hostsOn[p.Number] = append(hostsOn[p.Number], r.host)
		}
	}
	var servers []any
	for _, p := range ports {
		s := map[string]any{"port": map[string]any{"number": int64(p.Port), "name": p.Name, "protocol": p.Protocol}, "hosts": hostsOn[p.Port]}
		if p.Protocol == "TLS" {
			s["tls"] = map[string]any{"mode": "PASSTHROUGH"}
		}
		servers = append(servers, s)
	}
	b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersions["Gateway"], "kind": "Gateway",
		"metadata": map[string]any{"name": EgressGatewayRouting},
		"spec":     map[string]any{"selector": toAnyMap(EgressGatewaySelector), "servers": servers}}}, "",
		"the egress gateway's listeners: the allow-listed hosts on their ports, TLS passed through to the host it names")
	var subsets []any
	for _, r := range routes {
		subsets = append(subsets, map[string]any{"name": r.name})
	}
	b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersions["DestinationRule"], "kind": "DestinationRule",
		"metadata": map[string]any{"name": EgressGatewayRouting},
		"spec":     map[string]any{"host": EgressGatewayHost, "subsets": subsets, "exportTo": []any{"*"}}}}, "",
		"a subset of the egress gateway per allow-listed host, which the sidecars route that host's traffic to")
	for _, r := range routes {
		spec := map[string]any{"hosts": []any{r.host}, "gateways": []any{gatewayMesh, EgressGatewayRouting}, "exportTo": []any{"*"}}
		var tls, http, tcp []any
		for _, p := range r.ports {
			proto := v1alpha1.EgressGatewayProtocol(p.Protocol)
			toGateway := map[string]any{"destination": map[string]any{"host": EgressGatewayHost, "subset": r.name, "port": map[string]any{"number": int64(p.Number)}}}
			toHost := map[string]any{"destination": map[string]any{"host": r.host, "port": map[string]any{"number": int64(p.Number)}}}
			fromMesh := map[string]any{"gateways": []any{gatewayMesh}, "port": int64(p.Number)}
			fromGateway := map[string]any{"gateways": []any{EgressGatewayRouting}, "port": int64(p.Number)}
			switch {
			case proto == "TLS":
				fromMesh["sniHosts"] = []any{r.host}
				fromGateway["sniHosts"] = []any{r.host}
				tls = append(tls,
					map[string]any{"match": []any{fromMesh}, "route": []any{toGateway}},
					map[string]any{"match": []any{fromGateway}, "route": []any{toHost}})
			case v1alpha1.EgressGatewayByHost(proto):
				http = append(http,
					map[string]any{"match": []any{fromMesh}, "route": []any{toGateway}},
					map[string]any{"match": []any{fromGateway}, "route": []any{toHost}})
			default:
				tcp = append(tcp,
					map[string]any{"match": []any{fromMesh}, "route": []any{toGateway}},
					map[string]any{"match": []any{fromGateway}, "route": []any{toHost}})
			}
		}
		for k, v := range map[string][]any{"tls": tls, "http": http, "tcp": tcp} {
			if len(v) > 0 {
				spec[k] = v
			}
		}
		b.add(ns, &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersions["VirtualService"], "kind": "VirtualService",
			"metadata": map[string]any{"name": egressRoutePrefix + r.name}, "spec": spec}}, "",
			fmt.Sprintf("the sidecars send %s to the egress gateway, and the gateway alone sends it out: the allow-list leaves the cluster through the gateway", r.host))
	}
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
