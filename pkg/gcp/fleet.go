package gcp

import (
	"context"
	"fmt"

	hubv1 "google.golang.org/api/gkehub/v1"
)

// The fleet Features API has no generated gRPC/REST client in cloud.google.com/go; the official
// discovery-based client google.golang.org/api/gkehub/v1 serves it.

func (c *Clients) hub(ctx context.Context) (*hubv1.Service, error) {
	c.hubOnce.Do(func() {
		// One endpoint serves every API; Hub's paths are kept apart from GKE's, which are the
		// same, by a prefix.
		c.hubSvc, c.hubErr = hubv1.NewService(ctx, c.discoveryOpts("gkehub/")...)
	})
	return c.hubSvc, c.hubErr
}

func featureName(project, feature string) string {
	return fmt.Sprintf("projects/%s/locations/global/features/%s", project, feature)
}

// Feature reads a fleet feature; a feature that is not enabled is a KindNotFound error.
func (c *Clients) Feature(ctx context.Context, project, feature string) (*hubv1.Feature, error) {
	svc, err := c.hub(ctx)
	if err != nil {
		return nil, err
	}
	var out *hubv1.Feature
	err = c.do(ctx, "get fleet feature", featureName(project, feature), func(ctx context.Context) (err error) {
		out, err = svc.Projects.Locations.Features.Get(featureName(project, feature)).Context(ctx).Do()
		return err
	})
	return out, err
}

// CreateFeature enables a fleet feature with its membership specs and waits.
func (c *Clients) CreateFeature(ctx context.Context, project, feature string, f *hubv1.Feature, progress Progress) error {
	svc, err := c.hub(ctx)
	if err != nil {
		return err
	}
	name := featureName(project, feature)
	var op *hubv1.Operation
	if err := c.do(ctx, "enable fleet feature", name, func(ctx context.Context) (err error) {
		op, err = svc.Projects.Locations.Features.Create(fmt.Sprintf("projects/%s/locations/global", project), f).FeatureId(feature).Context(ctx).Do()
		return err
	}); err != nil {
		return err
	}
	return c.waitHubOp(ctx, svc, "enable fleet feature", name, op, progress)
}

// UpdateFeatureMemberships replaces the membership specs of a fleet feature and waits. Callers
// pass every membership's spec, their own merged into those read with Feature.
func (c *Clients) UpdateFeatureMemberships(ctx context.Context, project, feature string, specs map[string]hubv1.MembershipFeatureSpec, progress Progress) error {
	svc, err := c.hub(ctx)
	if err != nil {
		return err
	}
	name := featureName(project, feature)
	var op *hubv1.Operation
	if err := c.do(ctx, "update fleet feature", name, func(ctx context.Context) (err error) {
		op, err = svc.Projects.Locations.Features.Patch(name, &hubv1.Feature{MembershipSpecs: specs}).UpdateMask("membershipSpecs").Context(ctx).Do()
		return err
	}); err != nil {
		return err
	}
	return c.waitHubOp(ctx, svc, "update fleet feature", name, op, progress)
}

func (c *Clients) waitHubOp(ctx context.Context, svc *hubv1.Service, call, resource string, op *hubv1.Operation, progress Progress) error {
	b := c.newPoll()
	for !op.Done {
		progress.say("operation %s: running", op.Name)
		if err := b.wait(ctx, call, resource, op.Name); err != nil {
			return err
		}
		if err := c.do(ctx, call+" (poll)", resource, func(ctx context.Context) (err error) {
			op, err = svc.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do()
			return err
		}); err != nil {
			return err
		}
	}
	if op.Error != nil && op.Error.Code != 0 {
		return classify(call, resource, &opError{code: httpFromGRPCCode(int32(op.Error.Code)), grpc: grpcCode(int32(op.Error.Code)), msg: "operation " + op.Name + " failed: " + op.Error.Message})
	}
	return nil
}
