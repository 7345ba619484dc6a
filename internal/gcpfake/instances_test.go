package gcpfake_test

import (
	"context"
	"strings"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/internal/gcpfake"
)

// instanceEnv is a simulator with network mesh and subnet admin (10.0.0.0/24, us-west2) in
// project demo, and the official instances client.
type instanceEnv struct {
	ctx  context.Context
	srv  *gcpfake.Server
	vms  *compute.InstancesClient
	subs *compute.SubnetworksClient
}

func newInstanceEnv(t *testing.T, opts ...gcpfake.Option) *instanceEnv {
	t.Helper()
	ctx := context.Background()
	srv := gcpfake.Start(t, opts...)
	nets, err := compute.NewNetworksRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nets.Close() })
	subs, err := compute.NewSubnetworksRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { subs.Close() })
	vms, err := compute.NewInstancesRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vms.Close() })
	mustInsertNetwork(t, ctx, nets, "mesh")
	op, err := subs.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: "demo", Region: "us-west2", SubnetworkResource: &computepb.Subnetwork{
		Name: proto.String("admin"), Network: proto.String("projects/demo/global/networks/mesh"), IpCidrRange: proto.String("10.0.0.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return &instanceEnv{ctx: ctx, srv: srv, vms: vms, subs: subs}
}

// vm is an instance as an administration VM is made: e2-small, one interface on subnet admin
// without an external address, a Debian boot disk, OS Login, a tag and the ownership labels.
func vm(name, zone, subnet, ip string) *computepb.Instance {
	in := &computepb.Instance{Name: proto.String(name), MachineType: proto.String("zones/" + zone + "/machineTypes/e2-small"),
		NetworkInterfaces: []*computepb.NetworkInterface{{Subnetwork: proto.String(subnet)}},
		Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12")}}},
		Metadata:               &computepb.Metadata{Items: []*computepb.Items{{Key: proto.String("enable-oslogin"), Value: proto.String("TRUE")}}},
		Tags:                   &computepb.Tags{Items: []string{"bastion"}},
		Labels:                 map[string]string{"managed-by": "asmfed"},
		ShieldedInstanceConfig: &computepb.ShieldedInstanceConfig{EnableSecureBoot: proto.Bool(true)},
	}
	if ip != "" {
		in.NetworkInterfaces[0].NetworkIP = proto.String(ip)
	}
	return in
}

func (e *instanceEnv) insert(zone string, in *computepb.Instance) error {
	op, err := e.vms.Insert(e.ctx, &computepb.InsertInstanceRequest{Project: "demo", Zone: zone, InstanceResource: in})
	if err != nil {
		return err
	}
	return op.Wait(e.ctx)
}

func (e *instanceEnv) get(t *testing.T, zone, name string) *computepb.Instance {
	t.Helper()
	in, err := e.vms.Get(e.ctx, &computepb.GetInstanceRequest{Project: "demo", Zone: zone, Instance: name})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func wait(op *compute.Operation, err error) error {
	if err != nil {
		return err
	}
	return op.Wait(context.Background())
}

// Instances through the official client: what an insert is checked against (the subnet's region,
// an address inside its range, free and not reserved), what the VM looks like, and the changes
// that need it stopped or the fingerprint it was read with.
func TestInstancesRESTClient(t *testing.T) {
	e := newInstanceEnv(t)
	const subnet = "projects/demo/regions/us-west2/subnetworks/admin"

	if err := e.insert("us-west2-a", vm("bastion", "us-west2-a", subnet, "")); err != nil {
		t.Fatal(err)
	}
	in := e.get(t, "us-west2-a", "bastion")
	nic := in.GetNetworkInterfaces()[0]
	for what, got := range map[string]string{
		"status":      in.GetStatus(),
		"networkIP":   nic.GetNetworkIP(),
		"subnetwork":  nic.GetSubnetwork(),
		"network":     nic.GetNetwork(),
		"machineType": in.GetMachineType(),
		"zone":        in.GetZone(),
		"disk":        in.GetDisks()[0].GetSource(),
	} {
		want := map[string]string{
			"status":      "RUNNING",
			"networkIP":   "10.0.0.2", // the first address not reserved
			"subnetwork":  "https://www.googleapis.com/compute/v1/" + subnet,
			"network":     "https://www.googleapis.com/compute/v1/projects/demo/global/networks/mesh",
			"machineType": "https://www.googleapis.com/compute/v1/projects/demo/zones/us-west2-a/machineTypes/e2-small",
			"zone":        "https://www.googleapis.com/compute/v1/projects/demo/zones/us-west2-a",
			"disk":        "https://www.googleapis.com/compute/v1/projects/demo/zones/us-west2-a/disks/bastion",
		}[what]
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	if len(nic.GetAccessConfigs()) != 0 || !in.GetShieldedInstanceConfig().GetEnableSecureBoot() || !in.GetShieldedInstanceConfig().GetEnableVtpm() {
		t.Errorf("access configs %v, shielded %v: want none, secure boot and vTPM", nic.GetAccessConfigs(), in.GetShieldedInstanceConfig())
	}

	t.Run("insert is refused", func(t *testing.T) {
		for _, tt := range []struct {
			name, zone string
			in         *computepb.Instance
			want       string
		}{
			{"same name", "us-west2-a", vm("bastion", "us-west2-a", subnet, ""), "already exists"},
			{"address in use", "us-west2-a", vm("other", "us-west2-a", subnet, "10.0.0.2"), "already in use by 'projects/demo/zones/us-west2-a/instances/bastion'"},
			{"address outside the subnet", "us-west2-a", vm("other", "us-west2-a", subnet, "10.0.1.5"), "outside the subnetwork range 10.0.0.0/24"},
			{"reserved address", "us-west2-a", vm("other", "us-west2-a", subnet, "10.0.0.255"), "reserved"},
			{"zone outside the subnet's region", "us-east1-b", vm("other", "us-east1-b", subnet, ""), "in region us-west2, the instance in zone us-east1-b"},
			{"missing subnet", "us-west2-a", vm("other", "us-west2-a", "projects/demo/regions/us-west2/subnetworks/nope", ""), "cannot be found"},
			{"machine type of another zone", "us-west2-b", vm("other", "us-west2-a", subnet, ""), "in zone us-west2-a, the instance in zone us-west2-b"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				err := e.insert(tt.zone, tt.in)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want one saying %q", err, tt.want)
				}
			})
		}
	})

	t.Run("a static address and the aggregated list", func(t *testing.T) {
		if err := e.insert("us-west2-b", vm("static", "us-west2-b", "regions/us-west2/subnetworks/admin", "10.0.0.3")); err != nil {
			t.Fatal(err)
		}
		it := e.vms.AggregatedList(e.ctx, &computepb.AggregatedListInstancesRequest{Project: "demo"})
		got := map[string]string{}
		for {
			p, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range p.Value.GetInstances() {
				got[p.Key+"/"+in.GetName()] = in.GetNetworkInterfaces()[0].GetNetworkIP()
			}
		}
		want := map[string]string{"zones/us-west2-a/bastion": "10.0.0.2", "zones/us-west2-b/static": "10.0.0.3"}
		if len(got) != len(want) || got["zones/us-west2-a/bastion"] != "10.0.0.2" || got["zones/us-west2-b/static"] != "10.0.0.3" {
			t.Errorf("aggregated list = %v, want %v", got, want)
		}
	})

	t.Run("machine type, service account and secure boot need the VM stopped", func(t *testing.T) {
		set := func() error {
			return wait(e.vms.SetMachineType(e.ctx, &computepb.SetMachineTypeInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion",
				InstancesSetMachineTypeRequestResource: &computepb.InstancesSetMachineTypeRequest{MachineType: proto.String("zones/us-west2-a/machineTypes/e2-medium")}}))
		}
		sa := func() error {
			return wait(e.vms.SetServiceAccount(e.ctx, &computepb.SetServiceAccountInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion",
				InstancesSetServiceAccountRequestResource: &computepb.InstancesSetServiceAccountRequest{Email: proto.String("b@demo.iam.gserviceaccount.com"),
					Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}}}))
		}
		shield := func() error {
			return wait(e.vms.UpdateShieldedInstanceConfig(e.ctx, &computepb.UpdateShieldedInstanceConfigInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion",
				ShieldedInstanceConfigResource: &computepb.ShieldedInstanceConfig{EnableSecureBoot: proto.Bool(false)}}))
		}
		for name, f := range map[string]func() error{"machine type": set, "service account": sa, "secure boot": shield} {
			if err := f(); err == nil || !strings.Contains(err.Error(), "is not ready") {
				t.Errorf("%s of a running VM: %v, want not ready", name, err)
			}
		}
		if err := wait(e.vms.Stop(e.ctx, &computepb.StopInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion"})); err != nil {
			t.Fatal(err)
		}
		if st := e.get(t, "us-west2-a", "bastion").GetStatus(); st != "TERMINATED" {
			t.Fatalf("status after stop %s", st)
		}
		for name, f := range map[string]func() error{"machine type": set, "service account": sa, "secure boot": shield} {
			if err := f(); err != nil {
				t.Errorf("%s of a stopped VM: %v", name, err)
			}
		}
		if err := wait(e.vms.Start(e.ctx, &computepb.StartInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion"})); err != nil {
			t.Fatal(err)
		}
		in := e.get(t, "us-west2-a", "bastion")
		if in.GetStatus() != "RUNNING" || !strings.HasSuffix(in.GetMachineType(), "/e2-medium") || in.GetServiceAccounts()[0].GetEmail() != "b@demo.iam.gserviceaccount.com" ||
			in.GetShieldedInstanceConfig().GetEnableSecureBoot() {
			t.Errorf("after stop, changes and start: status %s, type %s, service accounts %v, shielded %v", in.GetStatus(), in.GetMachineType(), in.GetServiceAccounts(), in.GetShieldedInstanceConfig())
		}
		if in.GetNetworkInterfaces()[0].GetNetworkIP() != "10.0.0.2" {
			t.Errorf("the address changed across stop and start: %s", in.GetNetworkInterfaces()[0].GetNetworkIP())
		}
	})

	t.Run("metadata, tags and labels take the fingerprint they were read with", func(t *testing.T) {
		in := e.get(t, "us-west2-a", "bastion")
		stale := in.GetMetadata().GetFingerprint()
		md := &computepb.Metadata{Fingerprint: proto.String(stale), Items: []*computepb.Items{{Key: proto.String("enable-oslogin"), Value: proto.String("FALSE")}}}
		if err := wait(e.vms.SetMetadata(e.ctx, &computepb.SetMetadataInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion", MetadataResource: md})); err != nil {
			t.Fatal(err)
		}
		if err := wait(e.vms.SetMetadata(e.ctx, &computepb.SetMetadataInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion", MetadataResource: md})); httpCode(err) != 412 {
			t.Errorf("metadata with a stale fingerprint: %v, want 412", err)
		}
		tags := &computepb.Tags{Fingerprint: in.GetTags().Fingerprint, Items: []string{"bastion", "extra"}}
		if err := wait(e.vms.SetTags(e.ctx, &computepb.SetTagsInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion", TagsResource: tags})); err != nil {
			t.Fatal(err)
		}
		if err := wait(e.vms.SetTags(e.ctx, &computepb.SetTagsInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion", TagsResource: tags})); httpCode(err) != 412 {
			t.Errorf("tags with a stale fingerprint: %v, want 412", err)
		}
		labels := &computepb.InstancesSetLabelsRequest{LabelFingerprint: in.LabelFingerprint, Labels: map[string]string{"team": "ops"}}
		if err := wait(e.vms.SetLabels(e.ctx, &computepb.SetLabelsInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion", InstancesSetLabelsRequestResource: labels})); err != nil {
			t.Fatal(err)
		}
		if err := wait(e.vms.SetLabels(e.ctx, &computepb.SetLabelsInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion", InstancesSetLabelsRequestResource: labels})); httpCode(err) != 412 {
			t.Errorf("labels with a stale fingerprint: %v, want 412", err)
		}
		in = e.get(t, "us-west2-a", "bastion")
		if in.GetMetadata().GetItems()[0].GetValue() != "FALSE" || strings.Join(in.GetTags().GetItems(), ",") != "bastion,extra" || in.GetLabels()["team"] != "ops" {
			t.Errorf("metadata %v, tags %v, labels %v", in.GetMetadata().GetItems(), in.GetTags().GetItems(), in.GetLabels())
		}
	})

	t.Run("an external address is added and deleted", func(t *testing.T) {
		if err := wait(e.vms.AddAccessConfig(e.ctx, &computepb.AddAccessConfigInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion", NetworkInterface: "nic0",
			AccessConfigResource: &computepb.AccessConfig{Name: proto.String("external-nat")}})); err != nil {
			t.Fatal(err)
		}
		ac := e.get(t, "us-west2-a", "bastion").GetNetworkInterfaces()[0].GetAccessConfigs()
		if len(ac) != 1 || ac[0].GetNatIP() == "" || ac[0].GetType() != "ONE_TO_ONE_NAT" {
			t.Fatalf("access configs after add: %v", ac)
		}
		if err := wait(e.vms.DeleteAccessConfig(e.ctx, &computepb.DeleteAccessConfigInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion", NetworkInterface: "nic0",
			AccessConfig: "external-nat"})); err != nil {
			t.Fatal(err)
		}
		if ac := e.get(t, "us-west2-a", "bastion").GetNetworkInterfaces()[0].GetAccessConfigs(); len(ac) != 0 {
			t.Errorf("access configs after delete: %v", ac)
		}
	})

	t.Run("the subnet of a VM cannot be deleted until the VM is", func(t *testing.T) {
		del := func() error {
			return wait(e.subs.Delete(e.ctx, &computepb.DeleteSubnetworkRequest{Project: "demo", Region: "us-west2", Subnetwork: "admin"}))
		}
		if err := del(); err == nil || !strings.Contains(err.Error(), "is already being used by 'projects/demo/zones/us-west2-") {
			t.Fatalf("subnet delete under a VM: %v", err)
		}
		for zone, name := range map[string]string{"us-west2-a": "bastion", "us-west2-b": "static"} {
			if err := wait(e.vms.Delete(e.ctx, &computepb.DeleteInstanceRequest{Project: "demo", Zone: zone, Instance: name})); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.vms.Get(e.ctx, &computepb.GetInstanceRequest{Project: "demo", Zone: "us-west2-a", Instance: "bastion"}); httpCode(err) != 404 {
			t.Errorf("get after delete: %v, want 404", err)
		}
		if err := del(); err != nil {
			t.Errorf("subnet delete once its VMs are gone: %v", err)
		}
	})
}
