package vpcfw

import (
	"net/netip"
	"testing"
)

func TestEvaluate(t *testing.T) {
	cp := Instance{IP: netip.MustParseAddr("192.168.2.2")}
	node := Instance{IP: netip.MustParseAddr("10.185.128.9"), Tags: []string{"cluster3"}, ServiceAccount: "nodes@p.iam.gserviceaccount.com"}
	peer := Instance{IP: netip.MustParseAddr("10.185.192.4"), Tags: []string{"cluster4"}, ServiceAccount: "peer@p.iam.gserviceaccount.com"}
	webhooks := Rule{Name: "webhooks", Direction: Ingress, Priority: 1000, Allowed: []ProtocolPorts{{Protocol: "tcp", Ports: []string{"15017", "9443"}}},
		SourceRanges: []string{"192.168.2.0/28"}, TargetTags: []string{"cluster3"}}
	tests := []struct {
		name     string
		rules    []Rule
		conn     Connection
		dir      Direction
		allowed  bool
		decision string
	}{
		{name: "no rule: implied deny ingress", conn: Connection{From: cp, To: node, Protocol: "tcp", Port: 15017}, dir: Ingress},
		{name: "no rule: implied allow egress", conn: Connection{From: node, To: Instance{IP: netip.MustParseAddr("142.250.1.1")}, Protocol: "tcp", Port: 443}, dir: Egress, allowed: true},
		{name: "range, tag and port match", rules: []Rule{webhooks}, conn: Connection{From: cp, To: node, Protocol: "tcp", Port: 15017}, dir: Ingress, allowed: true, decision: "webhooks"},
		{name: "port not listed", rules: []Rule{webhooks}, conn: Connection{From: cp, To: node, Protocol: "tcp", Port: 8443}, dir: Ingress},
		{name: "protocol differs", rules: []Rule{webhooks}, conn: Connection{From: cp, To: node, Protocol: "udp", Port: 15017}, dir: Ingress},
		{name: "target tag differs", rules: []Rule{webhooks}, conn: Connection{From: cp, To: peer, Protocol: "tcp", Port: 15017}, dir: Ingress},
		{name: "source outside the ranges", rules: []Rule{webhooks}, conn: Connection{From: peer, To: node, Protocol: "tcp", Port: 15017}, dir: Ingress},
		{name: "disabled rule does not apply", rules: []Rule{func() Rule { r := webhooks; r.Disabled = true; return r }()}, conn: Connection{From: cp, To: node, Protocol: "tcp", Port: 15017}, dir: Ingress},
		{name: "egress rule does not allow ingress", rules: []Rule{func() Rule { r := webhooks; r.Direction = Egress; return r }()}, conn: Connection{From: cp, To: node, Protocol: "tcp", Port: 15017}, dir: Ingress},
		{name: "a higher-priority deny wins", rules: []Rule{webhooks, {Name: "deny-all", Direction: Ingress, Priority: 900, Denied: []ProtocolPorts{{Protocol: "all"}}, SourceRanges: []string{"0.0.0.0/0"}}},
			conn: Connection{From: cp, To: node, Protocol: "tcp", Port: 15017}, dir: Ingress, decision: "deny-all"},
		{name: "a lower-priority deny loses", rules: []Rule{webhooks, {Name: "deny-all", Direction: Ingress, Priority: 65534, Denied: []ProtocolPorts{{Protocol: "all"}}, SourceRanges: []string{"0.0.0.0/0"}}},
			conn: Connection{From: cp, To: node, Protocol: "tcp", Port: 15017}, dir: Ingress, allowed: true, decision: "webhooks"},
		{name: "deny wins at equal priority", rules: []Rule{webhooks, {Name: "deny", Direction: Ingress, Priority: 1000, Denied: []ProtocolPorts{{Protocol: "tcp", Ports: []string{"15000-15100"}}}, SourceRanges: []string{"192.168.0.0/16"}}},
			conn: Connection{From: cp, To: node, Protocol: "tcp", Port: 15017}, dir: Ingress, decision: "deny"},
		{name: "source tag", rules: []Rule{{Name: "mesh", Direction: Ingress, Priority: 1000, Allowed: []ProtocolPorts{{Protocol: "all"}}, SourceTags: []string{"cluster4"}, TargetTags: []string{"cluster3"}}},
			conn: Connection{From: peer, To: node, Protocol: "tcp", Port: 8080}, dir: Ingress, allowed: true, decision: "mesh"},
		{name: "source service account", rules: []Rule{{Name: "sa", Direction: Ingress, Priority: 1000, Allowed: []ProtocolPorts{{Protocol: "tcp"}}, SourceServiceAccounts: []string{"peer@p.iam.gserviceaccount.com"}}},
			conn: Connection{From: peer, To: node, Protocol: "tcp", Port: 8080}, dir: Ingress, allowed: true, decision: "sa"},
		{name: "target service account differs", rules: []Rule{{Name: "sa", Direction: Ingress, Priority: 1000, Allowed: []ProtocolPorts{{Protocol: "tcp"}}, SourceRanges: []string{"0.0.0.0/0"}, TargetServiceAccounts: []string{"other@p.iam.gserviceaccount.com"}}},
			conn: Connection{From: peer, To: node, Protocol: "tcp", Port: 8080}, dir: Ingress},
		{name: "no targets is every instance, port range and protocol number", rules: []Rule{{Name: "range", Direction: Ingress, Priority: 1000, Allowed: []ProtocolPorts{{Protocol: "6", Ports: []string{"8000-9000"}}}, SourceRanges: []string{"10.0.0.0/8"}}},
			conn: Connection{From: peer, To: node, Protocol: "tcp", Port: 8080}, dir: Ingress, allowed: true, decision: "range"},
		{name: "an egress deny to a range", rules: []Rule{{Name: "no-internet", Direction: Egress, Priority: 1000, Denied: []ProtocolPorts{{Protocol: "all"}}, DestinationRanges: []string{"0.0.0.0/0"}}},
			conn: Connection{From: node, To: Instance{IP: netip.MustParseAddr("142.250.1.1")}, Protocol: "tcp", Port: 443}, dir: Egress, decision: "no-internet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(tt.rules, tt.conn, tt.dir)
			if v.Allowed != tt.allowed || v.Rule != tt.decision {
				t.Fatalf("got allowed=%v by %q (%s), want allowed=%v by %q", v.Allowed, v.Rule, v.Reason, tt.allowed, tt.decision)
			}
		})
	}
}

func TestCheckBothSides(t *testing.T) {
	node := Instance{IP: netip.MustParseAddr("10.0.0.2"), Tags: []string{"a"}}
	peer := Instance{IP: netip.MustParseAddr("10.0.1.2"), Tags: []string{"b"}}
	allowIn := Rule{Name: "in", Direction: Ingress, Priority: 1000, Allowed: []ProtocolPorts{{Protocol: "all"}}, SourceRanges: []string{"10.0.0.0/16"}}
	denyOut := Rule{Name: "out", Direction: Egress, Priority: 1000, Denied: []ProtocolPorts{{Protocol: "all"}}, TargetTags: []string{"a"}}
	if v := Check([]Rule{allowIn}, Connection{From: node, To: peer, Protocol: "tcp", Port: 80}); !v.Allowed || v.Rule != "in" {
		t.Errorf("allowed ingress: %+v", v)
	}
	if v := Check([]Rule{allowIn, denyOut}, Connection{From: node, To: peer, Protocol: "tcp", Port: 80}); v.Allowed || v.Rule != "out" {
		t.Errorf("the source's egress deny decides first: %+v", v)
	}
}
