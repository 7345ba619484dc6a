package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/lock"
	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/istio"
	"github.com/asmfed/kubectl-asmfed/pkg/istio/render"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Options tune the engine.
type Options struct {
	// ReadParallelism bounds concurrent reads of Google Cloud's live state. Default 64.
	ReadParallelism int
}

// Engine plans and applies whole federations: the Google Cloud layer, then the clusters.
type Engine struct {
	cloud *gcplayer.Layer
}

// New returns an engine that talks to Google Cloud through clients.
func New(clients *gcp.Clients, opts Options) *Engine {
	return &Engine{cloud: gcplayer.New(clients, gcplayer.Options{ReadParallelism: opts.ReadParallelism})}
}

// ClusterOptions say how the cluster side of a federation is reached and planned.
type ClusterOptions struct {
	// Config returns how to reach a cluster's API server the way its access.via says, given what
	// GKE says of it: the Connect Gateway or the GKE endpoint with an OAuth token, or a kubeconfig
	// context.
	Config func(c federation.ClusterDesired, access gcplayer.ClusterAccess) (*rest.Config, error)
	// BaseDir resolves the file's relative paths (the plug-in CA root, the gateway certificate).
	BaseDir string
	// RotateRemoteSecrets issues new reader tokens and rewrites every remote secret.
	RotateRemoteSecrets bool
	// Adopt takes what the file wants and exists without the federation's mark into its
	// ownership, in both layers, when nothing that forces replacement differs (docs/migrate.md).
	Adopt bool
	// ReachTimeout bounds the wait for each cluster's answer in Reachable. Default
	// DefaultReachTimeout.
	ReachTimeout time.Duration
}

// ClustersNotReadyError says which clusters cannot be planned yet because GKE has not created
// them or they are not running, or because what the way to them goes through is created by the
// plan (Waiting, by cluster).
type ClustersNotReadyError struct {
	Clusters []string
	Waiting  map[string]string
}

func (e *ClustersNotReadyError) Error() string {
	var waiting, absent []string
	for _, c := range e.Clusters {
		if why, ok := e.Waiting[c]; ok {
			waiting = append(waiting, c+": "+why)
		} else {
			absent = append(absent, c)
		}
	}
	var parts []string
	if len(absent) > 0 {
		parts = append(parts, fmt.Sprintf("clusters %s do not exist or are not running yet", strings.Join(absent, ", ")))
	}
	if len(waiting) > 0 {
		parts = append(parts, "the way to "+strings.Join(waiting, "; "))
	}
	return strings.Join(parts, "; ") + ": their Kubernetes objects are planned once they do"
}

// FullPlan is the plan of both layers: Google Cloud, and the clusters when they all exist.
type FullPlan struct {
	Cloud *gcplayer.CloudPlan
	// Clusters is nil when the cluster side is deferred.
	Clusters *clusterlayer.ClusterPlan
	// Deferred says why the cluster side is not planned: a *ClustersUnreachableError when
	// clusters that exist did not answer, else a *ClustersNotReadyError.
	Deferred error
	// Reach is how the clusters were reached when the cluster side was planned.
	Reach *Reach
	// Plan merges both layers, for rendering and saved-plan fingerprints.
	Plan *plan.Plan
	// Model is the federation's whole desired state, with the rendered control plane attached.
	Model *federation.Desired

	federation *v1alpha1.Federation
	opts       ClusterOptions
	// files are what the cluster layer reads from disk (the plug-in root, the gateway
	// certificate): read the first time the cluster side is planned, and reused by every later
	// plan of the same apply.
	files *clusterlayer.Options
}

// PlanAll plans the Google Cloud layer and, when every cluster exists and runs, the cluster side;
// otherwise the cluster side is deferred, with a warning in the plan. An in-cluster control
// plane is rendered once, here, and carried in the plan.
func (e *Engine) PlanAll(ctx context.Context, f *v1alpha1.Federation, opts ClusterOptions) (*FullPlan, error) {
	cloud, err := e.cloud.PlanWith(ctx, f, gcplayer.PlanOptions{Adopt: opts.Adopt})
	if err != nil {
		return nil, err
	}
	// The Google Cloud layer's model leaves out the clusters' objects; the cluster side, the
	// render and verify need them.
	model := cloud.Derived
	if err := federation.AddObjects(f, model); err != nil {
		return nil, err
	}
	if f.Spec.Mesh.ControlPlane == v1alpha1.ControlPlaneInCluster {
		rendered, err := (&render.Renderer{}).Render(render.Input{Federation: f, Desired: model, BaseDir: opts.BaseDir})
		if err != nil {
			return nil, err
		}
		manifests := map[string][]*unstructured.Unstructured{}
		for _, c := range rendered {
			for _, m := range c.Manifests {
				manifests[c.Name] = append(manifests[c.Name], m.Object)
			}
		}
		if err := model.AttachControlPlane(manifests); err != nil {
			return nil, err
		}
	}
	fp := &FullPlan{Cloud: cloud, Model: model, federation: f, opts: opts}
	if err := e.planClusters(ctx, fp); err != nil {
		return nil, err
	}
	if err := e.preflight(ctx, fp); err != nil {
		return nil, err
	}
	return fp, nil
}

// planClusters plans the cluster side against the clusters as they are now, and merges the plans.
func (e *Engine) planClusters(ctx context.Context, fp *FullPlan) error {
	fp.Clusters, fp.Deferred = nil, nil
	reach, err := Reachable(ctx, fp.Model, fp.Cloud, fp.opts)
	if err != nil {
		return err
	}
	fp.Reach = reach
	var unreachable *ClustersUnreachableError
	switch {
	case len(reach.Unreachable) > 0:
		unreachable = &ClustersUnreachableError{Clusters: reach.Unreachable}
		fp.Deferred = unreachable
	case len(reach.NotReady) > 0:
		fp.Deferred = &ClustersNotReadyError{Clusters: reach.NotReady, Waiting: reach.Waiting}
	default:
		if fp.files == nil {
			files, err := readClusterFiles(fp.federation, fp.opts)
			if err != nil {
				return err
			}
			fp.files = &files
		}
		kopts := *fp.files
		kopts.PeerServers = peerServers(fp.federation, fp.Cloud.Clusters)
		kopts.Adopt = fp.opts.Adopt
		if fp.Clusters, err = clusterlayer.Plan(ctx, reach.Configs, fp.Model, kopts); err != nil {
			return err
		}
	}
	var kplan *plan.Plan
	if fp.Clusters != nil {
		kplan = fp.Clusters.Plan
	}
	fp.Plan = plan.Merge(fp.federation.Metadata.Name, fp.Cloud.Plan, kplan)
	for _, r := range fp.Model.CallerRoles {
		fp.Plan.Notes = append(fp.Plan.Notes, fmt.Sprintf("the caller needs %s on project %s: %s", r.Role, r.Project, r.Reason))
	}
	if unreachable != nil {
		fp.Plan.Unreachable = unreachable.Planned()
		if len(reach.NotReady) > 0 {
			fp.Plan.Warnings = append(fp.Plan.Warnings, (&ClustersNotReadyError{Clusters: reach.NotReady, Waiting: reach.Waiting}).Error())
		}
	} else if fp.Deferred != nil {
		fp.Plan.Warnings = append(fp.Plan.Warnings, fp.Deferred.Error())
	}
	return nil
}

// peerServers are the addresses remote secrets point at: each cluster's private endpoint, unless
// the file sets peerAPIServer. They appear once GKE has created the clusters.
func peerServers(f *v1alpha1.Federation, access map[string]gcplayer.ClusterAccess) map[string]string {
	out := map[string]string{}
	for _, c := range f.Spec.Clusters {
		if a, ok := access[c.Name]; ok && c.PeerAPIServer == "" && a.PrivateEndpoint != "" {
			out[c.Name] = "https://" + a.PrivateEndpoint
		}
	}
	return out
}

// readClusterFiles reads what the cluster layer needs from disk beside the model: the plug-in root
// and the gateway certificate.
func readClusterFiles(f *v1alpha1.Federation, opts ClusterOptions) (clusterlayer.Options, error) {
	kopts := clusterlayer.Options{RotateRemoteSecrets: opts.RotateRemoteSecrets}
	if t := f.Spec.Mesh.Ingress.TLS; v1alpha1.Bool(f.Spec.Mesh.Ingress.Enabled) && t != nil && t.CertFile != "" {
		cred, err := readCredential(opts.BaseDir, t)
		if err != nil {
			return kopts, err
		}
		kopts.IngressCredential = cred
	}
	if ca := f.Spec.Mesh.CA; ca.Mode == v1alpha1.CAPlugin {
		root, err := istio.LoadRootFiles(v1alpha1.ResolvePath(opts.BaseDir, ca.RootCertFile), v1alpha1.ResolvePath(opts.BaseDir, ca.RootKeyFile))
		if err != nil {
			return kopts, err
		}
		kopts.CARoot = root
	}
	secrets, err := addonSecrets(f, opts.BaseDir)
	if err != nil {
		return kopts, err
	}
	kopts.AddonSecrets = secrets
	return kopts, nil
}

// readCredential reads the ingress gateway's certificate files named in the file.
func readCredential(baseDir string, t *v1alpha1.IngressTLS) (*clusterlayer.IngressCredential, error) {
	var cred clusterlayer.IngressCredential
	var err error
	if cred.CertPEM, err = v1alpha1.ReadFile(v1alpha1.ResolvePath(baseDir, t.CertFile)); err != nil {
		return nil, fmt.Errorf("read ingress certificate: %w", err)
	}
	if cred.KeyPEM, err = v1alpha1.ReadFile(v1alpha1.ResolvePath(baseDir, t.KeyFile)); err != nil {
		return nil, fmt.Errorf("read ingress key: %w", err)
	}
	if t.CACertFile != "" {
		if cred.CAPEM, err = v1alpha1.ReadFile(v1alpha1.ResolvePath(baseDir, t.CACertFile)); err != nil {
			return nil, fmt.Errorf("read ingress client CA: %w", err)
		}
	}
	return &cred, nil
}

// Phase names a part of an apply.
type Phase string

// Phases of ApplyAll, in order.
const (
	PhaseResume   Phase = "Resuming"
	PhaseCloud    Phase = "Google Cloud"
	PhaseClusters Phase = "Cluster side"
)

// ApplyOptions tune ApplyAll.
type ApplyOptions struct {
	// Parallelism bounds concurrent changes. Default 10.
	Parallelism int
	// AllowDestroy permits replacing or deleting protected resources (networks, clusters,
	// namespaces).
	AllowDestroy bool
	// WaitWorkloads waits for the installed control plane's Deployments to be available, up to
	// ReadyTimeout, and says why not.
	WaitWorkloads bool
	ReadyTimeout  time.Duration
	// ResumeTimeout bounds each wait for work an earlier apply left running (an operation, a
	// cluster provisioning); 0 waits as long as ctx allows.
	ResumeTimeout time.Duration
	// OnEvent receives the progress of each change.
	OnEvent func(Phase, plan.Event)
	// OnPhase is told when a phase starts. replanned is the cluster side's plan when it was
	// made anew, against the clusters as the Google Cloud phase left them (nil otherwise).
	OnPhase func(p Phase, replanned *plan.Plan)
	// OnPhaseDone receives each phase's report and how long it took.
	OnPhaseDone func(p Phase, r *plan.Report, elapsed time.Duration)
	// Confirm is asked before a phase whose plan was made during the apply (the cluster side
	// planned once the clusters exist, Google Cloud planned again after resumed work), which the
	// caller has not confirmed; an error stops the apply before that phase changes anything. Nil
	// goes ahead (--auto-approve).
	Confirm func(p Phase, replanned *plan.Plan) error
	// Lock says how the federation's lock is held (see LockOptions).
	Lock LockOptions
	// SkipPreflight applies a plan whose preflight found permissions missing.
	SkipPreflight bool
}

// Report is what ApplyAll did, per phase; a phase that had nothing to do has none.
type Report struct {
	Resume, Cloud, Clusters *plan.Report
}

// Err is the first phase's failure, or nil.
func (r *Report) Err() error {
	for _, p := range []*plan.Report{r.Resume, r.Cloud, r.Clusters} {
		if p != nil {
			if err := p.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// startPhase tells the caller a phase starts and, when its plan was made during the apply, asks
// for confirmation.
func (o ApplyOptions) startPhase(p Phase, replanned *plan.Plan) error {
	if o.OnPhase != nil {
		o.OnPhase(p, replanned)
	}
	if replanned == nil || !replanned.HasChanges() || o.Confirm == nil {
		return nil
	}
	if err := o.Confirm(p, replanned); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// ErrClusterSideBlocked is returned when the Google Cloud layer is applied and the clusters are
// still not all reachable.
var ErrClusterSideBlocked = errors.New("the Google Cloud layer is applied, but the cluster side cannot be")

// Pending reports whether an earlier apply left work running that apply would wait for.
func (fp *FullPlan) Pending() bool { return len(fp.Cloud.Pending) > 0 }

// applyAll carries out a full plan under the lock (see ApplyAll): first it waits for what an
// earlier, interrupted apply left running (operations, clusters provisioning) and plans the Google
// Cloud layer again; then the Google Cloud layer, then the cluster side, planned again against the
// clusters as they now are when the first phase changed anything (or the side was deferred).
// Conflicts and refused deletions of a planned cluster side stop the apply before the Google Cloud
// phase starts. A failed phase stops the apply; its report says what failed.
func (e *Engine) applyAll(ctx context.Context, l *lock.Lock, fp *FullPlan, opts ApplyOptions) (*Report, error) {
	if fp.Clusters != nil {
		if err := fp.Clusters.Plan.CheckApplicable(opts.AllowDestroy); err != nil {
			return nil, err
		}
	}
	rep := &Report{}
	event := func(p Phase) func(plan.Event) {
		if opts.OnEvent == nil {
			return nil
		}
		return func(ev plan.Event) { opts.OnEvent(p, ev) }
	}
	if len(fp.Cloud.Pending) > 0 {
		// An earlier apply was interrupted: wait for what it left running, then plan the
		// Google Cloud layer again against what that work produced.
		if opts.OnPhase != nil {
			opts.OnPhase(PhaseResume, nil)
		}
		start := time.Now()
		r, err := e.cloud.Resume(ctx, fp.Cloud, gcplayer.ResumeOptions{Timeout: opts.ResumeTimeout, OnEvent: event(PhaseResume)})
		if err != nil {
			return rep, err
		}
		rep.Resume = r
		if opts.OnPhaseDone != nil {
			opts.OnPhaseDone(PhaseResume, r, time.Since(start))
		}
		if r.Err() != nil {
			return rep, nil
		}
		cloud, err := e.cloud.PlanWith(ctx, fp.federation, gcplayer.PlanOptions{Adopt: fp.opts.Adopt})
		if err != nil {
			return rep, err
		}
		fp.Cloud = cloud
		fp.Deferred = nil
	}
	cloudChanged := fp.Cloud.Plan.HasChanges()
	if cloudChanged {
		var replanned *plan.Plan
		if rep.Resume != nil {
			replanned = fp.Cloud.Plan
		}
		if err := opts.startPhase(PhaseCloud, replanned); err != nil {
			return rep, err
		}
		start := time.Now()
		r, err := e.cloud.Apply(ctx, fp.Cloud, gcplayer.ApplyOptions{Parallelism: opts.Parallelism, AllowDestroy: opts.AllowDestroy, OnEvent: event(PhaseCloud)})
		if err != nil {
			return rep, err
		}
		rep.Cloud = r
		if opts.OnPhaseDone != nil {
			opts.OnPhaseDone(PhaseCloud, r, time.Since(start))
		}
		if r.Err() != nil {
			return rep, nil
		}
	}
	var replanned *plan.Plan
	if cloudChanged || fp.Clusters == nil {
		// The clusters were created or changed: plan their side against what they are now.
		cloud, err := e.cloud.PlanWith(ctx, fp.federation, gcplayer.PlanOptions{Adopt: fp.opts.Adopt})
		if err != nil {
			return rep, err
		}
		before := fp.Clusters
		fresh := &FullPlan{Cloud: cloud, Model: fp.Model, federation: fp.federation, opts: fp.opts, files: fp.files}
		// The model keeps its rendered control plane; only the live state is read again.
		if err := e.planClusters(ctx, fresh); err != nil {
			return rep, err
		}
		if fresh.Deferred != nil {
			return rep, fmt.Errorf("%w: %w", ErrClusterSideBlocked, fresh.Deferred)
		}
		if before == nil || fresh.Clusters.Plan.Live.Digest != before.Plan.Live.Digest {
			replanned = fresh.Clusters.Plan
		}
		if err := fresh.Clusters.Plan.CheckApplicable(opts.AllowDestroy); err != nil {
			return rep, err
		}
		fp.Clusters = fresh.Clusters
	}
	if !fp.Clusters.Plan.HasChanges() {
		return rep, nil
	}
	if err := opts.startPhase(PhaseClusters, replanned); err != nil {
		return rep, err
	}
	if err := lockClusters(ctx, l, fp.Clusters); err != nil {
		return rep, err
	}
	start := time.Now()
	r, err := clusterlayer.Apply(ctx, fp.Clusters, clusterlayer.ApplyOptions{Parallelism: opts.Parallelism, AllowDestroy: opts.AllowDestroy,
		OnEvent: event(PhaseClusters), WaitWorkloads: opts.WaitWorkloads, ReadyTimeout: opts.ReadyTimeout})
	if err != nil {
		return rep, err
	}
	rep.Clusters = r
	if opts.OnPhaseDone != nil {
		opts.OnPhaseDone(PhaseClusters, r, time.Since(start))
	}
	return rep, nil
}

// PlanDestroy plans the deletion of everything the federation owns in Google Cloud.
func (e *Engine) PlanDestroy(ctx context.Context, f *v1alpha1.Federation) (*gcplayer.CloudPlan, error) {
	return e.cloud.PlanDestroy(ctx, f)
}

// destroy carries out a plan made by PlanDestroy under the lock (see Destroy).
func (e *Engine) destroy(ctx context.Context, p *gcplayer.CloudPlan, opts ApplyOptions) (*plan.Report, error) {
	var onEvent func(plan.Event)
	if opts.OnEvent != nil {
		onEvent = func(ev plan.Event) { opts.OnEvent(PhaseCloud, ev) }
	}
	return e.cloud.Apply(ctx, p, gcplayer.ApplyOptions{Parallelism: opts.Parallelism, AllowDestroy: true, OnEvent: onEvent})
}
