package gcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/asmfed/kubectl-asmfed/internal/waitctx"
	"google.golang.org/grpc/codes"
)

// Progress receives short status lines while an operation runs.
type Progress func(msg string)

func (p Progress) say(format string, args ...any) {
	if p != nil {
		p(fmt.Sprintf(format, args...))
	}
}

// backoffPoll waits between polls of an operation: a tenth of the time it has run so far, within
// [first, max]. The wait after completion is then at most about 10% of the operation's duration,
// whether it takes a second (a firewall rule) or minutes (a cluster), without polling a long
// operation every second.
type backoffPoll struct {
	first, max time.Duration
	start      time.Time
}

func newPoll(first, max time.Duration) *backoffPoll {
	return &backoffPoll{first: first, max: max, start: time.Now()}
}

func (b *backoffPoll) wait(ctx context.Context) error {
	return waitctx.Sleep(ctx, min(b.max, max(b.first, time.Since(b.start)/10)))
}

// waitCompute polls a compute operation until it is DONE and fails when the operation failed,
// whether or not the HTTP status fields are set (the client's own Wait misses an operation that
// only carries error.errors).
func (c *Clients) waitCompute(ctx context.Context, call, resource string, op *compute.Operation, progress Progress) error {
	b := newPoll(c.cfg.PollInterval, c.cfg.MaxPollInterval)
	for {
		if op.Done() {
			break
		}
		progress.say("operation %s: %s", op.Name(), op.Proto().GetStatus())
		if err := b.wait(ctx); err != nil {
			return classify(call, resource, err)
		}
		if err := c.do(ctx, call+" (poll)", resource, func(ctx context.Context) error { return op.Poll(ctx) }); err != nil {
			return err
		}
	}
	return computeOpError(call, resource, op.Proto())
}

func computeOpError(call, resource string, op *computepb.Operation) error {
	var msgs []string
	for _, e := range op.GetError().GetErrors() {
		msgs = append(msgs, fmt.Sprintf("%s: %s", e.GetCode(), e.GetMessage()))
	}
	code := int(op.GetHttpErrorStatusCode())
	if len(msgs) == 0 && (code == 0 || (code >= 200 && code < 300)) {
		return nil
	}
	if len(msgs) == 0 {
		msgs = append(msgs, op.GetHttpErrorMessage())
	}
	return classify(call, resource, &opError{code: code, msg: "operation " + op.GetName() + " failed: " + strings.Join(msgs, "; ")})
}

// opError is a failed long-running operation, classified like a failed call.
type opError struct {
	code int
	// grpc is the operation's status code when it reports one: it tells ABORTED from
	// ALREADY_EXISTS, which share HTTP 409.
	grpc codes.Code
	msg  string
}

func (e *opError) Error() string { return e.msg }

// waitContainer polls a GKE operation until DONE and returns its error, if any.
func (c *Clients) waitContainer(ctx context.Context, call, resource, project, location string, op *containerpb.Operation, progress Progress) error {
	b := newPoll(c.cfg.PollInterval, c.cfg.MaxPollInterval)
	name := fmt.Sprintf("projects/%s/locations/%s/operations/%s", project, location, op.GetName())
	for op.GetStatus() != containerpb.Operation_DONE {
		msg := op.GetStatus().String()
		if d := op.GetDetail(); d != "" {
			msg += ": " + d
		}
		progress.say("operation %s: %s", op.GetName(), msg)
		if err := b.wait(ctx); err != nil {
			return classify(call, resource, err)
		}
		err := c.do(ctx, call+" (poll)", resource, func(ctx context.Context) error {
			next, err := c.clusters.GetOperation(ctx, &containerpb.GetOperationRequest{Name: name})
			if err == nil {
				op = next
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if st := op.GetError(); st != nil && st.GetCode() != 0 {
		return classify(call, resource, &opError{code: httpFromGRPCCode(st.GetCode()), grpc: grpcCode(st.GetCode()), msg: "operation " + op.GetName() + " failed: " + st.GetMessage()})
	}
	if m := op.GetStatusMessage(); m != "" && op.GetError() == nil && strings.Contains(strings.ToLower(m), "error") {
		return classify(call, resource, &opError{msg: "operation " + op.GetName() + " failed: " + m})
	}
	return nil
}

func httpFromGRPCCode(code int32) int {
	return httpFromGRPC(grpcCode(code))
}
