package gcplayer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"

	"github.com/asmfed/kubectl-asmfed/pkg/federation"
	"github.com/asmfed/kubectl-asmfed/pkg/gcp"
	"github.com/asmfed/kubectl-asmfed/pkg/plan"
)

// Pending is work an earlier apply started and did not see finish: an operation still running
// on one of the federation's resources, or a cluster or membership still being created. Apply
// waits for it before it plans again.
type Pending struct {
	Address plan.Address
	// Operation is the operation to wait for by name; nil when only the resource's state says
	// it is still being created.
	Operation *gcp.Operation
	// State is what the resource reports meanwhile (PROVISIONING, CREATING), if it is visible.
	State string

	project, location, name string
	kind                    string
}

func (p Pending) String() string {
	var parts []string
	if p.State != "" {
		parts = append(parts, p.State)
	}
	if p.Operation != nil {
		parts = append(parts, fmt.Sprintf("operation %s (%s) still running", p.Operation.Name[strings.LastIndex(p.Operation.Name, "/")+1:], p.Operation.Type))
	}
	return fmt.Sprintf("%s: %s, started by an earlier apply that did not see it finish; apply waits for it", p.Address, strings.Join(parts, ", "))
}

// pendingWork matches the operations still running to the federation's resources, and adds the
// clusters and memberships still being created without one. Operations on anything else are
// none of the federation's business. Clusters in ERROR are not waited on: nothing resumes them
// (the plan replaces them when destruction is allowed, and warns).
func pendingWork(d *federation.Desired, s *snapshot, desired, live []*object) (pending []Pending) {
	byProjectNumber := map[string]string{}
	for p, n := range s.numbers {
		byProjectNumber[fmt.Sprint(n)] = p
	}
	known := map[plan.Address]*object{}
	for _, o := range desired {
		known[o.res.Address] = o
	}
	for _, o := range live {
		if o.res.Owned || known[o.res.Address] != nil {
			known[o.res.Address] = o
		}
	}
	liveAt := map[plan.Address]*object{}
	for _, o := range live {
		liveAt[o.res.Address] = o
	}
	waited := map[plan.Address]bool{}
	for _, op := range s.running {
		op := op
		var addr plan.Address
		switch op.API {
		case gcp.APICompute:
			addr = plan.Address("gcp:" + op.Target)
		case gcp.APIContainer:
			// GKE names the project by number in operation targets.
			parts := strings.Split(op.Target, "/")
			if len(parts) >= 6 {
				if id, ok := byProjectNumber[parts[1]]; ok {
					parts[1] = id
				}
				addr = plan.Address("gke:" + strings.Join(parts, "/"))
			}
		case gcp.APIServiceUsage:
			// The operation names the project by number; it enables the project's APIs the
			// federation wants that are not enabled yet.
			for p, n := range s.numbers {
				if !strings.Contains(op.Name, fmt.Sprintf("-%d-", n)) {
					continue
				}
				for _, a := range d.APIs {
					if a.Project == p && liveAt[a.Address] == nil {
						addr = a.Address
						break
					}
				}
			}
		}
		o := known[addr]
		if o == nil || waited[addr] {
			continue
		}
		waited[addr] = true
		p := Pending{Address: addr, Operation: &op, kind: o.res.Kind}
		if l := liveAt[addr]; l != nil {
			p.State = liveStatus(l)
		}
		pending = append(pending, p)
	}
	for _, o := range live {
		if known[o.res.Address] == nil || waited[o.res.Address] {
			continue
		}
		switch st := liveStatus(o); {
		case o.res.Kind == plan.KindCluster && (st == containerpb.Cluster_PROVISIONING.String() || st == containerpb.Cluster_RECONCILING.String()),
			o.res.Kind == plan.KindMembership && st == gkehubpb.MembershipState_CREATING.String():
			pending = append(pending, Pending{Address: o.res.Address, State: st, kind: o.res.Kind, project: o.project, location: o.location, name: lastSegment(string(o.res.Address))})
		}
	}
	return pending
}

// liveStatus is a cluster's, node pool's or membership's state as the API reports it.
func liveStatus(o *object) string {
	switch m := o.msg.(type) {
	case *containerpb.Cluster:
		return m.GetStatus().String()
	case *containerpb.NodePool:
		return m.GetStatus().String()
	case *gkehubpb.Membership:
		return m.GetState().GetCode().String()
	}
	return ""
}

// ResumeOptions tune Resume.
type ResumeOptions struct {
	// Timeout bounds each wait; 0 waits as long as ctx allows.
	Timeout time.Duration
	// PollInterval is how often a resource's state is read when there is no operation to wait
	// for. Default 2 s.
	PollInterval time.Duration
	OnEvent      func(plan.Event)
}

// Resume waits for the work an earlier apply left running (the plan's Pending), each as a step
// of its own; a wait that times out names the resource and the operation.
func (e *Layer) Resume(ctx context.Context, r *CloudPlan, opts ResumeOptions) (*plan.Report, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	var steps []plan.Step
	for _, p := range r.Pending {
		p := p
		steps = append(steps, plan.Step{Address: p.Address, Action: plan.Wait, Run: func(ctx context.Context, progress func(string)) error {
			return e.waitPending(ctx, p, opts, gcp.Progress(progress))
		}})
	}
	return plan.Execute(ctx, steps, plan.ExecOptions{Parallelism: len(steps) + 1, OnEvent: opts.OnEvent})
}

func (e *Layer) waitPending(parent context.Context, p Pending, opts ResumeOptions, progress gcp.Progress) error {
	ctx := parent
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, opts.Timeout)
		defer cancel()
	}
	what := "its state"
	var err error
	if p.Operation != nil {
		what = p.Operation.String()
		progress("waiting for " + what + ", started by an earlier apply")
		err = e.gcp.WaitOperation(ctx, *p.Operation, "resume "+strings.ToLower(p.Operation.Type), strings.SplitN(string(p.Address), ":", 2)[1], progress)
	} else {
		what = "it to leave " + p.State
		err = e.waitState(ctx, p, opts.PollInterval, progress)
	}
	if err != nil && parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s waiting for %s: it goes on in Google Cloud; run apply again later to resume it", opts.Timeout, what)
	}
	return err
}

// waitState polls a cluster or membership found being created, with no operation to wait for,
// until it is ready; a cluster that ends in ERROR fails the wait.
func (e *Layer) waitState(ctx context.Context, p Pending, interval time.Duration, progress gcp.Progress) error {
	for {
		var state, message string
		switch p.kind {
		case plan.KindCluster:
			cls, err := e.gcp.Clusters(ctx, p.project)
			if err != nil {
				return err
			}
			for _, c := range cls {
				if c.GetName() == p.name && c.GetLocation() == p.location {
					state, message = c.GetStatus().String(), c.GetStatusMessage()
				}
			}
			switch state {
			case containerpb.Cluster_RUNNING.String():
				return nil
			case containerpb.Cluster_ERROR.String(), "":
				return fmt.Errorf("%s is %s (%s): delete it and run apply again", p.Address, orGone(state), message)
			}
		case plan.KindMembership:
			ms, err := e.gcp.Memberships(ctx, p.project)
			if err != nil {
				return err
			}
			for _, m := range ms {
				if lastSegment(m.GetName()) == p.name {
					state = m.GetState().GetCode().String()
				}
			}
			if state != gkehubpb.MembershipState_CREATING.String() {
				return nil
			}
		default:
			return nil
		}
		if progress != nil {
			progress(state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

func orGone(state string) string {
	if state == "" {
		return "gone"
	}
	return "in " + state
}
