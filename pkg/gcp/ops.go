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
// operation every second. It gives up when the operation has run longer than timeout.
type backoffPoll struct {
	first, max, timeout time.Duration
	start               time.Time
}

func (c *Clients) newPoll() *backoffPoll {
	return &backoffPoll{first: c.cfg.PollInterval, max: c.cfg.MaxPollInterval, timeout: c.cfg.OperationTimeout, start: time.Now()}
}

// wait sleeps until the next poll of operation op (started by call on resource), or fails with
// an *OperationTimeoutError naming it when the deadline has passed.
func (b *backoffPoll) wait(ctx context.Context, call, resource, op string) error {
	d := min(b.max, max(b.first, time.Since(b.start)/10))
	if b.timeout > 0 {
		left := b.timeout - time.Since(b.start)
		if left <= 0 {
			return &OperationTimeoutError{Call: call, Resource: resource, Operation: op, After: b.timeout}
		}
		d = min(d, left)
	}
	if err := waitctx.Sleep(ctx, d); err != nil {
		return classify(call, resource, err)
	}
	return nil
}

// OperationTimeoutError is an operation that was still running when the wait for it ran out. It
// may yet finish: the next apply finds it running and waits for it.
type OperationTimeoutError struct {
	Call, Resource, Operation string
	After                     time.Duration
}

func (e *OperationTimeoutError) Error() string {
	return fmt.Sprintf("%s %s: operation %s still running after %s; it may yet finish, and the next apply waits for it", e.Call, e.Resource, e.Operation, e.After)
}

// waitCompute polls a compute operation until it is DONE and fails when the operation failed,
// whether or not the HTTP status fields are set (the client's own Wait misses an operation that
// only carries error.errors).
func (c *Clients) waitCompute(ctx context.Context, call, resource string, op *compute.Operation, progress Progress) error {
	b := c.newPoll()
	for {
		if op.Done() {
			break
		}
		progress.say("operation %s: %s", op.Name(), op.Proto().GetStatus())
		if err := b.wait(ctx, call, resource, op.Name()); err != nil {
			return err
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
	b := c.newPoll()
	name := fmt.Sprintf("projects/%s/locations/%s/operations/%s", project, location, op.GetName())
	for op.GetStatus() != containerpb.Operation_DONE {
		msg := op.GetStatus().String()
		if d := op.GetDetail(); d != "" {
			msg += ": " + d
		}
		progress.say("operation %s: %s", op.GetName(), msg)
		if err := b.wait(ctx, call, resource, name); err != nil {
			return err
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
