package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// runAgainst drives the command tree with ASMFED_GCP_ENDPOINT pointing at srv.
func runAgainst(t *testing.T, srv *gcpfake.Server, args ...string) result {
	t.Helper()
	return runWithEnv(t, "", map[string]string{EndpointEnv: srv.URL()}, args...)
}

// The whole CLI, end to end against the simulator: plan, apply, plan again.
func TestPlanApplyPlan(t *testing.T) {
	srv := gcpfake.Start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "federation.yaml")
	data, err := os.ReadFile(twoCluster)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(dir, "plan.json")

	r := runAgainst(t, srv, "plan", "-f", file, "--out", planFile, "--detailed-exitcode")
	if r.code != ExitChanges {
		t.Fatalf("first plan: code %d, want %d\n%s", r.code, ExitChanges, r.stderr)
	}
	if !strings.Contains(r.stdout, "Plan: 20 to add, 0 to change, 0 to replace, 0 to destroy.") {
		t.Fatalf("first plan:\n%s", r.stdout)
	}
	if fi, err := os.Stat(planFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved plan: %v, mode %v", err, fi.Mode())
	}

	r = runAgainst(t, srv, "apply", "-f", file)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "pass --auto-approve") {
		t.Fatalf("apply without a terminal must refuse: code %d\n%s", r.code, r.stderr)
	}
	if n := srv.Calls("Firewalls/Insert"); n != 0 {
		t.Fatalf("a refused apply created %d firewall rules", n)
	}

	r = runAgainst(t, srv, "apply", planFile)
	if r.code != ExitOK {
		t.Fatalf("apply saved plan: code %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "20 done, 0 failed, 0 skipped") {
		t.Errorf("apply summary:\n%s", r.stderr)
	}

	r = runAgainst(t, srv, "plan", "-f", file, "--detailed-exitcode")
	if r.code != ExitOK || !strings.Contains(r.stdout, "No changes.") {
		t.Fatalf("plan after apply: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The same saved plan is stale now, and says why.
	r = runAgainst(t, srv, "apply", planFile)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "the saved plan is stale") || !strings.Contains(r.stderr, "firewalls/asmfed-asm-sample-admin was created") {
		t.Fatalf("stale plan: code %d\n%s", r.code, r.stderr)
	}

	// A changed file makes a saved plan stale too.
	r = runAgainst(t, srv, "plan", "-f", file, "--out", planFile)
	if r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	if err := os.WriteFile(file, append(data, []byte("\n# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runAgainst(t, srv, "apply", planFile)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "federation.yaml changed") {
		t.Fatalf("plan of an edited file: code %d\n%s", r.code, r.stderr)
	}

	r = runAgainst(t, srv, "plan", "-f", file, "-o", "json")
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || p.FormatVersion != plan.FormatVersion || p.HasChanges() {
		t.Fatalf("plan -o json: %v %+v", err, p.Summary)
	}
}
