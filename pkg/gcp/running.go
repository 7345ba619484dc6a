package gcp

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/proto"
)

// API names the Google API an operation belongs to.
type API string

// APIs whose operations an interrupted apply may leave running.
const (
	APICompute      API = "compute"
	APIContainer    API = "container"
	APIServiceUsage API = "serviceusage"
)

// Operation is a long-running operation found still running: started by a caller that did not
// see it finish (an apply that was killed), and waited for by name with WaitOperation.
type Operation struct {
	API API
	// Name is what the operation is polled by: compute's short name with its Scope, GKE's
	// projects/P/locations/L/operations/NAME, Service Usage's operations/NAME.
	Name string
	// Scope is compute's "global", "regions/R" or "zones/Z".
	Scope string
	// Project is the project the operation was listed in.
	Project string
	// Type is the operation's own type: insert, CREATE_CLUSTER, ...
	Type string
	// Target is the relative name of the resource it works on (projects/P/global/firewalls/F,
	// projects/P/locations/L/clusters/C), empty when the API does not say.
	Target string
	// Status is the operation's status as the API reports it.
	Status string
}

func (o Operation) String() string {
	if o.Target != "" {
		return fmt.Sprintf("%s operation %s (%s %s)", o.API, shortName(o.Name), o.Type, o.Target)
	}
	return fmt.Sprintf("%s operation %s", o.API, shortName(o.Name))
}

func shortName(name string) string { return name[strings.LastIndex(name, "/")+1:] }

// relative turns a resource URL (https://compute.googleapis.com/compute/v1/projects/...) into
// its relative name (projects/...).
func relative(link string) string {
	if i := strings.Index(link, "projects/"); i >= 0 {
		return link[i:]
	}
	return link
}

// RunningComputeOperations lists the compute operations of a project that are not done, global,
// regional and zonal, in one aggregated call.
func (c *Clients) RunningComputeOperations(ctx context.Context, project string) ([]Operation, error) {
	var out []Operation
	err := c.do(ctx, "list compute operations", "projects/"+project, func(ctx context.Context) error {
		out = nil
		pairs, err := collect(c.globalOps.AggregatedList(ctx, &computepb.AggregatedListGlobalOperationsRequest{Project: project,
			Filter: proto.String(`status != "DONE"`)}).Next)
		for _, p := range pairs {
			scope := p.Key
			for _, op := range p.Value.GetOperations() {
				if op.GetStatus() == computepb.Operation_DONE {
					continue
				}
				if z := op.GetZone(); z != "" {
					scope = "zones/" + shortName(z)
				} else if r := op.GetRegion(); r != "" {
					scope = "regions/" + shortName(r)
				} else {
					scope = "global"
				}
				out = append(out, Operation{API: APICompute, Name: op.GetName(), Scope: scope, Project: project, Type: op.GetOperationType(),
					Target: relative(op.GetTargetLink()), Status: op.GetStatus().String()})
			}
		}
		return err
	})
	return out, err
}

// RunningContainerOperations lists the GKE operations of a project, in every location, that are
// not done. Their targets name the project by number, as GKE reports them.
func (c *Clients) RunningContainerOperations(ctx context.Context, project string) ([]Operation, error) {
	var out []Operation
	err := c.do(ctx, "list GKE operations", "projects/"+project+"/locations/-", func(ctx context.Context) error {
		out = nil
		resp, err := c.clusters.ListOperations(ctx, &containerpb.ListOperationsRequest{Parent: "projects/" + project + "/locations/-"})
		if err != nil {
			return err
		}
		for _, op := range resp.GetOperations() {
			if op.GetStatus() == containerpb.Operation_DONE {
				continue
			}
			loc := op.GetLocation()
			if loc == "" {
				loc = op.GetZone()
			}
			out = append(out, Operation{API: APIContainer, Name: fmt.Sprintf("projects/%s/locations/%s/operations/%s", project, loc, op.GetName()),
				Project: project, Type: op.GetOperationType().String(), Target: relative(op.GetTargetLink()), Status: op.GetStatus().String()})
		}
		return nil
	})
	return out, err
}

// RunningServiceOperations lists the Service Usage operations not done. Their names carry the
// number of the project they concern (operations/acf.p2-NUMBER-...); Project is left empty.
func (c *Clients) RunningServiceOperations(ctx context.Context) ([]Operation, error) {
	var out []Operation
	err := c.do(ctx, "list Service Usage operations", "operations", func(ctx context.Context) error {
		out = nil
		ops, err := collect(c.services.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: "operations"}).Next)
		for _, op := range ops {
			if !op.GetDone() {
				out = append(out, Operation{API: APIServiceUsage, Name: op.GetName(), Type: "enable services", Status: "RUNNING"})
			}
		}
		return err
	})
	return out, err
}

// WaitOperation waits, by name, for an operation found running, and returns its error if it
// failed; call and resource say what it is in that error.
func (c *Clients) WaitOperation(ctx context.Context, op Operation, call, resource string, progress Progress) error {
	switch op.API {
	case APICompute:
		return c.waitComputeByName(ctx, op, call, resource, progress)
	case APIContainer:
		var gop *containerpb.Operation
		if err := c.do(ctx, call, resource, func(ctx context.Context) (err error) {
			gop, err = c.clusters.GetOperation(ctx, &containerpb.GetOperationRequest{Name: op.Name})
			return err
		}); err != nil {
			return err
		}
		parts := strings.Split(op.Name, "/")
		return c.waitContainer(ctx, call, resource, parts[1], parts[3], gop, progress)
	case APIServiceUsage:
		var lop *longrunningpb.Operation
		progress.say("operation %s: running", shortName(op.Name))
		err := c.waitLRO(ctx, call, resource, op.Name, func() bool { return lop.GetDone() }, func(ctx context.Context) (err error) {
			lop, err = c.services.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: op.Name})
			return err
		})
		if err != nil {
			return err
		}
		if st := lop.GetError(); st != nil && st.GetCode() != 0 {
			return classify(call, resource, &opError{code: httpFromGRPCCode(st.GetCode()), grpc: grpcCode(st.GetCode()), msg: "operation " + lop.GetName() + " failed: " + st.GetMessage()})
		}
		return nil
	}
	return fmt.Errorf("%s %s: cannot wait for a %s operation", call, resource, op.API)
}

// waitComputeByName polls a compute operation found running until it is DONE.
func (c *Clients) waitComputeByName(ctx context.Context, op Operation, call, resource string, progress Progress) error {
	b := c.newPoll()
	for {
		var got *computepb.Operation
		err := c.do(ctx, call+" (poll)", resource, func(ctx context.Context) (err error) {
			if r, ok := strings.CutPrefix(op.Scope, "regions/"); ok {
				got, err = c.regionOps.Get(ctx, &computepb.GetRegionOperationRequest{Project: op.Project, Region: r, Operation: shortName(op.Name)})
			} else if z, ok := strings.CutPrefix(op.Scope, "zones/"); ok {
				got, err = c.zoneOps.Get(ctx, &computepb.GetZoneOperationRequest{Project: op.Project, Zone: z, Operation: shortName(op.Name)})
			} else {
				got, err = c.globalOps.Get(ctx, &computepb.GetGlobalOperationRequest{Project: op.Project, Operation: shortName(op.Name)})
			}
			return err
		})
		if err != nil {
			return err
		}
		if got.GetStatus() == computepb.Operation_DONE {
			return computeOpError(call, resource, got)
		}
		progress.say("operation %s: %s", got.GetName(), got.GetStatus())
		if err := b.wait(ctx, call, resource, op.Name); err != nil {
			return err
		}
	}
}
