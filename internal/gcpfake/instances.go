package gcpfake

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// --- Instances ---
//
// Compute Engine VMs, as far as an administration VM needs them: insert with one network
// interface on a subnet of the zone's region (an internal address inside its primary range, not
// reserved and not in use, or the first free one), a boot disk from an image, metadata, tags,
// labels, shielded VM and service account settings; get, list and the aggregated list; delete;
// stop and start; the setters that need the VM stopped (machine type, service account, secure
// boot and vTPM) refuse a running one; metadata, tags and labels take the fingerprint they were
// read with; access configs (external IPs) are added and deleted. Every change is a zonal
// operation, and takes effect when it completes.

type instances struct {
	computepb.UnimplementedInstancesServer
	s *Server
}

// Instance statuses the simulator uses.
const (
	instanceRunning    = "RUNNING"
	instanceTerminated = "TERMINATED"
)

var (
	machineTypeRE = regexp.MustCompile(`^zones/([a-z]+-[a-z]+[0-9]+-[a-z])/machineTypes/([a-z][a-z0-9]*-[a-z0-9-]+)$`)
	// imageRE is an image, the image family, or the zonal view of a family gcloud names.
	imageRE = regexp.MustCompile(`^projects/[a-z][-a-z0-9]*/(global/images/(family/)?|zones/[-a-z0-9]+/imageFamilyViews/)[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

func instanceFQN(project, zone, name string) string {
	return "projects/" + project + "/zones/" + zone + "/instances/" + name
}

func (s *Server) instance(project, zone, name string) (*computepb.Instance, string, error) {
	fqn := instanceFQN(project, zone, name)
	in, _ := s.st.get("compute/" + fqn).(*computepb.Instance)
	if in == nil {
		return nil, fqn, computeNotFound(fqn)
	}
	return in, fqn, nil
}

// notReady is what Compute Engine answers a change that needs the VM stopped.
func notReady(fqn string) *Error {
	return &Error{Code: codes.FailedPrecondition, HTTP: 400, Reason: "resourceNotReady", Message: fmt.Sprintf("The resource '%s' is not ready", fqn)}
}

// instanceIPs lists the internal addresses VMs hold or will hold (inserts in flight), by address,
// each with the VM that holds it.
func (s *Server) instanceIPs() map[string]string {
	out := map[string]string{}
	add := func(k string, m proto.Message) {
		in, ok := m.(*computepb.Instance)
		if !ok {
			return
		}
		for _, nic := range in.GetNetworkInterfaces() {
			out[canon(nic.GetSubnetwork())+"|"+nic.GetNetworkIP()] = strings.TrimPrefix(k, "compute/")
		}
	}
	for _, k := range s.st.match("compute/projects/*/zones/*/instances/*") {
		add(k, s.st.get(k))
	}
	for _, p := range s.st.pending {
		for k, v := range p.Puts {
			add(k, v)
		}
	}
	return out
}

// instanceUsingSubnet names a VM on the subnet, which blocks deleting it.
func (s *Server) instanceUsingSubnet(subnet string) string {
	for _, k := range s.st.match("compute/projects/*/zones/*/instances/*") {
		for _, nic := range s.st.get(k).(*computepb.Instance).GetNetworkInterfaces() {
			if canon(nic.GetSubnetwork()) == subnet {
				return strings.TrimPrefix(k, "compute/")
			}
		}
	}
	return ""
}

// reserved reports whether ip is one of the four addresses of a primary range Compute Engine
// keeps: the network and gateway addresses, the second-to-last and the broadcast address.
func reserved(p netip.Prefix, ip netip.Addr) bool {
	b, a := p.Masked().Addr().As4(), ip.As4()
	off := binary.BigEndian.Uint32(a[:]) - binary.BigEndian.Uint32(b[:])
	return off < 2 || off >= uint32(1)<<(32-p.Bits())-2
}

// networkInterface checks and completes the VM's interface: its subnet, in the zone's region and
// on the network it names if it names one, and its internal address.
func (s *Server) networkInterface(project, zone string, nic *computepb.NetworkInterface) error {
	const field = "resource.networkInterfaces[0]"
	var subnet *computepb.Subnetwork
	var subnetFQN string
	switch {
	case nic.GetSubnetwork() != "":
		subnetFQN = resolveRef(project, nic.GetSubnetwork())
		subnet, _ = s.st.get("compute/" + subnetFQN).(*computepb.Subnetwork)
		if subnet == nil {
			return computeInvalid(field+".subnetwork", "Invalid value for field '%s.subnetwork': '%s'. The referenced subnetwork resource cannot be found.", field, nic.GetSubnetwork())
		}
	case nic.GetNetwork() != "":
		network := resolveRef(project, nic.GetNetwork())
		for _, k := range s.st.match("compute/projects/" + strings.Split(network, "/")[1] + "/regions/" + regionOf(zone) + "/subnetworks/*") {
			if sn := s.st.get(k).(*computepb.Subnetwork); canon(sn.GetNetwork()) == network {
				subnet, subnetFQN = sn, strings.TrimPrefix(k, "compute/")
			}
		}
		if subnet == nil {
			return computeInvalid(field+".network", "Invalid value for field '%s.network': '%s'. The network has no subnetwork in region %s.", field, nic.GetNetwork(), regionOf(zone))
		}
	default:
		return computeInvalid(field, "Invalid value for field '%s': ''. A network interface needs a network or a subnetwork.", field)
	}
	if region := strings.Split(subnetFQN, "/")[3]; region != regionOf(zone) {
		return computeInvalid(field+".subnetwork", "Invalid value for field '%s.subnetwork': '%s'. The subnetwork is in region %s, the instance in zone %s.", field, nic.GetSubnetwork(), region, zone)
	}
	if n := nic.GetNetwork(); n != "" && resolveRef(project, n) != canon(subnet.GetNetwork()) {
		return computeInvalid(field+".network", "Subnetwork \"%s\" is not valid for Network \"%s\".", subnetFQN, lastSegment(n))
	}
	primary, err := netip.ParsePrefix(subnet.GetIpCidrRange())
	if err != nil {
		return internalErr("subnetwork %s has range %q", subnetFQN, subnet.GetIpCidrRange())
	}
	used := s.instanceIPs()
	if ip := nic.GetNetworkIP(); ip != "" {
		addr, err := netip.ParseAddr(ip)
		switch {
		case err != nil || !addr.Is4():
			return computeInvalid(field+".networkIP", "Invalid value for field '%s.networkIP': '%s'. The IP address is malformed.", field, ip)
		case !primary.Contains(addr):
			return computeInvalid(field+".networkIP", "Invalid value for field '%s.networkIP': '%s'. Requested internal IP is outside the subnetwork range %s.", field, ip, primary)
		case reserved(primary, addr):
			return computeInvalid(field+".networkIP", "Invalid value for field '%s.networkIP': '%s'. The IP address is reserved in subnetwork %s.", field, ip, primary)
		}
		if by := used[subnetFQN+"|"+addr.String()]; by != "" {
			return computeInvalid(field+".networkIP", "Invalid value for field '%s.networkIP': '%s'. IP address %s is already in use by '%s'.", field, ip, addr, by)
		}
		nic.NetworkIP = proto.String(addr.String())
	} else {
		free := ""
		for a := primary.Masked().Addr(); primary.Contains(a); a = a.Next() {
			if !reserved(primary, a) && used[subnetFQN+"|"+a.String()] == "" {
				free = a.String()
				break
			}
		}
		if free == "" {
			return &Error{Code: codes.ResourceExhausted, HTTP: 400, Reason: "ipSpaceExhausted", Message: fmt.Sprintf("IP space of '%s' is exhausted.", subnetFQN)}
		}
		nic.NetworkIP = proto.String(free)
	}
	nic.Kind = proto.String("compute#networkInterface")
	nic.Name = proto.String("nic0")
	nic.Network = proto.String(computeLink(canon(subnet.GetNetwork())))
	nic.Subnetwork = proto.String(computeLink(subnetFQN))
	if nic.StackType == nil {
		nic.StackType = proto.String("IPV4_ONLY")
	}
	for i, ac := range nic.AccessConfigs {
		if err := s.accessConfig(fmt.Sprintf("%s.accessConfigs[%d]", field, i), ac); err != nil {
			return err
		}
	}
	nic.Fingerprint = nil
	nic.Fingerprint = proto.String(fingerprint(nic))
	return nil
}

// accessConfig completes an external address: a one-to-one NAT with an ephemeral address.
func (s *Server) accessConfig(field string, ac *computepb.AccessConfig) error {
	if t := ac.GetType(); t != "" && t != "ONE_TO_ONE_NAT" {
		return computeInvalid(field+".type", "Invalid value for field '%s.type': '%s'. Only ONE_TO_ONE_NAT is supported.", field, t)
	}
	ac.Kind = proto.String("compute#accessConfig")
	ac.Type = proto.String("ONE_TO_ONE_NAT")
	if ac.Name == nil {
		ac.Name = proto.String("External NAT")
	}
	if ac.NetworkTier == nil {
		ac.NetworkTier = proto.String("PREMIUM")
	}
	if ac.NatIP == nil {
		id := s.st.nextID("natIP")
		ac.NatIP = proto.String(fmt.Sprintf("34.%d.%d.%d", 64+id%64, (id>>8)%256, 1+(id>>16)%254))
	}
	return nil
}

func checkMetadata(md *computepb.Metadata) error {
	seen := map[string]bool{}
	for i, it := range md.GetItems() {
		field := fmt.Sprintf("resource.metadata.items[%d].key", i)
		if !metadataKeyRE.MatchString(it.GetKey()) {
			return computeInvalid(field, "Invalid value for field '%s': '%s'. Must be a match of regex '[a-zA-Z0-9-_]{1,128}'", field, it.GetKey())
		}
		if seen[it.GetKey()] {
			return computeInvalid("resource.metadata.items", "Invalid value for field 'resource.metadata.items': ''. Metadata has duplicate keys.")
		}
		seen[it.GetKey()] = true
		if len(it.GetValue()) > metadataValueLimit {
			return computeInvalid(fmt.Sprintf("resource.metadata.items[%d].value", i), "Metadata value is too large: %d bytes, the limit is %d.", len(it.GetValue()), metadataValueLimit)
		}
	}
	return nil
}

func checkTags(tags *computepb.Tags) error {
	for i, t := range tags.GetItems() {
		if err := checkName(fmt.Sprintf("resource.tags.items[%d]", i), t); err != nil {
			return err
		}
	}
	return nil
}

// seal sets the fingerprints of what a VM's parts carry, after any change.
func seal(in *computepb.Instance) {
	if in.Metadata == nil {
		in.Metadata = &computepb.Metadata{}
	}
	in.Metadata.Kind = proto.String("compute#metadata")
	in.Metadata.Fingerprint = nil
	in.Metadata.Fingerprint = proto.String(fingerprint(in.Metadata))
	if in.Tags == nil {
		in.Tags = &computepb.Tags{}
	}
	in.Tags.Fingerprint = nil
	in.Tags.Fingerprint = proto.String(fingerprint(in.Tags))
	in.LabelFingerprint = proto.String(fingerprint(&computepb.InstancesSetLabelsRequest{Labels: in.Labels}))
	in.Fingerprint = nil
	in.Fingerprint = proto.String(fingerprint(in))
}

func (x *instances) Insert(ctx context.Context, req *computepb.InsertInstanceRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	if err := s.requireService(req.Project, "compute.googleapis.com"); err != nil {
		return nil, err
	}
	if !isZone(req.Zone) {
		return nil, computeInvalid("zone", "Invalid value for field 'zone': '%s'. Unknown zone.", req.Zone)
	}
	in := proto.Clone(req.GetInstanceResource()).(*computepb.Instance)
	if in == nil {
		in = &computepb.Instance{}
	}
	if err := checkName("resource.name", in.GetName()); err != nil {
		return nil, err
	}
	fqn := instanceFQN(req.Project, req.Zone, in.GetName())
	if s.st.get("compute/"+fqn) != nil || s.st.inFlight("compute/"+fqn) {
		return nil, computeExists(fqn)
	}
	mt := resolveRef(req.Project, in.GetMachineType())
	mt = strings.TrimPrefix(mt, "projects/"+req.Project+"/")
	m := machineTypeRE.FindStringSubmatch(mt)
	switch {
	case in.GetMachineType() == "":
		return nil, computeInvalid("resource.machineType", "Invalid value for field 'resource.machineType': ''. Machine type must be specified.")
	case m == nil:
		return nil, computeInvalid("resource.machineType", "Invalid value for field 'resource.machineType': '%s'. Machine type with name '%s' does not exist in zone '%s'.", in.GetMachineType(), lastSegment(in.GetMachineType()), req.Zone)
	case m[1] != req.Zone:
		return nil, computeInvalid("resource.machineType", "Invalid value for field 'resource.machineType': '%s'. The machine type is in zone %s, the instance in zone %s.", in.GetMachineType(), m[1], req.Zone)
	}
	in.MachineType = proto.String(computeLink("projects/" + req.Project + "/" + mt))
	if len(in.NetworkInterfaces) == 0 {
		return nil, computeInvalid("resource.networkInterfaces", "Invalid value for field 'resource.networkInterfaces': ''. At least one network interface is required.")
	}
	if len(in.NetworkInterfaces) > 1 {
		return nil, computeInvalid("resource.networkInterfaces", "Invalid value for field 'resource.networkInterfaces': ''. The simulator supports one network interface.")
	}
	if err := s.networkInterface(req.Project, req.Zone, in.NetworkInterfaces[0]); err != nil {
		return nil, err
	}
	if err := s.disks(req.Project, req.Zone, in); err != nil {
		return nil, err
	}
	if err := checkMetadata(in.GetMetadata()); err != nil {
		return nil, err
	}
	if err := checkTags(in.GetTags()); err != nil {
		return nil, err
	}
	for k, v := range in.GetLabels() {
		if !labelKeyRE.MatchString(k) || !labelValueRE.MatchString(v) {
			return nil, computeInvalid("resource.labels", "Invalid value for field 'resource.labels': '%s=%s'. Label keys and values must be lower-case letters, digits, dashes and underscores.", k, v)
		}
	}
	if in.ShieldedInstanceConfig == nil {
		in.ShieldedInstanceConfig = &computepb.ShieldedInstanceConfig{}
	}
	sc := in.ShieldedInstanceConfig
	if sc.EnableSecureBoot == nil {
		sc.EnableSecureBoot = proto.Bool(false)
	}
	if sc.EnableVtpm == nil {
		sc.EnableVtpm = proto.Bool(true)
	}
	if sc.EnableIntegrityMonitoring == nil {
		sc.EnableIntegrityMonitoring = proto.Bool(true)
	}
	for _, sa := range in.ServiceAccounts {
		if sa.GetEmail() == "default" {
			sa.Email = proto.String(fmt.Sprintf("%d-compute@developer.gserviceaccount.com", projectNumber(req.Project)))
		}
	}
	if in.Scheduling == nil {
		in.Scheduling = &computepb.Scheduling{}
	}
	if in.Scheduling.OnHostMaintenance == nil {
		in.Scheduling.OnHostMaintenance = proto.String("MIGRATE")
	}
	if in.Scheduling.AutomaticRestart == nil {
		in.Scheduling.AutomaticRestart = proto.Bool(true)
	}
	if in.Scheduling.Preemptible == nil {
		in.Scheduling.Preemptible = proto.Bool(false)
	}
	if in.Scheduling.ProvisioningModel == nil {
		in.Scheduling.ProvisioningModel = proto.String("STANDARD")
	}
	if in.CanIpForward == nil {
		in.CanIpForward = proto.Bool(false)
	}
	if in.DeletionProtection == nil {
		in.DeletionProtection = proto.Bool(false)
	}
	in.Kind = proto.String("compute#instance")
	in.Id = proto.Uint64(s.st.nextID(fqn))
	in.CreationTimestamp = proto.String(s.ts())
	in.SelfLink = proto.String(computeLink(fqn))
	in.Zone = proto.String(computeLink("projects/" + req.Project + "/zones/" + req.Zone))
	in.Status = proto.String(instanceRunning)
	in.StartRestricted = proto.Bool(false)
	in.CpuPlatform = proto.String("Intel Broadwell")
	in.LastStartTimestamp = in.CreationTimestamp
	seal(in)
	return s.computeOp(ctx, req.Project, "zones/"+req.Zone, "insert", fqn, in.GetId(),
		&pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: in}}), nil
}

var (
	labelKeyRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

// disks checks the boot disk and turns the disks to create into attached disks.
func (s *Server) disks(project, zone string, in *computepb.Instance) error {
	boots := 0
	for i, d := range in.Disks {
		field := fmt.Sprintf("resource.disks[%d]", i)
		if d.GetBoot() {
			boots++
		}
		name := d.GetDeviceName()
		if name == "" {
			name = in.GetName()
			if i > 0 {
				name = fmt.Sprintf("%s-%d", in.GetName(), i)
			}
		}
		size := int64(10)
		if p := d.GetInitializeParams(); p != nil {
			img := canon(p.GetSourceImage())
			if !imageRE.MatchString(img) {
				return computeInvalid(field+".initializeParams.sourceImage", "Invalid value for field '%s.initializeParams.sourceImage': '%s'. The referenced image resource cannot be found.", field, p.GetSourceImage())
			}
			if p.GetDiskName() != "" {
				name = p.GetDiskName()
			}
			if p.GetDiskSizeGb() > 0 {
				size = p.GetDiskSizeGb()
			}
		} else if d.GetSource() == "" {
			return computeInvalid(field, "Invalid value for field '%s': ''. A disk needs a source or initializeParams.", field)
		}
		out := &computepb.AttachedDisk{Kind: proto.String("compute#attachedDisk"), Boot: proto.Bool(d.GetBoot()), AutoDelete: proto.Bool(d.GetAutoDelete()),
			DeviceName: proto.String(name), Index: proto.Int32(int32(i)), Interface: proto.String("SCSI"), Mode: proto.String("READ_WRITE"),
			Type: proto.String("PERSISTENT"), DiskSizeGb: proto.Int64(size), Source: proto.String(computeLink("projects/" + project + "/zones/" + zone + "/disks/" + name))}
		if d.GetSource() != "" {
			out.Source = proto.String(computeLink(resolveRef(project, d.GetSource())))
		}
		in.Disks[i] = out
	}
	if boots != 1 {
		return computeInvalid("resource.disks", "Invalid value for field 'resource.disks': ''. Exactly one boot disk must be specified.")
	}
	return nil
}

func (x *instances) Get(ctx context.Context, req *computepb.GetInstanceRequest) (*computepb.Instance, error) {
	defer x.s.lock(req.Project)()
	in, _, err := x.s.instance(req.Project, req.Zone, req.Instance)
	if err != nil {
		return nil, err
	}
	return proto.Clone(in).(*computepb.Instance), nil
}

func (x *instances) List(ctx context.Context, req *computepb.ListInstancesRequest) (*computepb.InstanceList, error) {
	s := x.s
	defer s.lock(req.Project)()
	var keys []string
	for _, k := range s.st.list("compute/projects/" + req.Project + "/zones/" + req.Zone + "/instances/") {
		if matchFilter(s.st.get(k), req.Filter) {
			keys = append(keys, k)
		}
	}
	keys, next := page(keys, req.MaxResults, req.PageToken)
	out := &computepb.InstanceList{Kind: proto.String("compute#instanceList"), Id: proto.String("projects/" + req.Project + "/zones/" + req.Zone + "/instances"),
		SelfLink: proto.String(computeLink("projects/" + req.Project + "/zones/" + req.Zone + "/instances")), NextPageToken: next}
	for _, k := range keys {
		out.Items = append(out.Items, proto.Clone(s.st.get(k)).(*computepb.Instance))
	}
	return out, nil
}

func (x *instances) AggregatedList(ctx context.Context, req *computepb.AggregatedListInstancesRequest) (*computepb.InstanceAggregatedList, error) {
	s := x.s
	defer s.lock(req.Project)()
	out := &computepb.InstanceAggregatedList{Kind: proto.String("compute#instanceAggregatedList"), Id: proto.String("projects/" + req.Project + "/aggregated/instances"),
		Items:    map[string]*computepb.InstancesScopedList{},
		SelfLink: proto.String(computeLink("projects/" + req.Project + "/aggregated/instances"))}
	for _, k := range s.st.match("compute/projects/" + req.Project + "/zones/*/instances/*") {
		in := s.st.get(k).(*computepb.Instance)
		if !matchFilter(in, req.Filter) {
			continue
		}
		key := "zones/" + strings.Split(k, "/")[4]
		if out.Items[key] == nil {
			out.Items[key] = &computepb.InstancesScopedList{}
		}
		out.Items[key].Instances = append(out.Items[key].Instances, proto.Clone(in).(*computepb.Instance))
	}
	// Compute Engine lists every scope, an empty one with a warning (gcloud reads items even
	// when there is no VM): here the zones a, b and c of each region the project has subnets in.
	for _, k := range s.st.match("compute/projects/" + req.Project + "/regions/*/subnetworks/*") {
		for _, z := range []string{"a", "b", "c"} {
			key := "zones/" + strings.Split(k, "/")[4] + "-" + z
			if out.Items[key] == nil {
				out.Items[key] = &computepb.InstancesScopedList{Warning: &computepb.Warning{Code: proto.String("NO_RESULTS_ON_PAGE"),
					Data:    []*computepb.Data{{Key: proto.String("scope"), Value: proto.String(key)}},
					Message: proto.String(fmt.Sprintf("There are no results for scope '%s' on this page.", key))}}
			}
		}
	}
	return out, nil
}

func (x *instances) Delete(ctx context.Context, req *computepb.DeleteInstanceRequest) (*computepb.Operation, error) {
	s := x.s
	defer s.lock(req.Project)()
	in, fqn, err := s.instance(req.Project, req.Zone, req.Instance)
	if err != nil {
		return nil, err
	}
	if in.GetDeletionProtection() {
		return nil, &Error{Code: codes.FailedPrecondition, HTTP: 400, Reason: "resourceInUseByAnotherResource",
			Message: "Invalid resource usage: 'Resource cannot be deleted if it's protected against deletion.'."}
	}
	return s.computeOp(ctx, req.Project, "zones/"+req.Zone, "delete", fqn, in.GetId(), &pendingOp{Dels: []string{"compute/" + fqn}}), nil
}

// change starts a zonal operation that replaces the VM with what edit makes of a copy of it.
func (s *Server) changeInstance(ctx context.Context, project, zone, name, opType string, edit func(fqn string, in *computepb.Instance) error) (*computepb.Operation, error) {
	cur, fqn, err := s.instance(project, zone, name)
	if err != nil {
		return nil, err
	}
	upd := proto.Clone(cur).(*computepb.Instance)
	if err := edit(fqn, upd); err != nil {
		return nil, err
	}
	seal(upd)
	return s.computeOp(ctx, project, "zones/"+zone, opType, fqn, cur.GetId(), &pendingOp{Puts: map[string]proto.Message{"compute/" + fqn: upd}}), nil
}

func (x *instances) Stop(ctx context.Context, req *computepb.StopInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "stop", func(_ string, in *computepb.Instance) error {
		if in.GetStatus() != instanceTerminated {
			in.LastStopTimestamp = proto.String(x.s.ts())
		}
		in.Status = proto.String(instanceTerminated)
		return nil
	})
}

func (x *instances) Start(ctx context.Context, req *computepb.StartInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "start", func(_ string, in *computepb.Instance) error {
		if in.GetStatus() != instanceRunning {
			in.LastStartTimestamp = proto.String(x.s.ts())
		}
		in.Status = proto.String(instanceRunning)
		return nil
	})
}

// stopped refuses a change that needs the VM stopped while it is not.
func stopped(fqn string, in *computepb.Instance) error {
	if in.GetStatus() != instanceTerminated {
		return notReady(fqn)
	}
	return nil
}

func (x *instances) SetMachineType(ctx context.Context, req *computepb.SetMachineTypeInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "setMachineType", func(fqn string, in *computepb.Instance) error {
		if err := stopped(fqn, in); err != nil {
			return err
		}
		want := req.GetInstancesSetMachineTypeRequestResource().GetMachineType()
		mt := strings.TrimPrefix(resolveRef(req.Project, want), "projects/"+req.Project+"/")
		if m := machineTypeRE.FindStringSubmatch(mt); m == nil || m[1] != req.Zone {
			return computeInvalid("resource.machineType", "Invalid value for field 'resource.machineType': '%s'. Machine type with name '%s' does not exist in zone '%s'.", want, lastSegment(want), req.Zone)
		}
		in.MachineType = proto.String(computeLink("projects/" + req.Project + "/" + mt))
		return nil
	})
}

func (x *instances) SetServiceAccount(ctx context.Context, req *computepb.SetServiceAccountInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "setServiceAccount", func(fqn string, in *computepb.Instance) error {
		if err := stopped(fqn, in); err != nil {
			return err
		}
		r := req.GetInstancesSetServiceAccountRequestResource()
		in.ServiceAccounts = nil
		if r.GetEmail() != "" || len(r.GetScopes()) > 0 {
			email := r.GetEmail()
			if email == "" || email == "default" {
				email = fmt.Sprintf("%d-compute@developer.gserviceaccount.com", projectNumber(req.Project))
			}
			in.ServiceAccounts = []*computepb.ServiceAccount{{Email: proto.String(email), Scopes: r.GetScopes()}}
		}
		return nil
	})
}

func (x *instances) UpdateShieldedInstanceConfig(ctx context.Context, req *computepb.UpdateShieldedInstanceConfigInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "updateShieldedInstanceConfig", func(fqn string, in *computepb.Instance) error {
		want, cur := req.GetShieldedInstanceConfigResource(), in.GetShieldedInstanceConfig()
		// Secure boot and vTPM are read at boot: they change only on a stopped VM.
		if (want.EnableSecureBoot != nil && want.GetEnableSecureBoot() != cur.GetEnableSecureBoot()) ||
			(want.EnableVtpm != nil && want.GetEnableVtpm() != cur.GetEnableVtpm()) {
			if err := stopped(fqn, in); err != nil {
				return err
			}
		}
		if in.ShieldedInstanceConfig == nil {
			in.ShieldedInstanceConfig = &computepb.ShieldedInstanceConfig{}
		}
		patchMerge(in.ShieldedInstanceConfig, want)
		if in.GetShieldedInstanceConfig().GetEnableIntegrityMonitoring() && !in.GetShieldedInstanceConfig().GetEnableVtpm() {
			return computeInvalid("resource.enableIntegrityMonitoring", "Integrity monitoring requires vTPM to be enabled.")
		}
		return nil
	})
}

func (x *instances) SetMetadata(ctx context.Context, req *computepb.SetMetadataInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "setMetadata", func(fqn string, in *computepb.Instance) error {
		md := req.GetMetadataResource()
		if !sameFingerprint(md.GetFingerprint(), in.GetMetadata().GetFingerprint()) {
			return fingerprintMismatch(fqn)
		}
		if err := checkMetadata(md); err != nil {
			return err
		}
		in.Metadata = &computepb.Metadata{Items: md.GetItems()}
		return nil
	})
}

func (x *instances) SetTags(ctx context.Context, req *computepb.SetTagsInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "setTags", func(fqn string, in *computepb.Instance) error {
		tags := req.GetTagsResource()
		if !sameFingerprint(tags.GetFingerprint(), in.GetTags().GetFingerprint()) {
			return fingerprintMismatch(fqn)
		}
		if err := checkTags(tags); err != nil {
			return err
		}
		items := append([]string(nil), tags.GetItems()...)
		sort.Strings(items)
		in.Tags = &computepb.Tags{Items: items}
		return nil
	})
}

func (x *instances) SetLabels(ctx context.Context, req *computepb.SetLabelsInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "setLabels", func(fqn string, in *computepb.Instance) error {
		r := req.GetInstancesSetLabelsRequestResource()
		if !sameFingerprint(r.GetLabelFingerprint(), in.GetLabelFingerprint()) {
			return &Error{Code: codes.FailedPrecondition, HTTP: 412, Reason: "conditionNotMet",
				Message: fmt.Sprintf("Labels fingerprint either invalid or resource labels have changed for '%s'.", fqn)}
		}
		for k, v := range r.GetLabels() {
			if !labelKeyRE.MatchString(k) || !labelValueRE.MatchString(v) {
				return computeInvalid("resource.labels", "Invalid value for field 'resource.labels': '%s=%s'. Label keys and values must be lower-case letters, digits, dashes and underscores.", k, v)
			}
		}
		in.Labels = r.GetLabels()
		return nil
	})
}

// nic finds the interface a request names.
func nic(fqn string, in *computepb.Instance, name string) (*computepb.NetworkInterface, error) {
	for _, n := range in.GetNetworkInterfaces() {
		if n.GetName() == name {
			return n, nil
		}
	}
	return nil, computeInvalid("networkInterface", "Invalid value for field 'networkInterface': '%s'. The network interface does not exist in '%s'.", name, fqn)
}

func (x *instances) AddAccessConfig(ctx context.Context, req *computepb.AddAccessConfigInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "addAccessConfig", func(fqn string, in *computepb.Instance) error {
		n, err := nic(fqn, in, req.NetworkInterface)
		if err != nil {
			return err
		}
		if len(n.AccessConfigs) > 0 {
			return computeInvalid("resource", "At most one access config currently supported.")
		}
		ac := proto.Clone(req.GetAccessConfigResource()).(*computepb.AccessConfig)
		if err := x.s.accessConfig("resource", ac); err != nil {
			return err
		}
		n.AccessConfigs = []*computepb.AccessConfig{ac}
		n.Fingerprint = nil
		n.Fingerprint = proto.String(fingerprint(n))
		return nil
	})
}

func (x *instances) DeleteAccessConfig(ctx context.Context, req *computepb.DeleteAccessConfigInstanceRequest) (*computepb.Operation, error) {
	defer x.s.lock(req.Project)()
	return x.s.changeInstance(ctx, req.Project, req.Zone, req.Instance, "deleteAccessConfig", func(fqn string, in *computepb.Instance) error {
		n, err := nic(fqn, in, req.NetworkInterface)
		if err != nil {
			return err
		}
		var keep []*computepb.AccessConfig
		found := false
		for _, ac := range n.AccessConfigs {
			if ac.GetName() == req.AccessConfig {
				found = true
				continue
			}
			keep = append(keep, ac)
		}
		if !found {
			return computeInvalid("accessConfig", "Invalid value for field 'accessConfig': '%s'. The access config does not exist on interface %s.", req.AccessConfig, req.NetworkInterface)
		}
		n.AccessConfigs = keep
		n.Fingerprint = nil
		n.Fingerprint = proto.String(fingerprint(n))
		return nil
	})
}

func lastSegment(link string) string { return link[strings.LastIndex(link, "/")+1:] }

// --- Zones ---

// zones answers for any well-formed zone: gcloud reads the instance's zone before creating it, to
// warn when it is deprecated.
type zones struct {
	computepb.UnimplementedZonesServer
	s *Server
}

func (x *zones) Get(ctx context.Context, req *computepb.GetZoneRequest) (*computepb.Zone, error) {
	defer x.s.lock(req.Project)()
	fqn := "projects/" + req.Project + "/zones/" + req.Zone
	if !isZone(req.Zone) {
		return nil, computeNotFound(fqn)
	}
	return &computepb.Zone{Kind: proto.String("compute#zone"), Id: proto.Uint64(x.s.st.nextID("zone/" + req.Zone)), Name: proto.String(req.Zone),
		Description: proto.String(req.Zone), Status: proto.String("UP"), SelfLink: proto.String(computeLink(fqn)),
		Region: proto.String(computeLink("projects/" + req.Project + "/regions/" + regionOf(req.Zone)))}, nil
}
