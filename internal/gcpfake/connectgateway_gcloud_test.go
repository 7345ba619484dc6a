package gcpfake_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/gkehub/v1"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/internal/sandbox"
	"github.com/asmfed/kubectl-asmfed/internal/testenv"
	"github.com/asmfed/kubectl-asmfed/internal/testutil"
)

// gcloud is the judge of the simulated Connect Gateway: against the sandbox (a GKE cluster that
// is a real local API server, registered in the fleet), `gcloud container fleet memberships
// get-credentials` checks the caller's permissions with testIamPermissions, asks
// generateCredentials for the kubeconfig and saves it, and `kubectl get namespaces` with that
// kubeconfig (its gke-gcloud-auth-plugin asking gcloud for the sandbox's token) reaches the
// cluster through the gateway. Without gkehub.gateway.get, both are refused.
func TestGcloudConnectGateway(t *testing.T) {
	testenv.Require(t)
	for _, bin := range []string{"gcloud", "kubectl", "gke-gcloud-auth-plugin"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed; the gateway's fidelity test needs it", bin)
		}
	}
	srv, tokenFile := sandbox.StartT(t)
	cm := gkeClient(t, srv)
	if op := waitOpFor(t, cm, createC1(t, cm).Name, 3*time.Minute); op.Error != nil {
		t.Fatal(op.Error)
	}
	hub := hubService(t, srv)
	op, err := hub.Projects.Locations.Memberships.Create("projects/demo/locations/global", &gkehub.Membership{
		Endpoint: &gkehub.MembershipEndpoint{GkeCluster: &gkehub.GkeCluster{ResourceLink: "//container.googleapis.com/" + c1}}}).MembershipId("c1").Do()
	waitHub(t, hub, op, err)

	home := t.TempDir()
	env := append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"CLOUDSDK_CONFIG=" + filepath.Join(home, "gcloud"),
		"KUBECONFIG=" + filepath.Join(home, "kubeconfig"),
		"CLOUDSDK_CORE_PROJECT=demo",
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
	}, gcpfake.EnvWithToken(srv.URL(), tokenFile)...)
	if py := os.Getenv("CLOUDSDK_PYTHON"); py != "" {
		env = append(env, "CLOUDSDK_PYTHON="+py)
	}
	run := func(bin string, args ...string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		} else if err != nil {
			t.Fatalf("%s %v: %v", bin, args, err)
		}
		return 0, out.String()
	}

	code, out := run("gcloud", "container", "fleet", "memberships", "get-credentials", "c1", "--location=global")
	if code != 0 || !strings.Contains(out, `A new kubeconfig entry "connectgateway_demo_global_c1" has been generated and set as the current context.`) {
		t.Fatalf("get-credentials: exit %d\n%s", code, out)
	}
	code, out = run("kubectl", "get", "namespaces", "-o", "name")
	if code != 0 || !strings.Contains(out, "namespace/kube-system") {
		kc, _ := os.ReadFile(filepath.Join(home, "kubeconfig"))
		t.Fatalf("kubectl get namespaces through the gateway: exit %d\n%s\n%s", code, out, kc)
	}
	if n := srv.Calls("ConnectGateway/Proxy"); n == 0 {
		t.Error("kubectl did not go through the Connect Gateway")
	}

	srv.DenyPermission(gcpfake.Denial{Member: sandbox.Principal, Permission: "gkehub.gateway.get"})
	code, out = run("kubectl", "get", "namespaces", "-o", "name")
	if code == 0 || !strings.Contains(out, "Error from server (Forbidden)") {
		t.Errorf("kubectl without gkehub.gateway.get: exit %d, want Forbidden\n%s", code, out)
	}
	if last := lastGatewayCall(srv); last.Code != "PERMISSION_DENIED" {
		t.Errorf("the gateway's last answer to kubectl: %+v, want PERMISSION_DENIED", last)
	}
	code, out = run("gcloud", "container", "fleet", "memberships", "get-credentials", "c1", "--location=global")
	if code != 1 || !strings.Contains(out, "Caller doesn't have sufficient permissions.") {
		t.Errorf("get-credentials without gkehub.gateway.get: exit %d, want gcloud's refusal after testIamPermissions\n%s", code, out)
	}
}

// lastGatewayCall is the last call the simulated gateway passed on or refused.
func lastGatewayCall(srv *gcpfake.Server) gcpfake.LogEntry {
	var last gcpfake.LogEntry
	for _, e := range srv.RequestLog() {
		if e.Method == "ConnectGateway/Proxy" {
			last = e
		}
	}
	return last
}

// waitOpFor is waitOp with a longer bound: a real API server takes seconds to start, more on a
// loaded machine.
func waitOpFor(t *testing.T, cm *container.ClusterManagerClient, name string, d time.Duration) *containerpb.Operation {
	t.Helper()
	var op *containerpb.Operation
	testutil.Eventually(t, d, "operation "+name, func() error {
		var err error
		if op, err = cm.GetOperation(context.Background(), &containerpb.GetOperationRequest{Name: opsPath + name}); err != nil {
			return err
		}
		if op.Status != containerpb.Operation_DONE {
			return fmt.Errorf("still %v", op.Status)
		}
		return nil
	})
	return op
}
