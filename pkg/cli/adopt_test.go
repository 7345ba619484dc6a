package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/asmfed/kubectl-asmfed/internal/fedtest"
	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
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

// The reference's setup, built the way its Terraform and scripts build it (hack/bench replays
// them with gcloud and kubectl against the sandbox), is taken over by plan --adopt and apply of the
// two-cluster sample without rebuilding anything: the plan adopts what exists (the network, its
// subnets, the router and NAT that already NAT the clusters' subnets, the clusters, their node
// pools, istio-system, the control plane applied under istioctl's field manager, cacerts, the
// remote secrets), creates only what the federation names its own way, and neither replaces nor
// deletes; apply converges, the next plan is empty, verify passes, and the hand-made firewall
// rules are reported, and still exist. The regional memberships gcloud registered are adopted
// (GKE Hub refuses a second membership for a cluster) and the Connect Gateway reaches the
// clusters through them; none is registered in global.
func TestAdoptReference(t *testing.T) {
	sb := startSandbox(t)
	file := fedtest.WithRoot(t, twoCluster)
	gcloud := gcloudAgainst(t, sb)
	num := strings.TrimSpace(gcloud("projects", "describe", referenceProject, "--format=value(projectNumber)"))
	bin := filepath.Join(t.TempDir(), "kubectl-asmfed")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/kubectl-asmfed").CombinedOutput(); err != nil {
		t.Fatalf("build kubectl-asmfed: %v\n%s", err, out)
	}
	runReference(t, sb, "reference-gcloud.sh", referenceProject, num)
	runReference(t, sb, "reference-cluster.sh", referenceProject, num, file, filepath.Join(filepath.Dir(file), "ca"), bin)
	handMade := []string{"asm-ports-15017-9443-vpc3", "asm-ports-8443-vpc3", "asm-gce-to-vpc3-clusters-all", "asm-from-cluster3-to-cluster4", "asm-from-cluster4-to-cluster3"}

	// Without --adopt, what exists is left alone and apply would refuse.
	r := runAgainst(t, sb, "plan", "-f", file)
	if r.code != exitOK || !strings.Contains(r.stdout, "left alone: exist but are not owned") || strings.Contains(r.stdout, " @ ") {
		t.Fatalf("plan without --adopt: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runAgainst(t, sb, "plan", "-f", file, "--adopt", "-o", "json")
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan --adopt -o json: code %d: %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	got := map[plan.Action][]string{}
	for _, c := range p.Changes {
		got[c.Action] = append(got[c.Action], string(c.Address))
	}
	t.Logf("plan --adopt: %+v\nadopt: %s\ncreate: %s\nupdate: %s\nconflicts: %v\nwarnings: %s\nnotes: %s", p.Summary,
		strings.Join(got[plan.Adopt], "\n  "), strings.Join(got[plan.Create], "\n  "), strings.Join(got[plan.Update], "\n  "), p.Conflicts,
		strings.Join(p.Warnings, "\n  "), strings.Join(p.Notes, "\n  "))
	if !p.Adopt || len(p.Conflicts) != 0 || p.Summary.Replace != 0 || p.Summary.Destroy != 0 || len(p.Unreachable) != 0 {
		t.Fatalf("plan --adopt: adopt=%v %+v conflicts %v unreachable %v", p.Adopt, p.Summary, p.Conflicts, p.Unreachable)
	}
	const pr = "projects/" + referenceProject
	for _, a := range []string{
		"gcp:" + pr + "/global/networks/asm-vpc-3",
		"gcp:" + pr + "/regions/us-west2/subnetworks/cluster3",
		"gcp:" + pr + "/regions/us-west2/subnetworks/bastion-subnet",
		"gcp:" + pr + "/regions/us-west2/routers/asm-router3",
		"gke:" + pr + "/locations/us-west2/clusters/cluster3",
		"gke:" + pr + "/locations/us-west2/clusters/cluster4/nodePools/cluster4-node-pool",
		"gcp:" + pr + "/locations/us-west2/memberships/cluster3",
		"gcp:" + pr + "/locations/us-west2/memberships/cluster4",
	} {
		if !slices.Contains(got[plan.Adopt], a) {
			t.Errorf("plan --adopt does not adopt %s", a)
		}
	}
	// Created: only what the federation names its own way. The memberships gcloud registered in
	// the clusters' region are adopted, not registered again in global (GKE Hub allows one
	// membership per cluster), and the clusters are reached through them.
	wantCreate := []string{
		"gcp:" + pr + "/global/firewalls/asmfed-asm-sample--admin",
		"gcp:" + pr + "/global/firewalls/asmfed-asm-sample--mesh-from-cluster3",
		"gcp:" + pr + "/global/firewalls/asmfed-asm-sample--mesh-from-cluster4",
		"gcp:" + pr + "/global/firewalls/asmfed-asm-sample--webhooks",
		"gcp:" + pr + "/services/connectgateway.googleapis.com",
	}
	if diff := cmp.Diff(wantCreate, got[plan.Create]); diff != "" {
		t.Errorf("plan --adopt creates (-want +got):\n%s", diff)
	}
	for _, c := range []string{"cluster3", "cluster4"} {
		if !slices.ContainsFunc(p.Notes, func(n string) bool {
			return strings.HasPrefix(n, "membership gcp:"+pr+"/locations/us-west2/memberships/"+c+" already registers projects/"+referenceProject+"/locations/us-west2/clusters/"+c+": the federation uses it")
		}) {
			t.Errorf("the plan does not say it uses the membership gcloud registered for %s: %v", c, p.Notes)
		}
	}

	// The text form: the adopt mark, explained in the legend, and the redundant rules reported.
	r = runAgainst(t, sb, "plan", "-f", file, "--adopt", "--out", filepath.Join(filepath.Dir(file), "plan.json"))
	if r.code != exitOK || !strings.Contains(r.stdout, "@ adopt (take ownership, change in place)") || !strings.Contains(r.stdout, "  @ gcp:"+pr+"/regions/us-west2/routers/asm-router3") {
		t.Fatalf("plan --adopt: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("plan --adopt:\n%s", r.stdout)
	for rule, by := range map[string]string{
		"asm-ports-15017-9443-vpc3":     "asmfed-asm-sample--webhooks",
		"asm-ports-8443-vpc3":           "asmfed-asm-sample--webhooks",
		"asm-gce-to-vpc3-clusters-all":  "asmfed-asm-sample--admin",
		"asm-from-cluster3-to-cluster4": "asmfed-asm-sample--mesh-from-cluster3",
		"asm-from-cluster4-to-cluster3": "asmfed-asm-sample--mesh-from-cluster4",
	} {
		if !strings.Contains(r.stdout, "warning: firewall rule "+rule+", made without the tool, allows nothing to the federation's nodes that "+by+" does not") {
			t.Errorf("the plan does not report %s as redundant beside %s", rule, by)
		}
	}

	// The clusters are reached through their fleet memberships, which the plan adopts: the
	// cluster side is planned during the apply, with --adopt as the saved plan says, and shown.
	r = runAgainst(t, sb, "apply", filepath.Join(filepath.Dir(file), "plan.json"), "--auto-approve", "--wait=false")
	if r.code != exitOK {
		t.Fatalf("apply plan.json (made with --adopt): code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("apply:\n%s", r.stdout)
	for _, a := range []string{
		"k8s:cluster3/Namespace/istio-system",
		"k8s:cluster4/istio-system/Secret/istio-remote-secret-cluster3",
		"k8s:cluster3/istio-system/Deployment/istiod-1-31-0",
		"k8s:cluster4/istio-system/Secret/cacerts",
	} {
		if !strings.Contains(r.stdout, "  @ "+a+" ") {
			t.Errorf("the cluster side planned during apply does not adopt %s", a)
		}
	}
	if strings.Contains(r.stdout, "-/+ k8s:") || strings.Contains(r.stdout, "  - k8s:") {
		t.Errorf("the cluster side replaces or deletes:\n%s", r.stdout)
	}
	r = runAgainst(t, sb, "plan", "-f", file, "--detailed-exitcode")
	if r.code != exitOK || !strings.Contains(r.stdout, "No changes.") {
		t.Fatalf("plan after the adoption: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The network and subnets, whose description Compute Engine fixes at creation, are in the
	// adoption record of the project's metadata, as gcloud shows it; their descriptions are
	// as the reference made them.
	var info struct {
		CommonInstanceMetadata struct{ Items []struct{ Key, Value string } }
	}
	if err := json.Unmarshal([]byte(gcloud("compute", "project-info", "describe", "--format=json")), &info); err != nil {
		t.Fatal(err)
	}
	var record string
	for _, it := range info.CommonInstanceMetadata.Items {
		if it.Key == "asmfed-adopted-asm-sample" {
			record = it.Value
		}
	}
	for _, a := range []string{
		"gcp:" + pr + "/global/networks/asm-vpc-3",
		"gcp:" + pr + "/regions/us-west2/subnetworks/cluster3",
		"gcp:" + pr + "/regions/us-west2/subnetworks/cluster4",
		"gcp:" + pr + "/regions/us-west2/subnetworks/bastion-subnet",
	} {
		if !strings.Contains(record, `"`+a+`"`) {
			t.Errorf("the adoption record does not list %s: %s", a, record)
		}
	}
	if d := strings.TrimSpace(gcloud("compute", "networks", "describe", "asm-vpc-3", "--format=value(description)")); d != "" {
		t.Errorf("the adopted network's description changed: %q", d)
	}
	r = runAgainst(t, sb, "verify", "-f", file)
	if r.code != exitOK {
		t.Fatalf("verify after the adoption: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var members []struct{ Name string }
	if err := json.Unmarshal([]byte(gcloud("container", "fleet", "memberships", "list", "--format=json")), &members); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range members {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	if want := []string{pr + "/locations/us-west2/memberships/cluster3", pr + "/locations/us-west2/memberships/cluster4"}; !slices.Equal(names, want) {
		t.Errorf("memberships after the adoption: %q, want only the two regional ones", names)
	}
	// Reported, never deleted: every hand-made rule is still there.
	for _, name := range handMade {
		if got := strings.TrimSpace(gcloud("compute", "firewall-rules", "describe", name, "--format=value(name)")); got != name {
			t.Errorf("hand-made rule %s: gcloud describes %q", name, got)
		}
	}
}
