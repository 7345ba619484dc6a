package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// The Cloud SQL add-on end to end in the sandbox: samples/addons applies, gcloud shows the
// service account and both bindings, a second plan has no changes, and destroy removes the
// Google Cloud side again.
func TestCloudSQLAddonSandbox(t *testing.T) {
	sb := startSandbox(t)
	dir := t.TempDir()
	caInit(t, dir)
	data, err := os.ReadFile("../../samples/addons/federation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "federation.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sb.srv.SeedSQLInstance(&sqladmin.DatabaseInstance{Name: "orders-db", Project: "asm-multicluster-demo", Region: "us-west2",
		IpAddresses: []*sqladmin.IpMapping{{Type: "PRIVATE", IpAddress: "10.20.0.3"}},
		Settings:    &sqladmin.Settings{IpConfiguration: &sqladmin.IpConfiguration{PrivateNetwork: "projects/asm-multicluster-demo/global/networks/asm-vpc"}}}); err != nil {
		t.Fatal(err)
	}
	const email = "sql-client@asm-multicluster-demo.iam.gserviceaccount.com"
	const wi = "serviceAccount:asm-multicluster-demo.svc.id.goog[sample/ksa-sqlproxy]"

	r := runAgainst(t, sb, "plan", "-f", file)
	for _, want := range []string{
		"gcp:projects/asm-multicluster-demo/serviceAccounts/" + email,
		"gcp:projects/asm-multicluster-demo/iam/roles/cloudsql.client/serviceAccount:" + email,
		"gcp:projects/asm-multicluster-demo/serviceAccounts/" + email + "/iam/roles/iam.workloadIdentityUser/" + wi,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan does not show %s:\n%s", want, r.stdout)
		}
	}
	r = runAgainst(t, sb, "apply", "-f", file, "--wait=false", "--auto-approve")
	if r.code != exitOK || !strings.Contains(r.stderr, "Cluster side finished") {
		t.Fatalf("apply: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"k8s:cluster3/sample/ServiceAccount/ksa-sqlproxy", "k8s:cluster4/sample/NetworkPolicy/asmfed-cloudsql-orders-db",
		"k8s:cluster3/sample/ServiceEntry/asmfed-cloudsql-orders-db", "k8s:cluster4/sample/ServiceEntry/asmfed-cloudsql-admin"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply did not create %s:\n%s", want, r.stdout)
		}
	}

	g := sandboxGcloud(t, sb.srv)
	sas := g(t, "iam", "service-accounts", "list", "--project=asm-multicluster-demo")
	if !strings.Contains(sas, email) || !strings.Contains(sas, "managed-by=asmfed federation=asm-addons") {
		t.Errorf("gcloud iam service-accounts list:\n%s", sas)
	}
	if p := g(t, "iam", "service-accounts", "get-iam-policy", email, "--project=asm-multicluster-demo"); !strings.Contains(p, wi) || !strings.Contains(p, "roles/iam.workloadIdentityUser") {
		t.Errorf("gcloud iam service-accounts get-iam-policy:\n%s", p)
	}
	if p := g(t, "projects", "get-iam-policy", "asm-multicluster-demo"); !strings.Contains(p, "serviceAccount:"+email) || !strings.Contains(p, "roles/cloudsql.client") {
		t.Errorf("gcloud projects get-iam-policy:\n%s", p)
	}

	r = runAgainst(t, sb, "plan", "-f", file, "--detailed-exitcode")
	if r.code != exitOK || !strings.Contains(r.stdout, "No changes.") {
		t.Fatalf("plan after apply: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Someone else's member of roles/cloudsql.client stays through destroy.
	other := "serviceAccount:someone-else@asm-multicluster-demo.iam.gserviceaccount.com"
	g(t, "projects", "add-iam-policy-binding", "asm-multicluster-demo", "--role=roles/cloudsql.client", "--member="+other, "--condition=None")
	r = runAgainst(t, sb, "destroy", "-f", file, "--auto-approve")
	if r.code != exitOK {
		t.Fatalf("destroy: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if sas := g(t, "iam", "service-accounts", "list", "--project=asm-multicluster-demo"); strings.Contains(sas, email) {
		t.Errorf("destroy left the service account:\n%s", sas)
	}
	p := g(t, "projects", "get-iam-policy", "asm-multicluster-demo")
	if strings.Contains(p, "serviceAccount:"+email) || !strings.Contains(p, other) {
		t.Errorf("destroy must remove the federation's binding and only it:\n%s", p)
	}
}

// sandboxGcloud runs gcloud against the sandbox's simulator, with --format=json.
func sandboxGcloud(t *testing.T, srv *gcpfake.Server) func(t *testing.T, args ...string) string {
	bin, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud not installed")
	}
	home := t.TempDir()
	env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CLOUDSDK_CONFIG=" + filepath.Join(home, "gcloud"),
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false", "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true", "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true"},
		gcpfake.Env(srv.URL())...)
	return func(t *testing.T, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append(args, "--format=json")...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		var v any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil && out.Len() > 0 {
			t.Fatalf("gcloud %s: not JSON: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
}
