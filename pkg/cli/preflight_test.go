package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	orgpolicy "google.golang.org/api/orgpolicy/v2"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// sampleDir copies the two-cluster sample with a fresh CA root, for commands that read its files.
func sampleDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	caInit(t, dir)
	data, err := os.ReadFile(twoCluster)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "federation.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func planJSON(t *testing.T, sb *sandboxEnv, file string) *plan.Plan {
	t.Helper()
	r := runAgainst(t, sb, "plan", "-f", file, "-o", "json")
	if r.code != exitOK {
		t.Fatalf("plan: code %d\n%s", r.code, r.stderr)
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, r.stdout)
	}
	return &p
}

// writesOf are the calls the simulator saw that are not reads: what a refused apply must not
// have made.
func writesOf(srv *gcpfake.Server) []string {
	var out []string
	for method := range srv.Counters() {
		_, m, _ := strings.Cut(method, "/")
		read := false
		for _, prefix := range []string{"Get", "List", "AggregatedList", "Test", "Search", "BatchGet"} {
			read = read || strings.HasPrefix(m, prefix)
		}
		if !read {
			out = append(out, method)
		}
	}
	return out
}

// With the simulator's defaults (every permission held, generous quotas, no organisation
// policies) the sample's first plan has nothing in its way, and says it checked.
func TestPreflightDefaultsFindNothing(t *testing.T) {
	sb := startSandbox(t)
	p := planJSON(t, sb, sampleDir(t))
	want := &plan.Preflight{Permissions: []plan.MissingPermission{}, Quotas: []plan.QuotaShortfall{}, Constraints: []plan.ConstraintViolation{}}
	if diff := cmp.Diff(want, p.Preflight); diff != "" {
		t.Errorf("preflight (-want +got):\n%s", diff)
	}
	if p.FormatVersion != plan.FormatVersion {
		t.Errorf("formatVersion %q", p.FormatVersion)
	}
	for _, m := range []string{"Projects/TestIamPermissions", "Regions/Get", "Projects/Get", "OrgPolicy/GetEffectivePolicy"} {
		if sb.srv.Calls(m) == 0 {
			t.Errorf("preflight did not call %s", m)
		}
	}
}

// A denied permission and a lowered quota are found before anything is created: the plan lists
// the permission with its project and the roles that grant it, and the quota with its numbers;
// apply refuses (exit 5) without writing anything, a saved plan is checked again when applied,
// and --skip-preflight goes ahead.
func TestPreflightDeniedPermissionAndLowQuota(t *testing.T) {
	sb := startSandbox(t)
	srv := sb.srv
	file := sampleDir(t)
	planFile := filepath.Join(filepath.Dir(file), "plan.json")
	// Saved while everything is allowed: the permission is taken away after.
	if r := runAgainst(t, sb, "plan", "-f", file, "--out", planFile); r.code != exitOK {
		t.Fatalf("plan --out: code %d\n%s", r.code, r.stderr)
	}
	srv.DenyPermission(gcpfake.Denial{Permission: "compute.firewalls.create"})
	srv.SetQuotaLimit(gcpfake.QuotaLimit{Region: "us-west2", Metric: "CPUS", Limit: 16})
	srv.ResetCounters()

	p := planJSON(t, sb, file)
	var firewalls []string
	for _, c := range p.Changes {
		if c.Kind == plan.KindFirewall && c.Action == plan.Create {
			firewalls = append(firewalls, string(c.Address))
		}
	}
	if len(firewalls) == 0 {
		t.Fatal("the plan creates no firewall rule")
	}
	want := &plan.Preflight{
		Permissions: []plan.MissingPermission{{Project: "asm-multicluster-demo", Resource: "projects/asm-multicluster-demo", Permission: "compute.firewalls.create",
			Roles: []string{"roles/compute.securityAdmin", "roles/compute.admin"}, NeededBy: firewalls}},
		// Two node pools of one e2-standard-4 node in each of the region's three zones.
		Quotas:      []plan.QuotaShortfall{{Project: "asm-multicluster-demo", Region: "us-west2", Metric: "CPUS", Needed: 24, Usage: 0, Limit: 16}},
		Constraints: []plan.ConstraintViolation{},
	}
	if diff := cmp.Diff(want, p.Preflight); diff != "" {
		t.Errorf("preflight (-want +got):\n%s", diff)
	}

	r := runAgainst(t, sb, "plan", "-f", file)
	for _, line := range []string{
		"! missing permission compute.firewalls.create on projects/asm-multicluster-demo",
		"granted by: roles/compute.securityAdmin or roles/compute.admin",
		"‼ quota CPUS in region us-west2 of project asm-multicluster-demo: the plan needs 24 more, 0 of 16 are in use",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("text plan lacks %q:\n%s", line, r.stdout)
		}
	}

	r = runAgainst(t, sb, "apply", "-f", file, "--auto-approve", "--wait=false")
	if r.code != exitPreflight || !strings.Contains(r.stderr, "compute.firewalls.create on projects/asm-multicluster-demo (granted by roles/compute.securityAdmin or roles/compute.admin)") {
		t.Fatalf("apply with a permission missing: code %d, want %d\n%s", r.code, exitPreflight, r.stderr)
	}
	r = runAgainst(t, sb, "apply", planFile, "--wait=false")
	if r.code != exitPreflight || !strings.Contains(r.stderr, "compute.firewalls.create") {
		t.Fatalf("apply of a plan saved before the permission went: code %d, want %d\n%s", r.code, exitPreflight, r.stderr)
	}
	if w := writesOf(srv); len(w) > 0 {
		t.Fatalf("a refused apply wrote: %v", w)
	}

	r = runAgainst(t, sb, "apply", "-f", file, "--auto-approve", "--wait=false", "--skip-preflight")
	if r.code != exitOK {
		t.Fatalf("apply --skip-preflight: code %d\n%s", r.code, r.stderr)
	}
	if srv.Calls("Firewalls/Insert") != len(firewalls) {
		t.Errorf("apply --skip-preflight created %d firewall rules, want %d", srv.Calls("Firewalls/Insert"), len(firewalls))
	}
}

// Organisation policies in effect are read and reported with what they block; a caller who may
// not read them is told once per project, and the plan goes on.
func TestPreflightOrganisationPolicies(t *testing.T) {
	sb := startSandbox(t)
	srv := sb.srv
	file := sampleDir(t)
	srv.SetOrgPolicy(gcpfake.OrgPolicy{Constraint: "constraints/gcp.resourceLocations",
		Rules: []*orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRule{{Values: &orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRuleStringValues{AllowedValues: []string{"in:europe-locations"}}}}})
	p := planJSON(t, sb, file)
	if p.Preflight == nil || len(p.Preflight.Constraints) != 1 {
		t.Fatalf("preflight: %+v", p.Preflight)
	}
	c := p.Preflight.Constraints[0]
	var inRegion []plan.Address
	for _, ch := range p.Changes {
		if ch.Action == plan.Create && (ch.Kind == plan.KindSubnetwork || ch.Kind == plan.KindRouter || ch.Kind == plan.KindCluster ||
			ch.Kind == plan.KindNodePool || ch.Kind == plan.KindInstance) {
			inRegion = append(inRegion, ch.Address)
		}
	}
	want := plan.ConstraintViolation{Project: "asm-multicluster-demo", Constraint: "constraints/gcp.resourceLocations",
		Blocks: "resources may be created only in allowed locations, and the plan uses us-west2", Addresses: inRegion}
	if diff := cmp.Diff(want, c, cmp.Transformer("sorted", func(a []plan.Address) map[plan.Address]bool {
		m := map[plan.Address]bool{}
		for _, x := range a {
			m[x] = true
		}
		return m
	})); diff != "" {
		t.Errorf("constraint (-want +got):\n%s", diff)
	}
	// A policy for the region lets the plan through.
	srv.SetOrgPolicy(gcpfake.OrgPolicy{Project: "asm-multicluster-demo", Constraint: "constraints/gcp.resourceLocations",
		Rules: []*orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRule{{Values: &orgpolicy.GoogleCloudOrgpolicyV2PolicySpecPolicyRuleStringValues{AllowedValues: []string{"in:us-west2-locations"}}}}})
	if p := planJSON(t, sb, file); len(p.Preflight.Constraints) != 0 {
		t.Errorf("allowed region still reported: %+v", p.Preflight.Constraints)
	}

	srv.DenyPermission(gcpfake.Denial{Permission: "orgpolicy.policy.get"})
	p = planJSON(t, sb, file)
	wantUnchecked := []string{"organisation policies of project asm-multicluster-demo: the caller may not read them (orgpolicy.policy.get, granted by roles/orgpolicy.policyViewer)"}
	if diff := cmp.Diff(wantUnchecked, p.Preflight.Unchecked); diff != "" {
		t.Errorf("unchecked (-want +got):\n%s", diff)
	}
	if err := p.CheckPreflight(); err != nil {
		t.Errorf("what cannot be read must not refuse apply: %v", err)
	}
}
