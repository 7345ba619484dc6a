package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/xsdcheck"
)

// gcloudAgainst runs gcloud pointed at the sandbox, as an operator would, in the sample's project.
func gcloudAgainst(t *testing.T, sb *sandboxEnv) func(args ...string) string {
	t.Helper()
	const project = "asm-multicluster-demo"
	bin, err := exec.LookPath("gcloud")
	if err != nil {
		t.Fatal("gcloud is not installed; the operator's view of this test needs it")
	}
	home := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CLOUDSDK_CONFIG=" + filepath.Join(home, "gcloud"),
			"CLOUDSDK_CORE_PROJECT=" + project, "CLOUDSDK_CORE_CHECK_GCE_METADATA=false", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
			"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true"}, gcpfake.Env(sb.srv.URL())...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gcloud %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
}

// After apply, every check of the live network passes, in text, JSON and JUnit; once an operator
// removes a peer's pod range from a cluster's master authorized networks with gcloud, verify fails
// naming both clusters, and --only and --skip pick the checks.
func TestVerifyLiveNetwork(t *testing.T) {
	sb := startSandbox(t)
	file := fedtest.WithRoot(t, twoCluster)
	if r := runAgainst(t, sb, "apply", "-f", file, "--wait=false", "--auto-approve"); r.code != exitOK {
		t.Fatalf("apply: code %d\n%s", r.code, r.stderr)
	}

	junit := filepath.Join(t.TempDir(), "verify.xml")
	r := runAgainst(t, sb, "verify", "-f", file, "-o", "json", "--junit", junit)
	var rep struct {
		Results []struct{ Check, Subject, Status, Message string } `json:"results"`
		Checks  []struct{ ID, Status string }                      `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitOK {
		t.Fatalf("verify after apply: code %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	status := map[string]string{}
	for _, c := range rep.Checks {
		status[c.ID] = c.Status
	}
	// In the sandbox: one region, an in-cluster control plane, the managed CA.
	for id, want := range map[string]string{"ASMFED-NET-002": "ok", "ASMFED-NET-003": "ok", "ASMFED-NET-004": "skipped", "ASMFED-NET-005": "ok",
		"ASMFED-NET-006": "ok", "ASMFED-GKE-001": "ok", "ASMFED-GKE-002": "ok", "ASMFED-GKE-003": "ok", "ASMFED-GKE-004": "ok", "ASMFED-GKE-005": "ok",
		"ASMFED-GKE-006": "ok", "ASMFED-GKE-007": "ok", "ASMFED-MESH-001": "skipped"} {
		if status[id] != want {
			t.Errorf("%s %s after apply, want %s", id, status[id], want)
		}
	}
	for _, res := range rep.Results {
		if res.Check == "ASMFED-NET-006" && res.Subject == "cluster3/sample" && !strings.Contains(res.Message, "the pods of cluster4") {
			t.Errorf("the live NetworkPolicies were not evaluated for the peer: %s", res.Message)
		}
	}
	issued := "its token was issued "
	for _, res := range rep.Results {
		if res.Check == "ASMFED-ACCESS-001" && (res.Status != "ok" || !strings.Contains(res.Message, issued)) {
			t.Errorf("ASMFED-ACCESS-001 %s does not say when the token was issued: %s %s", res.Subject, res.Status, res.Message)
		}
	}
	// Tokens older than --max-token-age are a warning that says how to rotate them; verify
	// still passes.
	r = runAgainst(t, sb, "verify", "-f", file, "--only", "ASMFED-ACCESS-001", "--max-token-age", "1ns")
	if r.code != exitOK || strings.Count(r.stdout, "‼ ") != 2 || !strings.Contains(r.stdout, "more than --max-token-age 1ns") ||
		!strings.Contains(r.stdout, "kubectl asmfed apply --rotate-remote-secrets issues new tokens") {
		t.Errorf("verify --max-token-age 1ns: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runAgainst(t, sb, "verify", "-f", file, "--max-token-age", "-1h"); r.code != exitFailure || !strings.Contains(r.stderr, "--max-token-age -1h0m0s") {
		t.Errorf("a negative --max-token-age: code %d\n%s", r.code, r.stderr)
	}

	xmlData, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if errs := xsdcheck.JUnit().Validate(xmlData); len(errs) > 0 {
		t.Fatalf("--junit is not valid against junit-10.xsd:\n%s", strings.Join(errs, "\n"))
	}
	if !strings.Contains(string(xmlData), `<testsuite name="ASMFED-NET-002 peers&#39; pods are in the master authorized networks" tests="2" failures="0"`) {
		t.Errorf("--junit has no suite for ASMFED-NET-002:\n%s", xmlData)
	}

	// An operator replaces cluster3's authorized networks with the admin network alone.
	gcloud := gcloudAgainst(t, sb)
	gcloud("container", "clusters", "update", "cluster3", "--location=us-west2", "--enable-master-authorized-networks",
		"--master-authorized-networks=10.0.0.0/24")
	r = runAgainst(t, sb, "verify", "-f", file, "--junit", junit)
	want := "× cluster4 → cluster3: cluster3's master authorized networks do not contain the pods of cluster4 (10.185.192.0/18): istiod of cluster4 cannot reach the API server of cluster3"
	if r.code != exitChecksFailed || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "see docs/verify.md#asmfed-net-002") {
		t.Fatalf("verify after the range was removed: code %d, want %d and %q\n%s%s", r.code, exitChecksFailed, want, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "--master-authorized-networks 10.0.0.0/24,10.185.192.0/18") {
		t.Errorf("the hint does not give the command that puts the range back:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "√ cluster3 → cluster4: cluster4's master authorized networks let in the pods of cluster3") {
		t.Errorf("the other direction is not reported passing:\n%s", r.stdout)
	}
	xmlData, err = os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if errs := xsdcheck.JUnit().Validate(xmlData); len(errs) > 0 || !strings.Contains(string(xmlData), `<failure type="failed" message="cluster3&#39;s master authorized networks do not contain the pods of cluster4`) {
		t.Errorf("--junit after the failure: %v\n%s", errs, xmlData)
	}

	// --only picks the group; --skip leaves out the failing check, and verify passes.
	r = runAgainst(t, sb, "verify", "-f", file, "--only", "ASMFED-NET-*")
	if r.code != exitChecksFailed || strings.Contains(r.stdout, "ASMFED-GKE-") || strings.Contains(r.stdout, "ASMFED-PRE-001") || !strings.Contains(r.stdout, "ASMFED-NET-006") {
		t.Errorf("--only ASMFED-NET-*: code %d\n%s", r.code, r.stdout)
	}
	r = runAgainst(t, sb, "verify", "-f", file, "--skip", "asmfed-net-002,ASMFED-PRE-002")
	if r.code != exitOK || strings.Contains(r.stdout, "ASMFED-NET-002") {
		t.Errorf("--skip the failing check: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runAgainst(t, sb, "verify", "-f", file, "--only", "ASMFED-NETWORK-*")
	if r.code != exitFailure || !strings.Contains(r.stderr, `--only "ASMFED-NETWORK-*" matches no check`) {
		t.Errorf("an unknown pattern: code %d\n%s", r.code, r.stderr)
	}
}
