package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func samplePreflight() *Preflight {
	return &Preflight{
		Permissions: []MissingPermission{{Project: "p", Resource: "projects/p", Permission: "compute.firewalls.create",
			Roles: []string{"roles/compute.securityAdmin", "roles/compute.admin"}, NeededBy: []string{"gcp:projects/p/global/firewalls/asmfed-x--webhooks"}}},
		Quotas: []QuotaShortfall{{Project: "p", Region: "us-west2", Metric: "CPUS", Needed: 24, Usage: 4, Limit: 16},
			{Project: "p", Metric: "FIREWALLS", Needed: 6, Usage: 198, Limit: 200}},
		Constraints: []ConstraintViolation{{Project: "p", Constraint: "constraints/gcp.resourceLocations",
			Blocks: "resources may be created only in allowed locations, and the plan uses us-west2", Addresses: []Address{"gke:projects/p/locations/us-west2/clusters/c1"}}},
		Unchecked: []string{"organisation policies of project q: the caller may not read them"},
	}
}

// The findings render in the text plan and round-trip through its JSON.
func TestPreflightGolden(t *testing.T) {
	p := samplePlan(t)
	p.Preflight = samplePreflight()
	var text, js bytes.Buffer
	if err := (TextRenderer{}).Render(&text, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "preflight.txt.golden", text.Bytes())
	if err := (JSONRenderer{}).Render(&js, p); err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p.Preflight, back.Preflight); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

// Only missing permissions refuse a plan: quotas, policies and what could not be checked are
// reported.
func TestCheckPreflight(t *testing.T) {
	p := &Plan{Preflight: samplePreflight()}
	var pe *PreflightError
	if err := p.CheckPreflight(); !errors.As(err, &pe) || len(pe.Missing) != 1 {
		t.Fatalf("missing permission not refused: %v", err)
	}
	p.Preflight.Permissions = nil
	if err := p.CheckPreflight(); err != nil {
		t.Errorf("refused without a missing permission: %v", err)
	}
	if err := (&Plan{}).CheckPreflight(); err != nil {
		t.Errorf("refused a plan without preflight: %v", err)
	}
}
