package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/sandbox"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

const sampleProject = "asm-multicluster-demo"

// sampleCopy writes the two-cluster sample, with a plug-in root as ca init would make it, into a
// temporary directory, edited by edit.
func sampleCopy(t *testing.T, edit func(string) string) string {
	t.Helper()
	file := fedtest.WithRoot(t, twoCluster)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(edit(string(data))), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// writeKubeconfig writes a kubeconfig with a context per cluster (CLUSTER-ctx): the server and
// CA GKE reports for it and the sandbox's token, or, before the clusters exist, an address
// nothing listens at.
func writeKubeconfig(t *testing.T, sb *sandboxEnv, path string, clusters ...string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	token, err := os.ReadFile(sb.env[accessTokenFileEnv])
	if err != nil {
		t.Fatal(err)
	}
	cm, err := container.NewClusterManagerRESTClient(context.Background(), sb.srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	for _, name := range clusters {
		server := &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", InsecureSkipTLSVerify: true}
		c, err := cm.GetCluster(context.Background(), &containerpb.GetClusterRequest{Name: "projects/" + sampleProject + "/locations/us-west2/clusters/" + name})
		if err == nil && c.GetStatus() == containerpb.Cluster_RUNNING {
			ca, err := base64.StdEncoding.DecodeString(c.GetMasterAuth().GetClusterCaCertificate())
			if err != nil {
				t.Fatal(err)
			}
			server = &clientcmdapi.Cluster{Server: "https://" + c.GetEndpoint(), CertificateAuthorityData: ca}
		}
		cfg.Clusters[name] = server
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(string(token))}
		cfg.Contexts[name+"-ctx"] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

// The whole flow with the clusters reached through kubeconfig contexts, not the Connect
// Gateway: the contexts point nowhere until the clusters exist, so apply applies Google Cloud and
// refuses the cluster side, naming the address each context tried; once the contexts point at
// the clusters, apply finishes, plan has nothing left, verify passes and destroy cleans up.
func TestKubeconfigContextsFlow(t *testing.T) {
	sb := startSandbox(t)
	file := sampleCopy(t, func(s string) string {
		for _, c := range []string{"cluster3", "cluster4"} {
			s = strings.Replace(s, "      subnet: "+c+"\n", "      subnet: "+c+"\n      kubeconfigContext: "+c+"-ctx\n", 1)
		}
		return s
	})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	writeKubeconfig(t, sb, kubeconfig, "cluster3", "cluster4")
	with := func(args ...string) result {
		t.Helper()
		return runAgainst(t, sb, append(args, "--kubeconfig", kubeconfig)...)
	}

	r := with("plan", "-f", file, "--detailed-exitcode")
	if r.code != exitChanges || !strings.Contains(r.stdout, "clusters cluster3, cluster4 do not exist or are not running yet") {
		t.Fatalf("first plan: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "connectgateway") {
		t.Errorf("the plan enables the Connect Gateway, which no cluster goes through:\n%s", r.stdout)
	}

	r = with("apply", "-f", file, "--auto-approve", "--wait=false")
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "the Google Cloud layer is applied, but the cluster side cannot be") ||
		!strings.Contains(r.stderr, "cluster cluster3 (via kubeconfig) at https://127.0.0.1:1: connection refused") ||
		!strings.Contains(r.stderr, "fix: kubeconfig context cluster3-ctx names a server that does not listen") {
		t.Fatalf("apply with contexts that point nowhere: code %d\n%s", r.code, r.stderr)
	}
	if n := sb.srv.Calls("Firewalls/Insert"); n == 0 {
		t.Fatal("apply did not apply the Google Cloud layer before refusing the cluster side")
	}

	writeKubeconfig(t, sb, kubeconfig, "cluster3", "cluster4")
	r = with("apply", "-f", file, "--auto-approve", "--wait=false")
	if r.code != exitOK || !strings.Contains(r.stderr, "Cluster side finished") {
		t.Fatalf("apply once the contexts reach the clusters: code %d\n%s", r.code, r.stderr)
	}
	r = with("plan", "-f", file, "--detailed-exitcode")
	if r.code != exitOK || !strings.Contains(r.stdout, "No changes.") {
		t.Fatalf("plan after apply: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = with("verify", "-f", file)
	if r.code != exitOK || !strings.Contains(r.stdout, "√ cluster3 → cluster4: cluster3 lists services") {
		t.Fatalf("verify: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = with("destroy", "-f", file, "--auto-approve")
	if r.code != exitOK {
		t.Fatalf("destroy: code %d\n%s", r.code, r.stderr)
	}
	if n := sb.srv.Calls("ConnectGateway/Proxy"); n != 0 {
		t.Errorf("%d calls went through the Connect Gateway; every cluster names a kubeconfig context", n)
	}
}

// A cluster that exists but refuses the caller (here the Connect Gateway, once the caller lacks
// gkehub.gateway.get) is deferred, not a failure: plan covers Google Cloud, says for each
// cluster the address tried, the cause and the fix, and exits 4; apply applies Google Cloud and
// refuses the cluster side with the same explanation; verify reports the clusters as a failed
// prerequisite and runs the checks that do not need them. With the permission back, plan is
// whole again.
func TestUnreachableClusterIsDeferred(t *testing.T) {
	sb := startSandbox(t)
	file := sampleCopy(t, func(s string) string { return s })
	r := runAgainst(t, sb, "apply", "-f", file, "--auto-approve", "--wait=false")
	if r.code != exitOK || !strings.Contains(r.stderr, "Cluster side finished") {
		t.Fatalf("apply: code %d\n%s", r.code, r.stderr)
	}
	if n := sb.srv.Calls("ConnectGateway/Proxy"); n == 0 {
		t.Fatal("the cluster side did not go through the Connect Gateway")
	}

	sb.srv.DenyPermission(gcpfake.Denial{Member: sandbox.Principal, Permission: "gkehub.gateway.get"})
	gateway := sb.srv.URL() + "/connectgateway/v1/projects/"
	r = runAgainst(t, sb, "plan", "-f", file)
	for _, want := range []string{
		"# not planned: clusters that exist but did not answer",
		"! cluster3 (via connectGateway) at " + gateway,
		"/locations/global/gkeMemberships/cluster3\n",
		"cause: 403 PERMISSION_DENIED: the caller lacks gkehub.gateway.get on projects/",
		"fix: grant the caller (or the service account it impersonates) roles/gkehub.gatewayEditor on project " + sampleProject,
		"! cluster4 (via connectGateway)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "error: the cluster side is not planned: cluster3, cluster4 exist but did not answer") {
		t.Fatalf("plan: code %d, want %d\n%s%s", r.code, exitUnreachable, r.stdout, r.stderr)
	}

	r = runAgainst(t, sb, "plan", "-f", file, "-o", "json")
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || r.code != exitUnreachable || len(p.Unreachable) != 2 {
		t.Fatalf("plan -o json: code %d, %v, unreachable %+v", r.code, err, p.Unreachable)
	}
	if u := p.Unreachable[0]; u.Cluster != "cluster3" || u.Via != "connectGateway" || !strings.HasPrefix(u.Address, gateway) ||
		!strings.Contains(u.Cause, "gkehub.gateway.get") || !strings.Contains(u.Fix, "roles/gkehub.gatewayEditor") {
		t.Errorf("plan -o json: %+v", u)
	}

	// Google Cloud still has something to apply; apply does it and refuses the rest.
	deleteWebhookRule(t, sb)
	inserts := sb.srv.Calls("Firewalls/Insert")
	r = runAgainst(t, sb, "apply", "-f", file, "--auto-approve", "--wait=false")
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "the Google Cloud layer is applied, but the cluster side cannot be") ||
		!strings.Contains(r.stderr, "cluster cluster3 (via connectGateway) at "+gateway) || !strings.Contains(r.stderr, "roles/gkehub.gatewayEditor") {
		t.Fatalf("apply: code %d\n%s", r.code, r.stderr)
	}
	if sb.srv.Calls("Firewalls/Insert") != inserts+1 {
		t.Errorf("apply did not recreate the webhook rule before refusing the cluster side")
	}
	r = runAgainst(t, sb, "apply", "-f", file, "--auto-approve", "--wait=false")
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "Google Cloud has nothing to apply, and the cluster side is not planned") {
		t.Fatalf("apply with nothing for Google Cloud: code %d\n%s", r.code, r.stderr)
	}

	r = runAgainst(t, sb, "verify", "-f", file)
	for _, want := range []string{
		"× cluster3: exists but did not answer via connectGateway at " + gateway,
		"hint: grant the caller (or the service account it impersonates) roles/gkehub.gatewayEditor",
		"- cluster3 → cluster4: cluster3 cannot be reached",
		"√ cluster3: control plane 192.168.2.0/28 → nodes of cluster3 on tcp:15017: allowed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify lacks %q", want)
		}
	}
	if r.code != exitChecksFailed {
		t.Fatalf("verify: code %d, want %d\n%s%s", r.code, exitChecksFailed, r.stdout, r.stderr)
	}

	sb.srv.ClearDenials()
	r = runAgainst(t, sb, "plan", "-f", file, "--detailed-exitcode")
	if r.code != exitOK || !strings.Contains(r.stdout, "No changes.") {
		t.Fatalf("plan with the permission back: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
