package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asmfed/kubectl-asmfed/pkg/api/v1alpha1"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/clusterlayer"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/gcplayer"
	"github.com/asmfed/kubectl-asmfed/pkg/engine/lock"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// LockOptions say how ApplyAll and Destroy hold the federation's lock. Both always take it: first
// in the fleet project (see gcplayer.LockStore), then, before the cluster side, in every cluster
// (see clusterlayer.LockStores); plan takes none.
type LockOptions struct {
	// Holder names this writer in the lock, for whoever finds it held.
	Holder lock.Holder
	// Timeout is how long to wait for a lock held by another writer before refusing with a
	// *lock.HeldError naming it. Zero refuses at once.
	Timeout time.Duration
	// Force takes the lock even from a live holder (after a crash whose lock has not lapsed yet).
	Force bool
	// TTL is how long the lock outlives this writer if it dies without releasing it; it is
	// renewed every TTL/4 while the writer works. Default 2 minutes. A lock whose holder stopped
	// renewing it for longer than its TTL is taken over without Force.
	TTL time.Duration
	// Poll is how often a held lock is looked at again while waiting. Default 2 s.
	Poll time.Duration
	// OnWait is told when the lock is held by someone else and the writer starts waiting.
	OnWait func(where string, held lock.Record)
	// OnTakeover is told when the lock of another writer was taken: forced, or lapsed.
	OnTakeover func(where string, held lock.Record, forced bool)
}

// ChangedWhileLockedError refuses a plan whose live state moved between the plan and the moment
// the lock was taken: another writer ran in between, and applying the plan now could undo its work
// or lose track of what it created.
type ChangedWhileLockedError struct {
	Reasons []string
}

func (e *ChangedWhileLockedError) Error() string {
	const shown = 10
	msg := "the live state changed after the plan was made (another apply or destroy ran meanwhile): nothing was changed; plan and apply again"
	for i, r := range e.Reasons {
		if i == shown {
			msg += fmt.Sprintf("\n  … and %d more", len(e.Reasons)-shown)
			break
		}
		msg += "\n  - " + r
	}
	return msg
}

// lockFederation takes the federation's lock in its fleet project. The returned context ends,
// with a *lock.LostError as its cause, if the lock is lost while held.
func (e *Engine) lockFederation(ctx context.Context, f *v1alpha1.Federation, operation string, o LockOptions) (*lock.Lock, context.Context, func(), error) {
	ctx, cancel := context.WithCancelCause(ctx)
	opts := lock.Options{
		Federation: f.Metadata.Name, Operation: operation, Holder: o.Holder,
		Timeout: o.Timeout, TTL: o.TTL, Poll: o.Poll, Force: o.Force,
		OnWait: o.OnWait, OnTakeover: o.OnTakeover,
		OnLost: func(err *lock.LostError) { cancel(err) },
	}
	l, err := lock.Acquire(ctx, opts, e.cloud.LockStore(f.Spec.FleetProject, f.Metadata.Name))
	if err != nil {
		cancel(nil)
		return nil, nil, nil, err
	}
	release := func() {
		_ = l.Release(context.WithoutCancel(ctx))
		cancel(nil)
	}
	return l, ctx, release, nil
}

// lockedErr prefers the reason the lock was lost to the context error it caused.
func lockedErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); err != nil && cause != nil && cause != ctx.Err() {
		return cause
	}
	return err
}

// checkUnchanged reads the live state again, under the lock, and refuses the plan when it moved.
func (e *Engine) checkUnchanged(ctx context.Context, fp *FullPlan) error {
	if fp.Pending() {
		// Work an earlier apply left running changes the live state while we wait for the lock
		// and for it; apply plans again once it is done, and asks before applying that plan.
		return nil
	}
	cloud, err := e.cloud.PlanWith(ctx, fp.federation, gcplayer.PlanOptions{Adopt: fp.opts.Adopt})
	if err != nil {
		return err
	}
	fresh := &FullPlan{Cloud: cloud, Model: fp.Model, federation: fp.federation, opts: fp.opts, files: fp.files}
	if err := e.planClusters(ctx, fresh); err != nil {
		return err
	}
	return unchanged(fp.Plan.Live, fresh.Plan.Live)
}

func unchanged(before, now plan.Fingerprint) error {
	if before.Digest == now.Digest {
		return nil
	}
	return &ChangedWhileLockedError{Reasons: before.Differences(now)}
}

// lockClusters extends the lock to every cluster the cluster side's plan covers.
func lockClusters(ctx context.Context, l *lock.Lock, p *clusterlayer.ClusterPlan) error {
	return l.Extend(ctx, p.LockStores()...)
}

// ApplyAll carries out a full plan: the Google Cloud layer, then the cluster side, planned again
// against the clusters as they now are when the first phase changed anything (or the side was
// deferred). Both phases are checked before anything changes where they can be: conflicts and
// refused deletions of a planned cluster side stop the apply before the Google Cloud phase starts.
// A failed phase stops the apply; its report says what failed.
//
// One writer at a time: ApplyAll first takes the federation's lock (opts.Lock), waiting for
// another writer or refusing with a *lock.HeldError, then reads the live state again and refuses
// with a *ChangedWhileLockedError when it moved since the plan. The lock is extended to each
// cluster before the cluster side, renewed while the apply runs and released when it returns; if
// it is lost (taken over with force), the apply stops and says so.
func (e *Engine) ApplyAll(ctx context.Context, fp *FullPlan, opts ApplyOptions) (*Report, error) {
	if err := checkPreflight(fp, opts); err != nil {
		return nil, err
	}
	l, ctx, unlock, err := e.lockFederation(ctx, fp.federation, "apply", opts.Lock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := e.checkUnchanged(ctx, fp); err != nil {
		return nil, lockedErr(ctx, err)
	}
	rep, err := e.applyAll(ctx, l, fp, opts)
	return rep, lostErr(ctx, err, func() error {
		if rep == nil {
			return nil
		}
		return rep.Err()
	})
}

// Destroy carries out a plan made by PlanDestroy for f, under the federation's lock, as ApplyAll
// does: it refuses when the live state moved between the plan and the lock.
func (e *Engine) Destroy(ctx context.Context, f *v1alpha1.Federation, p *gcplayer.CloudPlan, opts ApplyOptions) (*plan.Report, error) {
	_, ctx, unlock, err := e.lockFederation(ctx, f, "destroy", opts.Lock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	fresh, err := e.cloud.PlanDestroy(ctx, f)
	if err != nil {
		return nil, lockedErr(ctx, err)
	}
	if err := unchanged(p.Plan.Live, fresh.Plan.Live); err != nil {
		return nil, err
	}
	rep, err := e.destroy(ctx, p, opts)
	return rep, lostErr(ctx, err, func() error {
		if rep == nil {
			return nil
		}
		return rep.Err()
	})
}

// lostErr is err, or, when the lock was lost and the work failed because of it, why it was lost.
func lostErr(ctx context.Context, err error, reported func() error) error {
	var lost *lock.LostError
	if cause := context.Cause(ctx); errors.As(cause, &lost) {
		if err != nil || reported() != nil {
			return cause
		}
	}
	return err
}
