package gcplayer

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// The bastion is a Compute Engine VM. Everything about it lives here: the instance the model's
// bastion is, the fields it is compared by, and how a change is carried out.
//
// What changes in place: the external address (an access config added by hand is deleted), OS
// Login, the network tags and the labels, on the running VM; the machine type, the service
// account and the shielded VM options, which Compute Engine only changes on a stopped VM, in one
// stop, change, start (a VM found stopped is left stopped): the boot disk, with what administrators
// installed on it, and the address are kept, which a replacement would lose. What forces a
// replacement: the subnet and the static address. A zone or a name is another VM: the old one is
// deleted, the new one created.

// osLoginKey is the metadata key that turns OS Login on for a VM: administrators sign in with
// their Google identity and IAM roles, no SSH keys in metadata.
const osLoginKey = "enable-oslogin"

// cloudPlatformScope is the scope of the bastion's service account: its IAM roles decide.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// stopFields are the fields Compute Engine changes only on a stopped VM.
var stopFields = []string{"machineType", "serviceAccount", "scopes", "shieldedVM"}

var instanceImmutable = []string{"subnetwork", "networkIP"}

// instanceProto is the VM the model's bastion is: no access config (no external address), a
// shielded VM, OS Login, the bastion's tag and the ownership labels.
func instanceProto(fed string, b *federation.Bastion) *computepb.Instance {
	nic := &computepb.NetworkInterface{Subnetwork: proto.String(b.Subnetwork)}
	if b.InternalIP != "" {
		nic.NetworkIP = proto.String(b.InternalIP)
	}
	in := &computepb.Instance{
		Name:              proto.String(b.Name),
		Description:       proto.String(federation.DescriptionMarker(fed) + ": " + b.Reason),
		MachineType:       proto.String(fmt.Sprintf("zones/%s/machineTypes/%s", b.Zone, b.MachineType)),
		NetworkInterfaces: []*computepb.NetworkInterface{nic},
		Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true), Type: proto.String("PERSISTENT"),
			InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String(b.Image)}}},
		ShieldedInstanceConfig: &computepb.ShieldedInstanceConfig{EnableSecureBoot: proto.Bool(true), EnableVtpm: proto.Bool(true), EnableIntegrityMonitoring: proto.Bool(true)},
		Metadata:               &computepb.Metadata{Items: []*computepb.Items{{Key: proto.String(osLoginKey), Value: proto.String("TRUE")}}},
		Tags:                   &computepb.Tags{Items: []string{b.Tag}},
		Labels:                 b.Labels,
	}
	if b.ServiceAccount != "" {
		in.ServiceAccounts = []*computepb.ServiceAccount{{Email: proto.String(b.ServiceAccount), Scopes: []string{cloudPlatformScope}}}
	}
	return in
}

// bastionObject is the model's bastion as a resource to create; nil without one.
func bastionObject(d *federation.Desired) *object {
	b := d.Bastion
	if b == nil {
		return nil
	}
	in := instanceProto(d.Federation, b)
	return &object{res: plan.Resource{Address: b.Address, Kind: plan.KindInstance, Group: "project " + b.Project, Reason: b.Reason,
		Fields: instanceFields(in), Immutable: instanceImmutable,
		DependsOn: []plan.Address{plan.APIAddress(b.Project, "compute.googleapis.com"), b.SubnetAddress}},
		msg: in, project: b.Project, location: b.Zone}
}

// instanceFields describes a VM by what the tool manages, the same for the desired and the live
// one.
func instanceFields(in *computepb.Instance) map[string]any {
	nic := &computepb.NetworkInterface{}
	if len(in.GetNetworkInterfaces()) > 0 {
		nic = in.GetNetworkInterfaces()[0]
	}
	osLogin := ""
	for _, it := range in.GetMetadata().GetItems() {
		if it.GetKey() == osLoginKey {
			osLogin = strings.ToUpper(it.GetValue())
		}
	}
	sa, scopes := "", []string(nil)
	if len(in.GetServiceAccounts()) > 0 {
		sa, scopes = in.GetServiceAccounts()[0].GetEmail(), in.GetServiceAccounts()[0].GetScopes()
	}
	sc := in.GetShieldedInstanceConfig()
	labels := map[string]any{}
	for k, v := range in.GetLabels() {
		labels[k] = v
	}
	return map[string]any{
		"machineType":     lastSegment(in.GetMachineType()),
		"subnetwork":      shortLink(nic.GetSubnetwork()),
		"networkIP":       nic.GetNetworkIP(),
		"externalAddress": len(nic.GetAccessConfigs()) > 0,
		"shieldedVM":      map[string]any{"secureBoot": sc.GetEnableSecureBoot(), "vtpm": sc.GetEnableVtpm(), "integrityMonitoring": sc.GetEnableIntegrityMonitoring()},
		"osLogin":         osLogin,
		"tags":            sortedStrings(in.GetTags().GetItems()),
		"serviceAccount":  sa,
		"scopes":          sortedStrings(scopes),
		"labels":          labels,
	}
}

// liveInstances are the VMs of the network's project, each with whether the federation owns it
// (its labels). An address the file does not fix is Compute Engine's to pick, so it is not
// compared; labels others set are not the federation's.
func liveInstances(d *federation.Desired, s *snapshot, want map[plan.Address]*object) []*object {
	project := d.Network.Project
	var out []*object
	for _, in := range s.instances {
		zone := lastSegment(in.GetZone())
		addr := plan.InstanceAddress(project, zone, in.GetName())
		fields := instanceFields(in)
		var deps []plan.Address
		if nics := in.GetNetworkInterfaces(); len(nics) > 0 {
			// A VM is deleted before the subnet and network it is on.
			deps = append(deps, subnetworkOf(nics[0].GetSubnetwork()), networkOf(nics[0].GetNetwork()))
		}
		if w, ok := want[addr]; ok {
			fields["labels"] = scopeLabels(fields["labels"].(map[string]any), w.res.Fields["labels"])
			if w.res.Fields["networkIP"] == "" {
				fields["networkIP"] = ""
			}
		}
		o := &object{res: plan.Resource{Address: addr, Kind: plan.KindInstance, Group: "project " + project, Fields: fields, DependsOn: deps},
			msg: in, project: project, location: zone}
		o.res.Owned = ownedLabels(in.GetLabels(), d.Federation)
		out = append(out, o)
	}
	return out
}

// restartingUpdates says, on each update of a VM that changes what only a stopped VM can, that
// apply stops and starts it.
func restartingUpdates(p *plan.Plan) {
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Kind != plan.KindInstance || c.Action != plan.Update {
			continue
		}
		if stop := stopFieldsChanged(*c); len(stop) > 0 {
			c.ActionReason = fmt.Sprintf("%s change only on a stopped VM: apply stops it, changes them and starts it again (its boot disk and address are kept)",
				strings.Join(stop, ", "))
		}
	}
}

// updateInstance changes a VM in place: what needs it stopped in one stop-change-start, then what
// does not, each from a fresh read so that the fingerprints are current and what others set on
// the VM (metadata items, labels) is kept.
func (e *Layer) updateInstance(ctx context.Context, c plan.Change, d *object, progress gcp.Progress) error {
	want := d.msg.(*computepb.Instance)
	project, zone, name := d.project, d.location, want.GetName()
	cur, err := e.gcp.Instance(ctx, project, zone, name)
	if err != nil {
		return err
	}
	var stopped []func() error
	if c.Changed("machineType") {
		stopped = append(stopped, func() error {
			return e.gcp.SetInstanceMachineType(ctx, project, zone, name, want.GetMachineType(), progress)
		})
	}
	if c.Changed("serviceAccount") || c.Changed("scopes") {
		email, scopes := "", []string(nil)
		if sa := want.GetServiceAccounts(); len(sa) > 0 {
			email, scopes = sa[0].GetEmail(), sa[0].GetScopes()
		}
		stopped = append(stopped, func() error {
			return e.gcp.SetInstanceServiceAccount(ctx, project, zone, name, email, scopes, progress)
		})
	}
	if c.Changed("shieldedVM") {
		stopped = append(stopped, func() error {
			return e.gcp.UpdateInstanceShieldedConfig(ctx, project, zone, name, want.GetShieldedInstanceConfig(), progress)
		})
	}
	if len(stopped) > 0 {
		running := cur.GetStatus() != "TERMINATED"
		if running {
			progress("stopping the VM: " + strings.Join(stopFieldsChanged(c), ", ") + " change only on a stopped VM")
			if err := e.gcp.StopInstance(ctx, project, zone, name, progress); err != nil {
				return err
			}
		}
		for _, f := range stopped {
			if err := f(); err != nil {
				return err
			}
		}
		if running {
			if err := e.gcp.StartInstance(ctx, project, zone, name, progress); err != nil {
				return err
			}
		}
		if cur, err = e.gcp.Instance(ctx, project, zone, name); err != nil {
			return err
		}
	}
	if c.Changed("externalAddress") {
		for _, nic := range cur.GetNetworkInterfaces() {
			for _, ac := range nic.GetAccessConfigs() {
				if err := e.gcp.DeleteInstanceAccessConfig(ctx, project, zone, name, nic.GetName(), ac.GetName(), progress); err != nil {
					return err
				}
			}
		}
	}
	if c.Changed("osLogin") {
		md := &computepb.Metadata{Fingerprint: cur.GetMetadata().Fingerprint}
		for _, it := range cur.GetMetadata().GetItems() {
			if it.GetKey() != osLoginKey {
				md.Items = append(md.Items, it)
			}
		}
		md.Items = append(md.Items, want.GetMetadata().GetItems()...)
		if err := e.gcp.SetInstanceMetadata(ctx, project, zone, name, md, progress); err != nil {
			return err
		}
	}
	if c.Changed("tags") {
		tags := &computepb.Tags{Fingerprint: cur.GetTags().Fingerprint, Items: want.GetTags().GetItems()}
		if err := e.gcp.SetInstanceTags(ctx, project, zone, name, tags, progress); err != nil {
			return err
		}
	}
	if c.Changed("labels") {
		labels := map[string]string{}
		for k, v := range cur.GetLabels() {
			labels[k] = v
		}
		for k, v := range want.GetLabels() {
			labels[k] = v
		}
		if err := e.gcp.SetInstanceLabels(ctx, project, zone, name, labels, cur.GetLabelFingerprint(), progress); err != nil {
			return err
		}
	}
	return nil
}

// stopFieldsChanged lists the fields of a change that only a stopped VM can take.
func stopFieldsChanged(c plan.Change) []string {
	var out []string
	for _, f := range stopFields {
		if c.Changed(f) {
			out = append(out, f)
		}
	}
	return out
}

// liveBastion is the file's bastion VM as Compute Engine reports it; nil when the file has none
// or it does not exist.
func liveBastion(d *federation.Desired, s *snapshot) *computepb.Instance {
	if d.Bastion == nil {
		return nil
	}
	for _, in := range s.instances {
		if in.GetName() == d.Bastion.Name && lastSegment(in.GetZone()) == d.Bastion.Zone {
			return in
		}
	}
	return nil
}
