package gcpfake_test

import (
	"testing"
	"time"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// gcloud creates, describes, lists and deletes an administration VM on the simulator as it does
// on Compute Engine: a shielded VM with OS Login, no external address, on a subnet, waited for
// through zonal operations; an address in use, a subnet of another region and a VM that does
// not exist are refused with the simulator's messages; a delete that takes time is waited for
// through the zonal operation. Every exchange is recorded in
// testdata/gcloud-instances.
func TestGcloudInstances(t *testing.T) {
	// Deleting takes a moment, so gcloud waits for the zonal operation.
	e := newInstanceEnv(t, gcpfake.WithLatency(&gcpfake.Latency{Op: map[string]time.Duration{"Instances/Delete": 300 * time.Millisecond}}))
	g := newGcloud(t, e.srv)
	create := []string{"compute", "instances", "create", "bastion", "--zone=us-west2-a", "--subnet=admin", "--no-address",
		"--shielded-secure-boot", "--metadata=enable-oslogin=TRUE", "--machine-type=e2-small"}

	parallel(t, map[string]func(t *testing.T){
		"instances create": func(t *testing.T) {
			v := g.ok(t, create...)
			want(t, v, "0.name", "bastion")
			want(t, v, "0.status", "RUNNING")
			want(t, v, "0.networkInterfaces.0.networkIP", "10.0.0.2")
		},
	})

	parallel(t, map[string]func(t *testing.T){
		"instances describe": func(t *testing.T) {
			v := g.ok(t, "compute", "instances", "describe", "bastion", "--zone=us-west2-a")
			want(t, v, "status", "RUNNING")
			want(t, v, "machineType", "https://www.googleapis.com/compute/v1/projects/demo/zones/us-west2-a/machineTypes/e2-small")
			want(t, v, "networkInterfaces.0.subnetwork", "https://www.googleapis.com/compute/v1/projects/demo/regions/us-west2/subnetworks/admin")
			want(t, v, "networkInterfaces.0.networkIP", "10.0.0.2")
			if ac := field(v, "networkInterfaces.0.accessConfigs"); ac != nil {
				t.Errorf("--no-address: access configs %v", ac)
			}
			want(t, v, "shieldedInstanceConfig.enableSecureBoot", true)
			want(t, v, "metadata.items.0.key", "enable-oslogin")
			want(t, v, "metadata.items.0.value", "TRUE")
			want(t, v, "disks.0.boot", true)
		},
		"instances list": func(t *testing.T) {
			v := g.ok(t, "compute", "instances", "list")
			want(t, v, "0.name", "bastion")
			want(t, v, "0.zone", "https://www.googleapis.com/compute/v1/projects/demo/zones/us-west2-a")
			want(t, v, "0.status", "RUNNING")
		},
		"instances create with an address in use fails": func(t *testing.T) {
			g.fails(t, "IP address 10.0.0.2 is already in use by 'projects/demo/zones/us-west2-a/instances/bastion'", "compute", "instances", "create", "other",
				"--zone=us-west2-a", "--subnet=admin", "--no-address", "--private-network-ip=10.0.0.2", "--machine-type=e2-small")
		},
		"instances create in another region fails": func(t *testing.T) {
			g.fails(t, "The referenced subnetwork resource cannot be found", "compute", "instances", "create", "other",
				"--zone=us-east1-b", "--subnet=admin", "--no-address", "--machine-type=e2-small")
		},
		"instances describe missing fails": func(t *testing.T) {
			g.fails(t, "The resource 'projects/demo/zones/us-west2-a/instances/nope' was not found", "compute", "instances", "describe", "nope", "--zone=us-west2-a")
		},
	})

	parallel(t, map[string]func(t *testing.T){
		"instances delete": func(t *testing.T) {
			if r := g.run(t, "compute", "instances", "delete", "bastion", "--zone=us-west2-a"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if v := g.ok(t, "compute", "instances", "list"); v != nil && len(v.([]any)) != 0 {
				t.Errorf("instances after delete: %v", v)
			}
		},
	})

	g.tape.checkGoldens(t, "testdata/gcloud-instances")
}
