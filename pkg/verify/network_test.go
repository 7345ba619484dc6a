package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/vpcfw"
)

// rulesOf is the firewall the federation derives, as the network would hold it.
func rulesOf(d *federation.Desired) []vpcfw.Rule {
	var out []vpcfw.Rule
	for _, r := range d.FirewallRules {
		v := vpcfw.Rule{Name: r.Name, Direction: vpcfw.Direction(r.Direction), Priority: r.Priority, SourceRanges: r.SourceRanges, TargetTags: r.TargetTags}
		for _, a := range r.Allowed {
			v.Allowed = append(v.Allowed, vpcfw.ProtocolPorts{Protocol: a.IPProtocol, Ports: a.Ports})
		}
		out = append(out, v)
	}
	return out
}

func TestFirewallFlows(t *testing.T) {
	c, err := v1alpha1.CheckFile("../../samples/two-cluster-private/federation.yaml", v1alpha1.ValidateOptions{SkipFiles: true})
	if err != nil || c.Err() != nil {
		t.Fatalf("sample: %v %v", err, c.Err())
	}
	d, err := federation.Compile(c.Federation, federation.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	healthy := rulesOf(d)
	var webhooks, meshFrom3 string
	for _, r := range d.FirewallRules {
		switch {
		case strings.HasSuffix(r.Name, "-webhooks"):
			webhooks = r.Name
		case strings.HasSuffix(r.Name, "-mesh-from-cluster3"):
			meshFrom3 = r.Name
		}
	}
	without := func(name string) []vpcfw.Rule {
		var out []vpcfw.Rule
		for _, r := range healthy {
			if r.Name != name {
				out = append(out, r)
			}
		}
		return out
	}
	denyWebhook := append(append([]vpcfw.Rule{}, healthy...), vpcfw.Rule{Name: "corp-deny-15017", Direction: vpcfw.Ingress, Priority: 500,
		Denied: []vpcfw.ProtocolPorts{{Protocol: "tcp", Ports: []string{"15017"}}}, SourceRanges: []string{"0.0.0.0/0"}})
	tests := []struct {
		name     string
		rules    []vpcfw.Rule
		failed   int      // failed findings
		failures []string // each appears in some failed finding
	}{
		{name: "the derived rules carry every flow", rules: healthy},
		{name: "webhook rule deleted", rules: without(webhooks), failed: 6, failures: []string{"control plane 192.168.2.0/28 → nodes of cluster3 on tcp:15017", "control plane 192.168.3.0/28 → nodes of cluster4 on tcp:15017"}},
		{name: "a higher-priority deny from someone else", rules: denyWebhook, failed: 2, failures: []string{"cluster3 on tcp:15017: blocked, denied by corp-deny-15017", "cluster4 on tcp:15017: blocked, denied by corp-deny-15017"}},
		{name: "mesh rule of cluster3 deleted", rules: without(meshFrom3), failed: 1, failures: []string{"pods of cluster3 → pods of cluster4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &Env{Federation: c.Federation, Derived: d, Firewall: tt.rules}
			var failed []Finding
			oks := 0
			for _, f := range firewallFlows(context.Background(), env) {
				switch f.Status {
				case Fail:
					failed = append(failed, f)
					if f.Hint == "" {
						t.Errorf("failure without a hint: %s", f.Message)
					}
				case OK:
					oks++
					if !strings.Contains(f.Message, "allowed by asmfed-") {
						t.Errorf("an OK finding names no rule: %s", f.Message)
					}
				}
			}
			if len(failed) != tt.failed {
				t.Fatalf("%d failures, want %d: %v", len(failed), tt.failed, failed)
			}
			for _, want := range tt.failures {
				found := false
				for _, f := range failed {
					found = found || strings.Contains(f.Message, want)
				}
				if !found {
					t.Errorf("no failure says %q: %v", want, failed)
				}
			}
			if oks == 0 {
				t.Error("no flow was checked")
			}
		})
	}
	t.Run("rules not read", func(t *testing.T) {
		got := Run(context.Background(), &Env{Federation: c.Federation, Derived: d}, []Check{byID(t, "ASMFED-NET-001")}).Results
		if len(got) != 1 || got[0].Status != Skipped || got[0].Message != "the network's firewall rules were not read" {
			t.Fatalf("got %v, want one skipped finding", got)
		}
	})
}
