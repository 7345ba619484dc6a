package cli

import (
	"context"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

// The bastion sample end to end: apply creates the VM and its IAP rule and closes with the
// command that reaches it (again when there is nothing left to do); destroy removes both.
func TestBastionSample(t *testing.T) {
	sb := startSandbox(t)
	ctx := context.Background()
	const ssh = "Reach the clusters from the bastion: gcloud compute ssh mesh-bastion --zone us-central1-a --project retail-net-host --tunnel-through-iap\n"
	vms, err := compute.NewInstancesRESTClient(ctx, sb.srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer vms.Close()
	get := func() error {
		_, err := vms.Get(ctx, &computepb.GetInstanceRequest{Project: "retail-net-host", Zone: "us-central1-a", Instance: "mesh-bastion"})
		return err
	}

	r := runAgainst(t, sb, "apply", "-f", multiProject, "--auto-approve", "--wait=false")
	if r.code != exitOK {
		t.Fatalf("apply: code %d\n%s", r.code, r.stderr)
	}
	if !strings.HasSuffix(r.stderr, ssh) {
		t.Errorf("apply does not close with the bastion's ssh command:\n%s", r.stderr)
	}
	for _, want := range []string{"+ gcp:projects/retail-net-host/zones/us-central1-a/instances/mesh-bastion", "+ gcp:projects/retail-net-host/global/firewalls/asmfed-retail-mesh--iap-ssh"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the plan apply showed lacks %q", want)
		}
	}
	if err := get(); err != nil {
		t.Fatalf("the bastion after apply: %v", err)
	}

	r = runAgainst(t, sb, "apply", "-f", multiProject, "--auto-approve", "--wait=false")
	if r.code != exitOK || !strings.Contains(r.stdout, "No changes.") || !strings.HasSuffix(r.stderr, ssh) {
		t.Errorf("apply with nothing to do: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// verify proves the path to the clusters through the bastion; an operator who stops the VM or
	// deletes the IAP rule with gcloud breaks it, and verify says which.
	r = runAgainst(t, sb, "verify", "-f", multiProject, "--only", "ASMFED-NET-007")
	if r.code != exitOK || !strings.Contains(r.stdout, "√ mesh-bastion: Identity-Aware Proxy (35.235.240.0/20) → bastion mesh-bastion (10.10.0.3) on tcp:22: allowed by asmfed-retail-mesh--iap-ssh") ||
		!strings.Contains(r.stdout, "√ mesh-bastion → storefront-east: storefront-east (us-east4) has global access on") {
		t.Fatalf("verify the bastion after apply: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	gcloud := gcloudAgainst(t, sb)
	gcloud("compute", "instances", "stop", "mesh-bastion", "--zone=us-central1-a", "--project=retail-net-host")
	gcloud("compute", "firewall-rules", "delete", "asmfed-retail-mesh--iap-ssh", "--project=retail-net-host", "--quiet")
	r = runAgainst(t, sb, "verify", "-f", multiProject, "--only", "ASMFED-NET-007")
	for _, want := range []string{"× mesh-bastion: the bastion mesh-bastion is TERMINATED: administrators cannot reach the clusters through it",
		"× mesh-bastion: Identity-Aware Proxy (35.235.240.0/20) → bastion mesh-bastion (10.10.0.3) on tcp:22: blocked"} {
		if r.code != exitChecksFailed || !strings.Contains(r.stdout, want) {
			t.Errorf("verify the broken bastion: code %d, want %d and %q\n%s%s", r.code, exitChecksFailed, want, r.stdout, r.stderr)
		}
	}

	r = runAgainst(t, sb, "destroy", "-f", multiProject, "--auto-approve")
	if r.code != exitOK {
		t.Fatalf("destroy: code %d\n%s", r.code, r.stderr)
	}
	if err := get(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("the bastion after destroy: %v", err)
	}
	if strings.Contains(r.stderr, "Reach the clusters") {
		t.Errorf("destroy points at the bastion it deleted:\n%s", r.stderr)
	}
}
