package v1alpha1

// EgressGatewayProtocol is the protocol the egress gateway serves an allow-listed port with:
// TLS, passed through untouched, for TLS and HTTPS (the workload speaks TLS, the gateway routes
// by SNI); the port's own protocol otherwise.
func EgressGatewayProtocol(protocol string) string {
	if protocol == "HTTPS" {
		return "TLS"
	}
	return protocol
}

// EgressGatewayByHost reports whether the gateway tells a port's destinations apart by name (the
// SNI of TLS, the Host of HTTP); TCP and MONGO carry no name, so such a port reaches one host.
func EgressGatewayByHost(protocol string) bool {
	switch EgressGatewayProtocol(protocol) {
	case "TCP", "MONGO":
		return false
	}
	return true
}
