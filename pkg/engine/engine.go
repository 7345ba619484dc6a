package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	hubv1 "google.golang.org/api/gkehub/v1"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Options tune the engine.
type Options struct {
	// ReadParallelism bounds concurrent reads of live state. Default 64: a plan is a few dozen reads, all independent.
	ReadParallelism int
}

// Engine plans and applies federations against Google Cloud.
type Engine struct {
	gcp  *gcp.Clients
	opts Options

	// rendered keeps the last control-plane render, so that planning the cluster side again
	// within one apply (after the Google Cloud layer) does not render the same input twice.
	renderMu  sync.Mutex
	renderKey string
	rendered  []render.Cluster
}

// New returns an engine that talks to Google Cloud through clients.
func New(clients *gcp.Clients, opts Options) *Engine {
	if opts.ReadParallelism <= 0 {
		opts.ReadParallelism = 64
	}
	return &Engine{gcp: clients, opts: opts}
}

// Result is a plan together with what it was made from, which apply needs to carry it out.
type Result struct {
	Plan    *plan.Plan
	Derived *federation.Desired
	// Clusters are the federation's clusters that exist, by name, with how to reach their API.
	Clusters map[string]ClusterAccess
	// MeshStates are the managed control plane's states by cluster (managed mode only).
	MeshStates map[string]MeshState
	desired    map[plan.Address]*object
	live       map[plan.Address]*object
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
func clusterAccess(f *v1alpha1.Federation, s *snapshot) map[string]ClusterAccess {
	out := map[string]ClusterAccess{}
	for _, c := range f.Spec.Clusters {
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
func (e *Engine) Plan(ctx context.Context, f *v1alpha1.Federation) (*Result, error) {
	snap, err := e.read(ctx, f)
	if err != nil {
		return nil, err
	}
	derived, err := federation.Compile(f, federation.Facts{ProjectNumbers: snap.numbers})
	if err != nil {
		return nil, err
	}
	if !derived.Resolved() {
		return nil, fmt.Errorf("could not resolve the numbers of projects %s", strings.Join(derived.Unresolved, ", "))
	}
	desired, err := desiredState(f, derived, snap.numbers)
	if err != nil {
		return nil, err
	}
	live, err := e.liveState(f, snap, desired)
	if err != nil {
		return nil, err
	}
	r := &Result{Derived: derived, Clusters: clusterAccess(f, snap), desired: map[plan.Address]*object{}, live: map[plan.Address]*object{}}
	var dres, lres []plan.Resource
	for _, o := range desired {
		r.desired[o.res.Address] = o
		dres = append(dres, o.res)
	}
	for _, o := range live {
		r.live[o.res.Address] = o
		lres = append(lres, o.res)
	}
	p, err := plan.Diff(dres, lres, plan.DiffOptions{Federation: f.Metadata.Name})
	if err != nil {
		return nil, err
	}
	p.Warnings = append(p.Warnings, derived.Warnings...)
	states, notes := meshStates(f, derived, snap)
	p.Notes = append(p.Notes, notes...)
	for _, c := range p.Changes {
		if c.Protected && (c.Action == plan.Replace || c.Action == plan.Delete) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s will be %sd: everything running on it goes with it (apply needs --allow-destroy)", c.Address, c.Action))
		}
	}
	r.Plan = p
	r.MeshStates = states
	return r, nil
}

// PlanDestroy plans the deletion of everything the federation owns, in reverse dependency order:
// memberships and node pools before their clusters, clusters before their subnets, routers before
// the subnets they NAT, and the network last. Enabled APIs, Shared VPC wiring and IAM bindings carry
// no ownership mark and stay.
func (e *Engine) PlanDestroy(ctx context.Context, f *v1alpha1.Federation) (*Result, error) {
	snap, err := e.read(ctx, f)
	if err != nil {
		return nil, err
	}
	live, err := e.liveState(f, snap, nil)
	if err != nil {
		return nil, err
	}
	r := &Result{desired: map[plan.Address]*object{}, live: map[plan.Address]*object{}}
	var lres []plan.Resource
	for _, o := range live {
		r.live[o.res.Address] = o
		lres = append(lres, o.res)
	}
	p, err := plan.Diff(nil, lres, plan.DiffOptions{Federation: f.Metadata.Name})
	if err != nil {
		return nil, err
	}
	r.Plan = p
	return r, nil
}

// meshStates reads the managed control plane's state per cluster from the fleet feature, and says
// it in notes.
func meshStates(f *v1alpha1.Federation, d *federation.Desired, s *snapshot) (map[string]MeshState, []string) {
	if f.Spec.Mesh.ControlPlane != v1alpha1.ControlPlaneManaged {
		return nil, nil
	}
	states := map[string]MeshState{}
	var notes []string
	for _, m := range d.FleetMemberships {
		key := fmt.Sprintf("projects/%d/locations/%s/memberships/%s", s.numbers[m.Project], m.Location, m.Name)
		var st *hubv1.ServiceMeshMembershipState
		if s.meshFeature != nil {
			if ms, ok := s.meshFeature.MembershipStates[key]; ok {
				st = ms.Servicemesh
			}
		}
		if st == nil {
			notes = append(notes, fmt.Sprintf("managed control plane of %s: not provisioned yet", m.Name))
			continue
		}
		ms := MeshState{ControlPlane: "UNKNOWN", DataPlane: "UNKNOWN"}
		if st.ControlPlaneManagement != nil {
			ms.ControlPlane = st.ControlPlaneManagement.State
		}
		if st.DataPlaneManagement != nil {
			ms.DataPlane = st.DataPlaneManagement.State
		}
		line := fmt.Sprintf("managed control plane of %s: control plane %s, data plane %s", m.Name, ms.ControlPlane, ms.DataPlane)
		for _, c := range st.Conditions {
			if c.Severity == "ERROR" || c.Severity == "WARNING" {
				cond := fmt.Sprintf("%s %s: %s", c.Severity, c.Code, c.Details)
				ms.Conditions = append(ms.Conditions, cond)
				line += "; " + cond
			}
		}
		states[m.Name] = ms
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
	// WaitWorkloads waits, on the cluster side, for the installed control plane's Deployments to
	// be available, up to ReadyTimeout, and says why not.
	WaitWorkloads bool
	ReadyTimeout  time.Duration
}

// DestroyRefusedError lists protected resources a plan would replace or delete.
type DestroyRefusedError struct {
	Addresses []plan.Address
}

func (e *DestroyRefusedError) Error() string {
	names := make([]string, len(e.Addresses))
	for i, a := range e.Addresses {
		names[i] = string(a)
	}
	return fmt.Sprintf("the plan replaces or deletes %s; nothing was changed (pass --allow-destroy if that is intended)", strings.Join(names, ", "))
}

// Apply carries out a plan made by Plan. It refuses, before changing anything, a plan that would
// replace or delete protected resources unless allowed. Step failures are in the report.
func (e *Engine) Apply(ctx context.Context, r *Result, opts ApplyOptions) (*plan.Report, error) {
	if len(r.Plan.Conflicts) > 0 {
		var names []string
		for _, c := range r.Plan.Conflicts {
			names = append(names, string(c.Address))
		}
		return nil, fmt.Errorf("the plan has resources that exist without this federation's ownership mark (%s); nothing was changed: rename them in the file or remove them", strings.Join(names, ", "))
	}
	if !opts.AllowDestroy {
		var refused []plan.Address
		for _, c := range r.Plan.Changes {
			if c.Protected && (c.Action == plan.Replace || c.Action == plan.Delete) {
				refused = append(refused, c.Address)
			}
		}
		if len(refused) > 0 {
			sort.Slice(refused, func(i, j int) bool { return refused[i] < refused[j] })
			return nil, &DestroyRefusedError{Addresses: refused}
		}
	}
	steps := plan.StepsFor(r.Plan, func(c plan.Change) func(context.Context, func(string)) error {
		return func(ctx context.Context, progress func(string)) error {
			return e.change(ctx, c, r.desired[c.Address], r.live[c.Address], gcp.Progress(progress))
		}
	})
	return plan.Execute(ctx, steps, plan.ExecOptions{Parallelism: opts.Parallelism, OnEvent: opts.OnEvent})
}
