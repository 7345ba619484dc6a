package gcp

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func instanceName(project, zone, name string) string {
	return fmt.Sprintf("projects/%s/zones/%s/instances/%s", project, zone, name)
}

// Instances lists every VM of a project, in every zone, in one aggregated call.
func (c *Clients) Instances(ctx context.Context, project string) ([]*computepb.Instance, error) {
	var out []*computepb.Instance
	err := c.do(ctx, "list instances", "projects/"+project, func(ctx context.Context) error {
		out = nil
		pairs, err := collect(c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: project}).Next)
		for _, p := range pairs {
			out = append(out, p.Value.GetInstances()...)
		}
		return err
	})
	return out, err
}

// Instance reads one VM.
func (c *Clients) Instance(ctx context.Context, project, zone, name string) (*computepb.Instance, error) {
	var out *computepb.Instance
	err := c.do(ctx, "get instance", instanceName(project, zone, name), func(ctx context.Context) (err error) {
		out, err = c.instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: name})
		return err
	})
	return out, err
}

// InsertInstance creates a VM and waits until it is created (and running).
func (c *Clients) InsertInstance(ctx context.Context, project, zone string, in *computepb.Instance, progress Progress) error {
	return c.computeOp(ctx, "create instance", instanceName(project, zone, in.GetName()), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: project, Zone: zone, InstanceResource: in})
	})
}

// DeleteInstance deletes a VM (and the disks it auto-deletes) and waits.
func (c *Clients) DeleteInstance(ctx context.Context, project, zone, name string, progress Progress) error {
	return c.computeOp(ctx, "delete instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.Delete(ctx, &computepb.DeleteInstanceRequest{Project: project, Zone: zone, Instance: name})
	})
}

// StopInstance stops a VM and waits until it is TERMINATED.
func (c *Clients) StopInstance(ctx context.Context, project, zone, name string, progress Progress) error {
	return c.computeOp(ctx, "stop instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.Stop(ctx, &computepb.StopInstanceRequest{Project: project, Zone: zone, Instance: name})
	})
}

// StartInstance starts a stopped VM and waits until it runs.
func (c *Clients) StartInstance(ctx context.Context, project, zone, name string, progress Progress) error {
	return c.computeOp(ctx, "start instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.Start(ctx, &computepb.StartInstanceRequest{Project: project, Zone: zone, Instance: name})
	})
}

// SetInstanceMachineType changes a stopped VM's machine type (zones/Z/machineTypes/T).
func (c *Clients) SetInstanceMachineType(ctx context.Context, project, zone, name, machineType string, progress Progress) error {
	return c.computeOp(ctx, "set machine type of instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.SetMachineType(ctx, &computepb.SetMachineTypeInstanceRequest{Project: project, Zone: zone, Instance: name,
			InstancesSetMachineTypeRequestResource: &computepb.InstancesSetMachineTypeRequest{MachineType: proto.String(machineType)}})
	})
}

// SetInstanceServiceAccount changes the service account a stopped VM runs as; an empty email
// and no scopes leave it none.
func (c *Clients) SetInstanceServiceAccount(ctx context.Context, project, zone, name, email string, scopes []string, progress Progress) error {
	req := &computepb.InstancesSetServiceAccountRequest{Scopes: scopes}
	if email != "" {
		req.Email = proto.String(email)
	}
	return c.computeOp(ctx, "set service account of instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.SetServiceAccount(ctx, &computepb.SetServiceAccountInstanceRequest{Project: project, Zone: zone, Instance: name,
			InstancesSetServiceAccountRequestResource: req})
	})
}

// UpdateInstanceShieldedConfig sets a VM's shielded VM options (secure boot and vTPM need it
// stopped).
func (c *Clients) UpdateInstanceShieldedConfig(ctx context.Context, project, zone, name string, cfg *computepb.ShieldedInstanceConfig, progress Progress) error {
	return c.computeOp(ctx, "update shielded VM config of instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.UpdateShieldedInstanceConfig(ctx, &computepb.UpdateShieldedInstanceConfigInstanceRequest{Project: project, Zone: zone, Instance: name,
			ShieldedInstanceConfigResource: cfg})
	})
}

// SetInstanceMetadata replaces a VM's metadata items; md carries the fingerprint they were read
// with, so a concurrent change fails instead of being lost.
func (c *Clients) SetInstanceMetadata(ctx context.Context, project, zone, name string, md *computepb.Metadata, progress Progress) error {
	return c.computeOp(ctx, "set metadata of instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: project, Zone: zone, Instance: name, MetadataResource: md})
	})
}

// SetInstanceTags replaces a VM's network tags; tags carries the fingerprint they were read with.
func (c *Clients) SetInstanceTags(ctx context.Context, project, zone, name string, tags *computepb.Tags, progress Progress) error {
	return c.computeOp(ctx, "set tags of instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.SetTags(ctx, &computepb.SetTagsInstanceRequest{Project: project, Zone: zone, Instance: name, TagsResource: tags})
	})
}

// SetInstanceLabels replaces a VM's labels, with the label fingerprint they were read with.
func (c *Clients) SetInstanceLabels(ctx context.Context, project, zone, name string, labels map[string]string, fingerprint string, progress Progress) error {
	return c.computeOp(ctx, "set labels of instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.SetLabels(ctx, &computepb.SetLabelsInstanceRequest{Project: project, Zone: zone, Instance: name,
			InstancesSetLabelsRequestResource: &computepb.InstancesSetLabelsRequest{Labels: labels, LabelFingerprint: proto.String(fingerprint)}})
	})
}

// DeleteInstanceAccessConfig removes an external address from a VM's network interface.
func (c *Clients) DeleteInstanceAccessConfig(ctx context.Context, project, zone, name, networkInterface, accessConfig string, progress Progress) error {
	return c.computeOp(ctx, "delete access config of instance", instanceName(project, zone, name), progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.instances.DeleteAccessConfig(ctx, &computepb.DeleteAccessConfigInstanceRequest{Project: project, Zone: zone, Instance: name,
			NetworkInterface: networkInterface, AccessConfig: accessConfig})
	})
}
