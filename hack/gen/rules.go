package main

import (
	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/invopop/jsonschema"
)

// enums lists the fixed values of string fields whose comments name them. A test checks that
// every value still appears in its field's comment, so the table cannot drift from the types.
var enums = map[string][]string{
	"Cluster.ReleaseChannel":        {"RAPID", "REGULAR", "STABLE", "EXTENDED", "UNSPECIFIED"},
	"NodePool.DiskType":             {"pd-standard", "pd-balanced", "pd-ssd"},
	"Mesh.ControlPlane":             {"inCluster", "managed"},
	"Mesh.MTLS":                     {"STRICT", "PERMISSIVE"},
	"CA.Mode":                       {"managed", "plugin"},
	"Egress.Mode":                   {"REGISTRY_ONLY", "ALLOW_ANY"},
	"EgressPort.Protocol":           {"HTTP", "HTTPS", "HTTP2", "GRPC", "TLS", "TCP", "MONGO"},
	"IngressTLS.Mode":               {"SIMPLE", "MUTUAL", "PASSTHROUGH"},
	"IngressTLS.MinProtocolVersion": {"TLSV1_2", "TLSV1_3"},
	"PortRule.Protocol":             {"tcp", "udp", "icmp", "sctp", "all"},
	"Namespace.PodSecurity":         {"privileged", "baseline", "restricted"},
	"Access.Via":                    {"connectGateway", "privateEndpoint", "publicEndpoint", "kubeconfig"},
}

// fieldRules add to a field's schema what its Go type cannot say but its comment does.
var fieldRules = map[string]func(*jsonschema.Schema){
	"Federation.APIVersion": constant(v1alpha1.APIVersion),
	"Federation.Kind":       constant(v1alpha1.Kind),
	"Cluster.NodePools":     minItems(1),
	"Mesh.WebhookPorts":     func(s *jsonschema.Schema) { port(s.Items) },
	"EgressPort.Number":     port,
	"CloudSQLInstance.Port": port,
	"Autoscaling.Min":       minimum("0"),
	"Autoscaling.Max":       minimum("1"),
}

// typeRules add constraints that span several fields of a type.
var typeRules = map[string]func(*jsonschema.Schema){
	// Exactly one of file and inline is set.
	"Overlay": func(s *jsonschema.Schema) {
		s.OneOf = []*jsonschema.Schema{
			{Required: []string{"file"}},
			{Required: []string{"inline"}},
		}
	},
}

func constant(v string) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Const = v }
}

func minItems(n uint64) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.MinItems = &n }
}

func minimum(n string) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Minimum = jsonNumber(n) }
}

func port(s *jsonschema.Schema) {
	s.Minimum = jsonNumber("1")
	s.Maximum = jsonNumber("65535")
}
