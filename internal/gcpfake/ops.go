package gcpfake

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

const tsLayout = "2006-01-02T15:04:05.000-07:00"

func (s *Server) ts() string { return s.st.now().Format(tsLayout) }

// opTiming decides when an operation started by the current call runs and
// completes, and whether it is armed to fail at completion.
func (s *Server) opTiming(ctx context.Context) (runAt, doneAt time.Time, fail *Error) {
	method := methodFrom(ctx)
	s.ctl.mu.Lock()
	d := s.ctl.latency.lookup(s.ctl.latency.opMap(), method)
	s.ctl.mu.Unlock()
	if f := s.ctl.takeFault(method, true); f != nil {
		fail = f.err()
		d += f.Delay
	}
	now := s.st.now()
	return now.Add(d / 5), now.Add(d), fail
}

func (l *Latency) opMap() map[string]time.Duration {
	if l == nil {
		return nil
	}
	return l.Op
}

// computeOp starts a compute operation. scope is "global", "regions/R" or
// "zones/Z". Caller holds the lock.
func (s *Server) computeOp(ctx context.Context, project, scope, opType, target string, targetID uint64, p *pendingOp) *computepb.Operation {
	runAt, doneAt, fail := s.opTiming(ctx)
	name := s.st.opName()
	fqn := "projects/" + project + "/" + scope + "/operations/" + name
	op := &computepb.Operation{
		Kind:          proto.String("compute#operation"),
		Id:            proto.Uint64(s.st.nextID(fqn)),
		Name:          proto.String(name),
		OperationType: proto.String(opType),
		TargetLink:    proto.String(computeLink(target)),
		Status:        computepb.Operation_PENDING.Enum(),
		User:          proto.String("user@example.com"),
		Progress:      proto.Int32(0),
		InsertTime:    proto.String(s.ts()),
		SelfLink:      proto.String(computeLink(fqn)),
	}
	if targetID != 0 {
		op.TargetId = proto.Uint64(targetID)
	}
	if r, ok := strings.CutPrefix(scope, "regions/"); ok {
		op.Region = proto.String(computeLink("projects/" + project + "/regions/" + r))
	}
	if z, ok := strings.CutPrefix(scope, "zones/"); ok {
		op.Zone = proto.String(computeLink("projects/" + project + "/zones/" + z))
	}
	s.st.put("compute/"+fqn, op)
	p.OpKey, p.RunAt, p.DoneAt, p.Fail = "compute/"+fqn, runAt, doneAt, fail
	s.st.addPending(p)
	return proto.Clone(s.st.get("compute/" + fqn)).(*computepb.Operation)
}

// containerOp starts a GKE operation. Caller holds the lock.
func (s *Server) containerOp(ctx context.Context, project, location string, opType containerpb.Operation_Type, target string, p *pendingOp) *containerpb.Operation {
	runAt, doneAt, fail := s.opTiming(ctx)
	name := s.st.opName()
	num := fmt.Sprint(projectNumber(project))
	op := &containerpb.Operation{
		Name:          name,
		Zone:          location,
		Location:      location,
		OperationType: opType,
		Status:        containerpb.Operation_PENDING,
		SelfLink:      gkeLink("projects/" + num + "/" + zonesOrLocations(location) + "/" + location + "/operations/" + name),
		TargetLink:    gkeLink(strings.Replace(target, "projects/"+project+"/", "projects/"+num+"/", 1)),
		StartTime:     s.st.now().UTC().Format(time.RFC3339Nano),
	}
	key := "container/projects/" + project + "/locations/" + location + "/operations/" + name
	s.st.put(key, op)
	p.OpKey, p.RunAt, p.DoneAt, p.Fail = key, runAt, doneAt, fail
	s.st.addPending(p)
	return proto.Clone(s.st.get(key)).(*containerpb.Operation)
}

// lroOp starts a google.longrunning operation named name (without the
// "lro/" key prefix). Caller holds the lock.
func (s *Server) lroOp(ctx context.Context, name string, metadata proto.Message, p *pendingOp) *longrunningpb.Operation {
	runAt, doneAt, fail := s.opTiming(ctx)
	op := &longrunningpb.Operation{Name: name}
	if metadata != nil {
		op.Metadata, _ = anypb.New(metadata)
	}
	s.st.put("lro/"+name, op)
	p.OpKey, p.RunAt, p.DoneAt = "lro/"+name, runAt, doneAt
	if p.Fail == nil {
		// A failure the method decided (an operation that always fails) stands over an injected one.
		p.Fail = fail
	}
	s.st.addPending(p)
	return proto.Clone(s.st.get("lro/" + name)).(*longrunningpb.Operation)
}

func (s *store) startOp(p *pendingOp) {
	switch op := s.objs[p.OpKey].(type) {
	case *computepb.Operation:
		if op.GetStatus() == computepb.Operation_PENDING {
			op.Status = computepb.Operation_RUNNING.Enum()
			op.StartTime = proto.String(p.RunAt.Format(tsLayout))
		}
	case *containerpb.Operation:
		if op.Status == containerpb.Operation_PENDING {
			op.Status = containerpb.Operation_RUNNING
		}
	}
}

func (s *store) finishOp(p *pendingOp, at time.Time) {
	switch op := s.objs[p.OpKey].(type) {
	case *computepb.Operation:
		if op.StartTime == nil {
			op.StartTime = proto.String(at.Format(tsLayout))
		}
		op.Status = computepb.Operation_DONE.Enum()
		op.Progress = proto.Int32(100)
		op.EndTime = proto.String(at.Format(tsLayout))
		if p.Fail != nil {
			// Both fields: compute clients only report a failed op as an
			// error when httpErrorStatusCode is present.
			op.HttpErrorStatusCode = proto.Int32(int32(p.Fail.HTTP))
			op.HttpErrorMessage = proto.String(httpText(p.Fail.HTTP))
			op.Error = &computepb.Error{Errors: []*computepb.Errors{{
				Code: proto.String(strings.ToUpper(camelToSnake(p.Fail.Reason))), Message: proto.String(p.Fail.Message)}}}
		}
	case *containerpb.Operation:
		op.Status = containerpb.Operation_DONE
		op.EndTime = at.UTC().Format(time.RFC3339Nano)
		if p.Fail != nil {
			op.Error = &status.Status{Code: int32(p.Fail.Code), Message: p.Fail.Message}
			op.StatusMessage = p.Fail.Message
		}
	case *longrunningpb.Operation:
		op.Done = true
		if p.Fail != nil {
			op.Result = &longrunningpb.Operation_Error{Error: &status.Status{Code: int32(p.Fail.Code), Message: p.Fail.Message}}
		} else if p.Response != nil {
			a, _ := anypb.New(p.Response)
			op.Result = &longrunningpb.Operation_Response{Response: a}
		}
	}
}

func httpText(code int) string {
	switch code {
	case 400:
		return "BAD REQUEST"
	case 403:
		return "FORBIDDEN"
	case 404:
		return "NOT FOUND"
	case 409:
		return "CONFLICT"
	case 412:
		return "PRECONDITION FAILED"
	case 429:
		return "TOO MANY REQUESTS"
	case 503:
		return "SERVICE UNAVAILABLE"
	}
	return "INTERNAL SERVER ERROR"
}

func camelToSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}
