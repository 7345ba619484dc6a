package gcplayer

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	hubv1 "google.golang.org/api/gkehub/v1"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
	"github.com/asmfed/kubectl-asmfed/pkg/vpcfw"
)

// Options tune the layer.
type Options struct {
	// ReadParallelism bounds concurrent reads of live state. Default 64: a plan is a few dozen reads, all independent.
	ReadParallelism int
}

// Layer plans and applies the Google Cloud side of federations.
type Layer struct {
	gcp  *gcp.Clients
	opts Options
	// recordMu serialises this process's writes of adoption records (record.go).
	recordMu sync.Mutex
}

// New returns a layer that talks to Google Cloud through clients.
func New(clients *gcp.Clients, opts Options) *Layer {
	if opts.ReadParallelism <= 0 {
		opts.ReadParallelism = 64
	}
	return &Layer{gcp: clients, opts: opts}
}

// CloudPlan is the Google Cloud layer's plan together with what it was made from, which Apply
// needs to carry it out.
type CloudPlan struct {
	Plan *plan.Plan
	// Derived is the federation's Google Cloud model, compiled with the facts read live (project
	// numbers, Cloud SQL instances, memberships), without the clusters' Kubernetes objects:
	// federation.AddObjects adds them where the cluster side is planned.
	Derived *federation.Desired
	// Clusters are the federation's clusters that exist, by name, with how to reach their API.
	Clusters map[string]ClusterAccess
	// MeshStates are the managed control plane's states by cluster (managed mode only).
	MeshStates map[string]MeshState
	// Firewall is every live firewall rule of the federation's network, for reachability checks.
	Firewall []vpcfw.Rule
	// GKE are the federation's clusters as GKE reports them, by name, and EnabledServices the
	// APIs enabled in each project the federation touches: what verify checks settings against.
	GKE             map[string]*containerpb.Cluster
	EnabledServices map[string][]string
	// CloudSQL is what the Cloud SQL add-on's resources are as Google Cloud reports them, for
	// verify; nil without the add-on.
	CloudSQL *CloudSQLState
	// Bastion is the file's bastion VM as Compute Engine reports it, for verify; nil when the
	// file has none or it does not exist.
	Bastion *computepb.Instance
	// Pending is what an earlier, interrupted apply left running on the federation's
	// resources; apply waits for it (Resume) before anything else.
	Pending []Pending
	desired map[plan.Address]*object
	live    map[plan.Address]*object
	// fleetProject and federation say where the adoption record is; stale are its entries that
	// name nothing live, which apply drops.
	fleetProject, federation string
	stale                    []recordEntry
}

// MeshState is the managed control plane's state on one cluster, as the fleet feature reports it.
type MeshState struct {
	ControlPlane, DataPlane string
	// Conditions are the warning and error conditions, as "SEVERITY CODE: details".
	Conditions []string
}

// ClusterAccess is how GKE says a cluster's API server is reached.
type ClusterAccess struct {
	Name, Project, Location string
	// Endpoint and PrivateEndpoint are host or host:port, without a scheme, as GKE reports them.
	Endpoint, PrivateEndpoint string
	// CAData is the PEM of the cluster CA.
	CAData []byte
	// Status is GKE's: PROVISIONING, RUNNING, RECONCILING, …
	Status string
}

// clusterAccess lists how to reach the federation's clusters that exist.
func clusterAccess(d *federation.Desired, s *snapshot) map[string]ClusterAccess {
	out := map[string]ClusterAccess{}
	for _, c := range d.Clusters {
		for _, live := range s.clusters[c.Project] {
			if live.GetName() != c.Name || live.GetLocation() != c.Location {
				continue
			}
			ca, _ := base64.StdEncoding.DecodeString(live.GetMasterAuth().GetClusterCaCertificate())
			out[c.Name] = ClusterAccess{Name: c.Name, Project: c.Project, Location: c.Location,
				Endpoint: live.GetEndpoint(), PrivateEndpoint: live.GetPrivateClusterConfig().GetPrivateEndpoint(),
				CAData: ca, Status: live.GetStatus().String()}
		}
	}
	return out
}

// Plan reads the live state a federation concerns and diffs it against what the federation wants.
// The Google Cloud side of the model is compiled twice: offline, to know what to read (which does
// not depend on project numbers), then with the facts read, which resolves its placeholders. The
// clusters' Kubernetes objects are not compiled: the Google Cloud layer has no use for them.
func (e *Layer) Plan(ctx context.Context, f *v1alpha1.Federation) (*CloudPlan, error) {
	return e.PlanWith(ctx, f, PlanOptions{})
}

// PlanWith is Plan with options: with Adopt, what the file wants and exists without the mark is
// adopted when it can be (see PlanOptions).
func (e *Layer) PlanWith(ctx context.Context, f *v1alpha1.Federation, opts PlanOptions) (*CloudPlan, error) {
	// offline is the model without the clusters' objects: enough to know what to read, and the
	// Cloud SQL instances and memberships the facts are read for.
	offline, snap, err := e.readFor(ctx, f)
	if err != nil {
		return nil, err
	}
	derived, err := federation.CompileGoogleCloud(f, federation.Facts{ProjectNumbers: snap.numbers, CloudSQL: snap.cloudSQL.facts(offline),
		Memberships: registeredMemberships(offline, snap)})
	if err != nil {
		return nil, err
	}
	if !derived.Resolved() {
		return nil, fmt.Errorf("could not resolve the numbers of projects %s", strings.Join(derived.Unresolved, ", "))
	}
	desired, err := desiredState(derived)
	if err != nil {
		return nil, err
	}
	routerNotes, routerWarnings := sameFunctionRouters(desired, snap)
	live := liveState(derived, snap, desired)
	markInRecord(desired, live, derived)
	r := &CloudPlan{Derived: derived, Clusters: clusterAccess(derived, snap), Firewall: firewallRules(snap.firewalls, derived.Network.Name),
		desired: map[plan.Address]*object{}, live: map[plan.Address]*object{},
		fleetProject: derived.FleetProject, federation: derived.Federation, stale: staleEntries(snap.record, derived.Network.Project, live)}
	var dres, lres []plan.Resource
	for _, o := range desired {
		r.desired[o.res.Address] = o
		dres = append(dres, o.res)
	}
	for _, o := range live {
		r.live[o.res.Address] = o
		lres = append(lres, o.res)
	}
	p, err := plan.Diff(dres, lres, plan.DiffOptions{Federation: f.Metadata.Name, Adopt: opts.Adopt})
	if err != nil {
		return nil, err
	}
	p.Warnings = append(p.Warnings, derived.Warnings...)
	p.Warnings = append(p.Warnings, routerWarnings...)
	p.Warnings = append(p.Warnings, handMadeRules(desired, snap.firewalls, derived)...)
	p.Warnings = append(p.Warnings, otherMemberships(desired, snap)...)
	p.Notes = append(p.Notes, routerNotes...)
	p.Notes = append(p.Notes, takenMemberships(offline, derived)...)
	p.Notes = append(p.Notes, staleNotes(r)...)
	unhealthyClusters(p, snap, f.Metadata.Name)
	restartingUpdates(p)
	pending := pendingWork(derived, snap, desired, live)
	for _, pw := range pending {
		p.Notes = append(p.Notes, "resuming "+pw.String())
	}
	r.Pending = pending
	states, notes := meshStates(derived, snap)
	p.Notes = append(p.Notes, notes...)
	p.Notes = append(p.Notes, foreignPools(derived, snap, live)...)
	p.Notes = append(p.Notes, fleetNeighbours(derived, snap)...)
	for _, c := range p.Changes {
		if c.Protected && (c.Action == plan.Replace || c.Action == plan.Delete) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s will be %sd: everything running on it goes with it (apply needs --allow-destroy)", c.Address, c.Action))
		}
	}
	r.Plan = p
	r.MeshStates = states
	r.GKE, r.EnabledServices = liveClusters(derived, snap), snap.services
	r.CloudSQL = cloudSQLState(derived, snap)
	r.Bastion = liveBastion(derived, snap)
	return r, nil
}

// readFor compiles the federation's Google Cloud side offline, which says what to read, and reads
// it. The lists the file names directly (its projects, network and fleet) are read while the model
// compiles, so the compile of a large federation does not delay the round of reads.
func (e *Layer) readFor(ctx context.Context, f *v1alpha1.Federation) (*federation.Desired, *snapshot, error) {
	var offline *federation.Desired
	snap, err := e.readWith(ctx, scopeOfFile(f), func() (*federation.Desired, error) {
		var err error
		offline, err = federation.CompileGoogleCloud(f, federation.Facts{})
		return offline, err
	})
	if err != nil {
		return nil, nil, err
	}
	return offline, snap, nil
}

// PlanDestroy plans the deletion of everything the federation owns, in reverse dependency order:
// memberships and node pools before their clusters, clusters before their subnets, routers before
// the subnets they NAT, and the network last. Enabled APIs, Shared VPC wiring and IAM bindings carry
// no ownership mark and stay.
func (e *Layer) PlanDestroy(ctx context.Context, f *v1alpha1.Federation) (*CloudPlan, error) {
	offline, snap, err := e.readFor(ctx, f)
	if err != nil {
		return nil, err
	}
	live := liveState(offline, snap, nil)
	r := &CloudPlan{desired: map[plan.Address]*object{}, live: map[plan.Address]*object{},
		fleetProject: offline.FleetProject, federation: offline.Federation, stale: staleEntries(snap.record, offline.Network.Project, live)}
	var lres []plan.Resource
	for _, o := range live {
		r.live[o.res.Address] = o
		lres = append(lres, o.res)
	}
	p, err := plan.Diff(nil, lres, plan.DiffOptions{Federation: f.Metadata.Name})
	if err != nil {
		return nil, err
	}
	p.Notes = append(p.Notes, staleNotes(r)...)
	r.Plan = p
	return r, nil
}

// meshStates reads the managed control plane's state per cluster from the fleet feature, and says
// it in notes.
func meshStates(d *federation.Desired, s *snapshot) (map[string]MeshState, []string) {
	if d.MeshFeature == nil {
		return nil, nil
	}
	states := map[string]MeshState{}
	var notes []string
	for _, m := range d.FleetMemberships {
		cluster := lastSegment(string(m.ClusterAddress))
		key := fmt.Sprintf("projects/%d/locations/%s/memberships/%s", s.numbers[m.Project], m.Location, m.Name)
		var st *hubv1.ServiceMeshMembershipState
		if s.meshFeature != nil {
			if ms, ok := s.meshFeature.MembershipStates[key]; ok {
				st = ms.Servicemesh
			}
		}
		if st == nil {
			notes = append(notes, fmt.Sprintf("managed control plane of %s: not provisioned yet", cluster))
			continue
		}
		ms := MeshState{ControlPlane: "UNKNOWN", DataPlane: "UNKNOWN"}
		if st.ControlPlaneManagement != nil {
			ms.ControlPlane = st.ControlPlaneManagement.State
		}
		if st.DataPlaneManagement != nil {
			ms.DataPlane = st.DataPlaneManagement.State
		}
		line := fmt.Sprintf("managed control plane of %s: control plane %s, data plane %s", cluster, ms.ControlPlane, ms.DataPlane)
		for _, c := range st.Conditions {
			if c.Severity == "ERROR" || c.Severity == "WARNING" {
				cond := fmt.Sprintf("%s %s: %s", c.Severity, c.Code, c.Details)
				ms.Conditions = append(ms.Conditions, cond)
				line += "; " + cond
			}
		}
		states[cluster] = ms
		notes = append(notes, line)
	}
	return states, notes
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Parallelism bounds concurrent changes. Default 10.
	Parallelism int
	// AllowDestroy permits replacing or deleting protected resources (clusters, networks).
	AllowDestroy bool
	// OnEvent receives progress of each change.
	OnEvent func(plan.Event)
}

// Apply carries out a plan made by Plan. It refuses, before changing anything, a plan that would
// replace or delete protected resources unless allowed. Step failures are in the report.
func (e *Layer) Apply(ctx context.Context, r *CloudPlan, opts ApplyOptions) (*plan.Report, error) {
	if err := r.Plan.CheckApplicable(opts.AllowDestroy); err != nil {
		return nil, err
	}
	if err := e.forget(ctx, r, r.stale); err != nil {
		return nil, err
	}
	steps := plan.StepsFor(r.Plan, func(c plan.Change) func(context.Context, func(string)) error {
		return func(ctx context.Context, progress func(string)) error {
			return e.change(ctx, r, c, r.desired[c.Address], r.live[c.Address], gcp.Progress(progress))
		}
	})
	return plan.Execute(ctx, steps, plan.ExecOptions{Parallelism: opts.Parallelism, OnEvent: opts.OnEvent})
}
