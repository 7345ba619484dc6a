package gcp

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	orgpolicy "google.golang.org/api/orgpolicy/v2"
)

// What preflight reads before a plan is applied: which of the permissions the plan needs the
// caller holds, the quotas of the regions and projects the plan consumes, and the organisation
// policies in effect. Every read is one call per project, region or constraint.

// maxTestPermissions is how many permissions one testIamPermissions call may ask about.
const maxTestPermissions = 100

// HeldPermissions asks which of perms the caller holds on a project
// (projects/P) or a subnetwork (projects/P/regions/R/subnetworks/S), with testIamPermissions.
func (c *Clients) HeldPermissions(ctx context.Context, resource string, perms []string) ([]string, error) {
	var held []string
	for start := 0; start < len(perms); start += maxTestPermissions {
		batch := perms[start:min(start+maxTestPermissions, len(perms))]
		var got []string
		err := c.do(ctx, "test IAM permissions", resource, func(ctx context.Context) error {
			parts := strings.Split(resource, "/")
			switch {
			case len(parts) == 2 && parts[0] == "projects":
				resp, err := c.rmProjects.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: resource, Permissions: batch})
				got = resp.GetPermissions()
				return err
			case len(parts) == 6 && parts[0] == "projects" && parts[2] == "regions" && parts[4] == "subnetworks":
				resp, err := c.subnetworks.TestIamPermissions(ctx, &computepb.TestIamPermissionsSubnetworkRequest{Project: parts[1], Region: parts[3], Resource: parts[5],
					TestPermissionsRequestResource: &computepb.TestPermissionsRequest{Permissions: batch}})
				got = resp.GetPermissions()
				return err
			}
			return fmt.Errorf("cannot test permissions on %q: want projects/P or projects/P/regions/R/subnetworks/S", resource)
		})
		if err != nil {
			return nil, err
		}
		held = append(held, got...)
	}
	return held, nil
}

// RegionQuotas reads the quotas of a Compute Engine region in a project: each metric's limit and
// usage.
func (c *Clients) RegionQuotas(ctx context.Context, project, region string) ([]*computepb.Quota, error) {
	var out []*computepb.Quota
	err := c.do(ctx, "get region", fmt.Sprintf("projects/%s/regions/%s", project, region), func(ctx context.Context) error {
		r, err := c.regions.Get(ctx, &computepb.GetRegionRequest{Project: project, Region: region})
		out = r.GetQuotas()
		return err
	})
	return out, err
}

// ProjectQuotas reads a project's Compute Engine quotas that are not regional (firewall rules,
// networks, routers).
func (c *Clients) ProjectQuotas(ctx context.Context, project string) ([]*computepb.Quota, error) {
	var out []*computepb.Quota
	err := c.do(ctx, "get compute project", "projects/"+project, func(ctx context.Context) error {
		p, err := c.projects.Get(ctx, &computepb.GetProjectRequest{Project: project})
		out = p.GetQuotas()
		return err
	})
	return out, err
}

// EffectivePolicy reads the organisation policy in effect on a project for a constraint
// (constraints/gcp.resourceLocations), merged from the project, its folders and organisation.
func (c *Clients) EffectivePolicy(ctx context.Context, project, constraint string) (*orgpolicy.GoogleCloudOrgpolicyV2Policy, error) {
	svc, err := c.orgPolicy(ctx)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("projects/%s/policies/%s", project, strings.TrimPrefix(constraint, "constraints/"))
	var out *orgpolicy.GoogleCloudOrgpolicyV2Policy
	err = c.do(ctx, "get effective organisation policy", name, func(ctx context.Context) (err error) {
		out, err = svc.Projects.Policies.GetEffectivePolicy(name).Context(ctx).Do()
		return err
	})
	return out, err
}

// The Organization Policy API's official Go client is the discovery-based one, like the fleet
// Features API's.
func (c *Clients) orgPolicy(ctx context.Context) (*orgpolicy.Service, error) {
	c.orgOnce.Do(func() { c.orgSvc, c.orgErr = orgpolicy.NewService(ctx, c.discoveryOpts("orgpolicy/")...) })
	return c.orgSvc, c.orgErr
}
