package gcp

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	gkehub "cloud.google.com/go/gkehub/apiv1beta1"
	"cloud.google.com/go/gkehub/apiv1beta1/gkehubpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	serviceusage "cloud.google.com/go/serviceusage/apiv1"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// ProjectNumber reads a project's number.
func (c *Clients) ProjectNumber(ctx context.Context, project string) (int64, error) {
	var p *resourcemanagerpb.Project
	err := c.do(ctx, "get project", "projects/"+project, func(ctx context.Context) (err error) {
		p, err = c.rmProjects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + project})
		return err
	})
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(strings.TrimPrefix(p.GetName(), "projects/"), 10, 64)
	if perr != nil {
		return 0, fmt.Errorf("get project %s: unexpected name %q", project, p.GetName())
	}
	return n, nil
}

// EnabledServices lists the APIs enabled in a project.
func (c *Clients) EnabledServices(ctx context.Context, project string) ([]string, error) {
	var out []string
	err := c.do(ctx, "list enabled services", "projects/"+project, func(ctx context.Context) error {
		out = nil
		svcs, err := collect(c.services.ListServices(ctx, &serviceusagepb.ListServicesRequest{Parent: "projects/" + project, Filter: "state:ENABLED", PageSize: 200}).Next)
		for _, s := range svcs {
			out = append(out, s.GetConfig().GetName())
			if s.GetConfig().GetName() == "" {
				out[len(out)-1] = s.GetName()[strings.LastIndex(s.GetName(), "/")+1:]
			}
		}
		return err
	})
	return out, err
}

// EnableServices enables APIs in a project in one batch and waits.
func (c *Clients) EnableServices(ctx context.Context, project string, services []string, progress Progress) error {
	res := "projects/" + project
	var started *serviceusage.BatchEnableServicesOperation
	if err := c.do(ctx, "enable services "+strings.Join(services, ","), res, func(ctx context.Context) (err error) {
		started, err = c.services.BatchEnableServices(ctx, &serviceusagepb.BatchEnableServicesRequest{Parent: res, ServiceIds: services})
		return err
	}); err != nil {
		return err
	}
	progress.say("operation %s: enabling %d services", started.Name(), len(services))
	var resp *serviceusagepb.BatchEnableServicesResponse
	if err := c.waitLRO(ctx, "enable services", res, started.Name(), started.Done, func(ctx context.Context) (err error) {
		resp, err = started.Poll(ctx)
		return err
	}); err != nil {
		return err
	}
	for _, f := range resp.GetFailures() {
		return classify("enable services", res, &opError{code: 400, msg: fmt.Sprintf("enable %s: %s", f.GetServiceId(), f.GetErrorMessage())})
	}
	return nil
}

// waitLRO polls a google.longrunning operation until done. A poll that returns the operation's
// own error (the operation failed) ends the wait with it; transient poll failures are retried.
func (c *Clients) waitLRO(ctx context.Context, call, resource, name string, done func() bool, poll func(ctx context.Context) error) error {
	b := c.newPoll()
	for {
		err := c.do(ctx, call, resource, poll)
		if err != nil || done() {
			return err
		}
		if err := b.wait(ctx, call, resource, name); err != nil {
			return err
		}
	}
}

// ProjectIAMPolicy reads a project's IAM policy.
func (c *Clients) ProjectIAMPolicy(ctx context.Context, project string) (*iampb.Policy, error) {
	var out *iampb.Policy
	err := c.do(ctx, "get IAM policy", "projects/"+project, func(ctx context.Context) (err error) {
		out, err = c.rmProjects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/" + project})
		return err
	})
	return out, err
}

// SetProjectIAMPolicy writes a policy read with ProjectIAMPolicy; its etag guards concurrent
// changes.
func (c *Clients) SetProjectIAMPolicy(ctx context.Context, project string, p *iampb.Policy) error {
	return c.do(ctx, "set IAM policy", "projects/"+project, func(ctx context.Context) error {
		_, err := c.rmProjects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + project, Policy: p})
		return err
	})
}

// Memberships lists the fleet memberships of a project, in every location.
func (c *Clients) Memberships(ctx context.Context, project string) ([]*gkehubpb.Membership, error) {
	var out []*gkehubpb.Membership
	err := c.do(ctx, "list fleet memberships", "projects/"+project+"/locations/-", func(ctx context.Context) (err error) {
		out, err = collect(c.memberships.ListMemberships(ctx, &gkehubpb.ListMembershipsRequest{Parent: "projects/" + project + "/locations/-"}).Next)
		return err
	})
	return out, err
}

// CreateMembership registers a cluster in the fleet and waits.
func (c *Clients) CreateMembership(ctx context.Context, project, location, id string, m *gkehubpb.Membership, progress Progress) error {
	res := fmt.Sprintf("projects/%s/locations/%s/memberships/%s", project, location, id)
	var started *gkehub.CreateMembershipOperation
	if err := c.do(ctx, "create fleet membership", res, func(ctx context.Context) (err error) {
		started, err = c.memberships.CreateMembership(ctx, &gkehubpb.CreateMembershipRequest{Parent: fmt.Sprintf("projects/%s/locations/%s", project, location), MembershipId: id, Resource: m})
		return err
	}); err != nil {
		return err
	}
	progress.say("operation %s: registering", started.Name())
	return c.waitLRO(ctx, "create fleet membership", res, started.Name(), started.Done, func(ctx context.Context) error {
		_, err := started.Poll(ctx)
		return err
	})
}

// UpdateMembership changes the fields of a fleet membership that paths name (labels,
// authority) to their values in m, and waits. A field named and empty in m is cleared.
func (c *Clients) UpdateMembership(ctx context.Context, project, location, id string, m *gkehubpb.Membership, paths []string, progress Progress) error {
	res := fmt.Sprintf("projects/%s/locations/%s/memberships/%s", project, location, id)
	var op *gkehub.UpdateMembershipOperation
	if err := c.do(ctx, "update fleet membership", res, func(ctx context.Context) (err error) {
		op, err = c.memberships.UpdateMembership(ctx, &gkehubpb.UpdateMembershipRequest{Name: res, Resource: m, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		return err
	}); err != nil {
		return err
	}
	progress.say("operation %s: updating", op.Name())
	return c.waitLRO(ctx, "update fleet membership", res, op.Name(), op.Done, func(ctx context.Context) error {
		_, err := op.Poll(ctx)
		return err
	})
}

// DeleteMembership removes a cluster from the fleet and waits.
func (c *Clients) DeleteMembership(ctx context.Context, project, location, id string, progress Progress) error {
	res := fmt.Sprintf("projects/%s/locations/%s/memberships/%s", project, location, id)
	var op *gkehub.DeleteMembershipOperation
	if err := c.do(ctx, "delete fleet membership", res, func(ctx context.Context) (err error) {
		op, err = c.memberships.DeleteMembership(ctx, &gkehubpb.DeleteMembershipRequest{Name: res})
		return err
	}); err != nil {
		return err
	}
	progress.say("operation %s: deleting", op.Name())
	return c.waitLRO(ctx, "delete fleet membership", res, op.Name(), op.Done, func(ctx context.Context) error { return op.Poll(ctx) })
}
