package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/sandbox"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// sandboxEnv is a simulator whose GKE clusters are real local API servers, and the environment
// that points the plugin at it.
type sandboxEnv struct {
	srv *gcpfake.Server
	env map[string]string
}

func startSandbox(t *testing.T) *sandboxEnv {
	t.Helper()
	testenv.Require(t)
	srv, tokenFile := sandbox.StartT(t)
	return &sandboxEnv{srv: srv, env: map[string]string{endpointEnv: srv.URL(), accessTokenFileEnv: tokenFile}}
}

// startWorkloadSandbox is startSandbox whose clusters' nodes run pods, each istiod pod backed by
// a real istiod, as the asmfed-sandbox command's are.
func startWorkloadSandbox(t *testing.T) *sandboxEnv {
	t.Helper()
	testenv.RequireWorkloads(t)
	srv, tokenFile := sandbox.StartT(t, sandbox.WithWorkloads())
	return &sandboxEnv{srv: srv, env: map[string]string{endpointEnv: srv.URL(), accessTokenFileEnv: tokenFile}}
}

// runAgainst drives the command tree pointed at the sandbox.
func runAgainst(t *testing.T, sb *sandboxEnv, args ...string) result {
	t.Helper()
	return runWithEnv(t, "", sb.env, args...)
}

// The whole CLI, end to end against the simulator: plan, apply, plan again.
func TestPlanApplyPlan(t *testing.T) {
	sb := startSandbox(t)
	srv := sb.srv
	dir := t.TempDir()
	file := filepath.Join(dir, "federation.yaml")
	caInit(t, dir)
	data, err := os.ReadFile(twoCluster)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(dir, "plan.json")

	r := runAgainst(t, sb, "plan", "-f", file, "--out", planFile, "--detailed-exitcode")
	if r.code != exitChanges {
		t.Fatalf("first plan: code %d, want %d\n%s", r.code, exitChanges, r.stderr)
	}
	if !strings.Contains(r.stdout, "Plan: 20 to add, 0 to change, 0 to replace, 0 to destroy.") {
		t.Fatalf("first plan:\n%s", r.stdout)
	}
	if fi, err := os.Stat(planFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved plan: %v, mode %v", err, fi.Mode())
	}

	r = runAgainst(t, sb, "apply", "-f", file)
	if r.code != exitFailure || !strings.Contains(r.stderr, "pass --auto-approve") {
		t.Fatalf("apply without a terminal must refuse: code %d\n%s", r.code, r.stderr)
	}
	if n := srv.Calls("Firewalls/Insert"); n != 0 {
		t.Fatalf("a refused apply created %d firewall rules", n)
	}

	// The sandbox's clusters have no nodes: istiod never gets a pod, so apply does not wait for it.
	// The saved plan covers Google Cloud: the cluster side, planned once the clusters exist, is
	// shown and needs its own confirmation, which no terminal can give here.
	r = runAgainst(t, sb, "apply", planFile, "--wait=false")
	if r.code != exitFailure || !strings.Contains(r.stderr, "Cluster side: not applied") || !strings.Contains(r.stderr, "pass --auto-approve") {
		t.Fatalf("apply saved plan without a terminal: code %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "20 done, 0 failed, 0 skipped") || strings.Contains(r.stderr, "Cluster side finished") {
		t.Errorf("apply summary:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "Cluster side, planned now that the clusters exist:") || !strings.Contains(r.stdout, "k8s:cluster3/istio-system/Secret/istio-remote-secret-cluster4") {
		t.Errorf("apply did not show the cluster side it planned:\n%s", r.stdout)
	}
	if n := srv.Calls("Firewalls/Insert"); n == 0 {
		t.Error("the Google Cloud layer was not applied")
	}
	r = runAgainst(t, sb, "apply", "-f", file, "--wait=false", "--auto-approve")
	if r.code != exitOK || !strings.Contains(r.stderr, "Cluster side finished") {
		t.Fatalf("apply the cluster side: code %d\n%s", r.code, r.stderr)
	}
	// The sample names no way in: the clusters are reached through the Connect Gateway.
	if n := srv.Calls("ConnectGateway/Proxy"); n == 0 {
		t.Error("the cluster side did not go through the Connect Gateway")
	}

	r = runAgainst(t, sb, "plan", "-f", file, "--detailed-exitcode")
	if r.code != exitOK || !strings.Contains(r.stdout, "No changes.") {
		t.Fatalf("plan after apply: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// verify proves what apply did: clusters, nothing left to do, remote secrets that work.
	r = runAgainst(t, sb, "verify", "-f", file)
	if r.code != exitOK || !strings.Contains(r.stdout, "√ cluster3 → cluster4: cluster3 lists services") || !strings.Contains(r.stdout, "0/") {
		t.Fatalf("verify after apply: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runAgainst(t, sb, "verify", "-f", file, "-o", "json")
	var rep struct {
		Counts struct {
			OK       int `json:"ok"`
			Warnings int `json:"warnings"`
			Failed   int `json:"failed"`
		} `json:"counts"`
	}
	// 5 findings of the cluster checks; each cluster's cacerts chaining to the file's root; 10
	// flows through the firewall: 3 webhook ports and one admin network for each of the 2
	// clusters, and the mesh in each direction; 2 each for the peers' and the admin network in the
	// authorized networks, the private endpoint and the NetworkPolicies of the one namespace; 2 for
	// each of 6 GKE settings; 1 for the APIs of the one project. One warning: no istiod runs in the
	// sandbox, so no cluster publishes the root it signs with.
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Counts.OK != 38 || rep.Counts.Warnings != 1 || rep.Counts.Failed != 0 {
		t.Fatalf("verify -o json: %v %+v\n%s", err, rep, r.stdout)
	}

	// The same saved plan is stale now, and says why.
	r = runAgainst(t, sb, "apply", planFile)
	if r.code != exitFailure || !strings.Contains(r.stderr, "the saved plan is stale") || !strings.Contains(r.stderr, "firewalls/asmfed-asm-sample--admin was created") {
		t.Fatalf("stale plan: code %d\n%s", r.code, r.stderr)
	}

	// A changed file makes a saved plan stale too.
	r = runAgainst(t, sb, "plan", "-f", file, "--out", planFile)
	if r.code != exitOK {
		t.Fatal(r.stderr)
	}
	if err := os.WriteFile(file, append(data, []byte("\n# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runAgainst(t, sb, "apply", planFile)
	if r.code != exitFailure || !strings.Contains(r.stderr, "federation.yaml changed") {
		t.Fatalf("plan of an edited file: code %d\n%s", r.code, r.stderr)
	}

	r = runAgainst(t, sb, "plan", "-f", file, "-o", "json")
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || p.FormatVersion != plan.FormatVersion || p.HasChanges() {
		t.Fatalf("plan -o json: %v %+v", err, p.Summary)
	}
	layers := map[string]int{}
	for _, c := range p.Changes {
		layers[c.Address.Layer()]++
	}
	if layers["gcp"] == 0 || layers["gke"] == 0 || layers["k8s"] == 0 {
		t.Errorf("the plan does not cover every layer: %v", layers)
	}

	// An operator deletes the webhook rule with gcloud: verify fails and names the flow and port.
	deleteWebhookRule(t, sb)
	r = runAgainst(t, sb, "verify", "-f", file)
	if r.code != exitChecksFailed || !strings.Contains(r.stdout, "× cluster3: control plane 192.168.2.0/28 → nodes of cluster3 on tcp:15017: blocked") {
		t.Fatalf("verify after the webhook rule was deleted: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The picture draws that flow blocked, in red, and the others allowed, in green.
	r = runAgainst(t, sb, "verify", "-f", file, "--graph", "--format", "dot")
	if r.code != exitChecksFailed {
		t.Fatalf("verify --graph: code %d\n%s", r.code, r.stderr)
	}
	var blocked, allowed int
	for _, line := range strings.Split(r.stdout, "\n") {
		switch {
		case strings.Contains(line, "cp_cluster3 -> nodes_cluster3") && strings.Contains(line, "BLOCKED") && strings.Contains(line, `color="#cf222e"`):
			blocked++
		case strings.Contains(line, "nodes_cluster3 -> nodes_cluster4") && strings.Contains(line, `color="#1a7f37"`):
			allowed++
		}
	}
	if blocked != 1 || allowed != 1 || !strings.Contains(r.stderr, "ASMFED-NET-001") {
		t.Errorf("verify --graph: %d blocked webhook edges, %d allowed mesh edges, want 1 and 1\n%s", blocked, allowed, r.stdout)
	}

	r = runAgainst(t, sb, "destroy", "-f", file, "--auto-approve")
	if r.code != exitOK {
		t.Fatalf("destroy: code %d\n%s", r.code, r.stderr)
	}
}

// deleteWebhookRule deletes the federation's webhook firewall rule the way an operator would: with
// gcloud, pointed at the sandbox.
func deleteWebhookRule(t *testing.T, sb *sandboxEnv) {
	t.Helper()
	gcloud := gcloudAgainst(t, sb)
	var rule string
	for _, name := range strings.Fields(gcloud("compute", "firewall-rules", "list", "--format=value(name)")) {
		if strings.HasSuffix(name, "-webhooks") {
			rule = name
		}
	}
	if rule == "" {
		t.Fatal("gcloud lists no webhook rule")
	}
	gcloud("compute", "firewall-rules", "delete", rule, "--quiet")
}
