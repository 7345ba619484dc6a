package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sqladmin "google.golang.org/api/sqladmin/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// seedOrdersDB puts samples/addons' Cloud SQL instance in the sandbox, with a private IP on the
// sample's VPC: the tool reads instances and never creates them.
func seedOrdersDB(t *testing.T, sb *sandboxEnv) {
	t.Helper()
	if err := sb.srv.SeedSQLInstance(&sqladmin.DatabaseInstance{Name: "orders-db", Project: "asm-multicluster-demo", Region: "us-west2",
		IpAddresses: []*sqladmin.IpMapping{{Type: "PRIVATE", IpAddress: "10.20.0.3"}},
		Settings:    &sqladmin.Settings{IpConfiguration: &sqladmin.IpConfiguration{PrivateNetwork: "projects/asm-multicluster-demo/global/networks/asm-vpc"}}}); err != nil {
		t.Fatal(err)
	}
}

// The Cloud SQL add-on end to end in the sandbox: samples/addons applies, gcloud shows the
// service account and both bindings, a second plan has no changes, and destroy removes the
// Google Cloud side again.
func TestCloudSQLAddonSandbox(t *testing.T) {
	sb := startSandbox(t)
	// The whole sample (the Prisma Cloud add-on's files too), with a root of its own.
	file := fedtest.WithRoot(t, "../../samples/addons/federation.yaml")
	dir := filepath.Dir(file)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	seedOrdersDB(t, sb)
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

	// kubectl reads the annotated account back in both clusters, and verify passes the add-on's
	// checks.
	kubectl := sandboxKubectl(t, sb, "cluster3", "cluster4")
	for _, c := range []string{"cluster3", "cluster4"} {
		if got := kubectl(t, "--context", c, "-n", "sample", "get", "serviceaccount", "ksa-sqlproxy", "-o", `jsonpath={.metadata.annotations.iam\.gke\.io/gcp-service-account}`); got != email {
			t.Errorf("%s: ksa-sqlproxy is annotated %q, want %q", c, got, email)
		}
	}
	r = runAgainst(t, sb, "verify", "-f", file, "--only", "ASMFED-ADDON-01*")
	for _, want := range []string{"√ " + email + ": roles/cloudsql.client on project asm-multicluster-demo", "√ " + email + ": roles/iam.workloadIdentityUser for " + wi,
		"√ cluster4/sample/ksa-sqlproxy: iam.gke.io/gcp-service-account=" + email,
		"√ asm-multicluster-demo:us-west2:orders-db: POSTGRES_16, RUNNABLE, private IP 10.20.0.3 on projects/asm-multicluster-demo/global/networks/asm-vpc"} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Fatalf("verify after apply: code %d, want %q\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}

	// An operator removes the Workload Identity binding with gcloud and points cluster4's account
	// at another Google service account with kubectl; the instance is moved to another network.
	// verify fails each, and the commands its hints give put the identity back.
	g(t, "iam", "service-accounts", "remove-iam-policy-binding", email, "--project=asm-multicluster-demo", "--role=roles/iam.workloadIdentityUser", "--member="+wi)
	kubectl(t, "--context", "cluster4", "-n", "sample", "annotate", "serviceaccount", "ksa-sqlproxy", "--overwrite", "iam.gke.io/gcp-service-account=other@asm-multicluster-demo.iam.gserviceaccount.com")
	if err := sb.srv.SeedSQLInstance(&sqladmin.DatabaseInstance{Name: "orders-db", Project: "asm-multicluster-demo", Region: "us-west2",
		IpAddresses: []*sqladmin.IpMapping{{Type: "PRIVATE", IpAddress: "10.20.0.3"}},
		Settings:    &sqladmin.Settings{IpConfiguration: &sqladmin.IpConfiguration{PrivateNetwork: "projects/asm-multicluster-demo/global/networks/default"}}}); err != nil {
		t.Fatal(err)
	}
	r = runAgainst(t, sb, "verify", "-f", file, "--only", "ASMFED-ADDON-01*")
	wiHint := "gcloud iam service-accounts add-iam-policy-binding " + email + " --project asm-multicluster-demo --role=roles/iam.workloadIdentityUser --member='" + wi + "'"
	annotateHint := "kubectl --context cluster4 -n sample annotate serviceaccount ksa-sqlproxy iam.gke.io/gcp-service-account=" + email + " --overwrite"
	for _, want := range []string{"× " + email + ": its roles/iam.workloadIdentityUser does not include " + wi, wiHint,
		"× cluster4/sample/ksa-sqlproxy: iam.gke.io/gcp-service-account=other@asm-multicluster-demo.iam.gserviceaccount.com, not " + email, annotateHint,
		"√ cluster3/sample/ksa-sqlproxy",
		"× asm-multicluster-demo:us-west2:orders-db: the instance's private IP 10.20.0.3 is on projects/asm-multicluster-demo/global/networks/default, not on the federation's VPC",
		"see docs/verify.md#asmfed-addon-010", "see docs/verify.md#asmfed-addon-011", "2/2 checks failed (3/"} {
		if r.code != exitChecksFailed || !strings.Contains(r.stdout, want) {
			t.Fatalf("verify after the changes: code %d, want %q\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	g(t, "iam", "service-accounts", "add-iam-policy-binding", email, "--project=asm-multicluster-demo", "--role=roles/iam.workloadIdentityUser", "--member="+wi)
	kubectl(t, strings.Fields(strings.TrimPrefix(annotateHint, "kubectl "))...)
	if r = runAgainst(t, sb, "verify", "-f", file, "--only", "ASMFED-ADDON-010"); r.code != exitOK {
		t.Fatalf("verify after the hints' commands: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// With privateIP: false, an instance without a public IP cannot be reached; with one, the
	// clusters reach it through the Cloud NAT apply created, and no authorized network is needed.
	public := filepath.Join(dir, "public.yaml")
	if err := os.WriteFile(public, []byte(strings.Replace(string(data), "clients:\n", "privateIP: false\n          clients:\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runAgainst(t, sb, "verify", "-f", public, "--only", "ASMFED-ADDON-011")
	if want := "× asm-multicluster-demo:us-west2:orders-db: the instance has no public IP, and the file asks for it (privateIP: false)"; r.code != exitChecksFailed || !strings.Contains(r.stdout, want) ||
		!strings.Contains(r.stdout, "hint: gcloud sql instances patch orders-db --project asm-multicluster-demo --assign-ip") {
		t.Fatalf("verify of a public instance without a public IP: code %d, want %q\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	if err := sb.srv.SeedSQLInstance(&sqladmin.DatabaseInstance{Name: "orders-db", Project: "asm-multicluster-demo", Region: "us-west2",
		IpAddresses: []*sqladmin.IpMapping{{Type: "PRIMARY", IpAddress: "34.1.2.3"}},
		Settings:    &sqladmin.Settings{IpConfiguration: &sqladmin.IpConfiguration{Ipv4Enabled: true}}}); err != nil {
		t.Fatal(err)
	}
	r = runAgainst(t, sb, "verify", "-f", public, "--only", "ASMFED-ADDON-011")
	if want := "√ asm-multicluster-demo:us-west2:orders-db: public IP 34.1.2.3, reached from cluster3, cluster4 through Cloud NAT"; r.code != exitOK || !strings.Contains(r.stdout, want) {
		t.Fatalf("verify of a public instance: code %d, want %q\n%s%s", r.code, want, r.stdout, r.stderr)
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

// sandboxKubectl runs kubectl against the sandbox's clusters, with a kubeconfig whose contexts
// are the clusters' names: their endpoints and CAs as gcloud describes them, and the sandbox's
// token.
func sandboxKubectl(t *testing.T, sb *sandboxEnv, clusters ...string) func(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl: %v", err)
	}
	token, err := os.ReadFile(sb.env[accessTokenFileEnv])
	if err != nil {
		t.Fatal(err)
	}
	g := sandboxGcloud(t, sb.srv)
	cfg := clientcmdapi.NewConfig()
	for _, c := range clusters {
		var cl struct {
			Endpoint   string
			MasterAuth struct{ ClusterCaCertificate string }
		}
		if err := json.Unmarshal([]byte(g(t, "container", "clusters", "describe", c, "--location=us-west2", "--project=asm-multicluster-demo")), &cl); err != nil {
			t.Fatal(err)
		}
		ca, err := base64.StdEncoding.DecodeString(cl.MasterAuth.ClusterCaCertificate)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Clusters[c] = &clientcmdapi.Cluster{Server: "https://" + cl.Endpoint, CertificateAuthorityData: ca}
		cfg.AuthInfos[c] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(string(token))}
		cfg.Contexts[c] = &clientcmdapi.Context{Cluster: c, AuthInfo: c}
	}
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "KUBECONFIG=" + kubeconfig}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.String()
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
