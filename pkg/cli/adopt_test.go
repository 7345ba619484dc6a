package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// referenceProject is the project the two-cluster sample names, where the reference's setup is
// built.
const referenceProject = "asm-multicluster-demo"

// runReference runs one of hack/bench's replays of the reference's setup against the sandbox,
// with gcloud and kubectl pointed at it.
func runReference(t *testing.T, sb *sandboxEnv, script string, args ...string) {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join("..", "..", "hack", "bench", script), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CLOUDSDK_CONFIG=" + filepath.Join(home, "gcloud"),
		"KUBECONFIG=" + filepath.Join(home, "kubeconfig"), "CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true", "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"ASMFED_GCP_ACCESS_TOKEN_FILE=" + sb.env[accessTokenFileEnv]}, gcpfake.EnvWithToken(sb.srv.URL(), sb.env[accessTokenFileEnv])...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

func TestAdoptReferenceExplore(t *testing.T) {
	sb := startSandbox(t)
	file := fedtest.WithRoot(t, twoCluster)
	gcloud := gcloudAgainst(t, sb)
	num := strings.TrimSpace(gcloud("projects", "describe", referenceProject, "--format=value(projectNumber)"))
	runReference(t, sb, "reference-gcloud.sh", referenceProject, num)
	r := runAgainst(t, sb, "plan", "-f", file)
	t.Logf("plan: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
}
