package gcp

import (
	"context"
	"errors"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// collect drains an iterator.
func collect[T any](next func() (T, error)) ([]T, error) {
	var out []T
	for {
		v, err := next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

// Networks lists the VPC networks of a project.
func (c *Clients) Networks(ctx context.Context, project string) ([]*computepb.Network, error) {
	var out []*computepb.Network
	err := c.do(ctx, "list networks", "projects/"+project, func(ctx context.Context) (err error) {
		out, err = collect(c.networks.List(ctx, &computepb.ListNetworksRequest{Project: project}).Next)
		return err
	})
	return out, err
}

// InsertNetwork creates a network and waits for it.
func (c *Clients) InsertNetwork(ctx context.Context, project string, n *computepb.Network, progress Progress) error {
	res := fmt.Sprintf("projects/%s/global/networks/%s", project, n.GetName())
	return c.computeOp(ctx, "create network", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: n})
	})
}

// DeleteNetwork deletes a network and waits.
func (c *Clients) DeleteNetwork(ctx context.Context, project, name string, progress Progress) error {
	res := fmt.Sprintf("projects/%s/global/networks/%s", project, name)
	return c.computeOp(ctx, "delete network", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.networks.Delete(ctx, &computepb.DeleteNetworkRequest{Project: project, Network: name})
	})
}

// Subnetworks lists every subnetwork of a project in one aggregated call.
func (c *Clients) Subnetworks(ctx context.Context, project string) ([]*computepb.Subnetwork, error) {
	var out []*computepb.Subnetwork
	err := c.do(ctx, "list subnetworks", "projects/"+project, func(ctx context.Context) error {
		out = nil
		it := c.subnetworks.AggregatedList(ctx, &computepb.AggregatedListSubnetworksRequest{Project: project})
		pairs, err := collect(it.Next)
		for _, p := range pairs {
			out = append(out, p.Value.GetSubnetworks()...)
		}
		return err
	})
	return out, err
}

// InsertSubnetwork creates a subnetwork and waits for it.
func (c *Clients) InsertSubnetwork(ctx context.Context, project, region string, s *computepb.Subnetwork, progress Progress) error {
	res := fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", project, region, s.GetName())
	return c.computeOp(ctx, "create subnetwork", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.subnetworks.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: project, Region: region, SubnetworkResource: s})
	})
}

// PatchSubnetwork updates a subnetwork's secondary ranges and description; s must carry the
// fingerprint read with it, so a concurrent change fails instead of being overwritten.
func (c *Clients) PatchSubnetwork(ctx context.Context, project, region string, s *computepb.Subnetwork, progress Progress) error {
	res := fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", project, region, s.GetName())
	return c.computeOp(ctx, "update subnetwork", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.subnetworks.Patch(ctx, &computepb.PatchSubnetworkRequest{Project: project, Region: region, Subnetwork: s.GetName(), SubnetworkResource: s})
	})
}

// SetPrivateGoogleAccess turns Private Google Access on or off.
func (c *Clients) SetPrivateGoogleAccess(ctx context.Context, project, region, name string, on bool, progress Progress) error {
	res := fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", project, region, name)
	return c.computeOp(ctx, "set private Google access", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.subnetworks.SetPrivateIpGoogleAccess(ctx, &computepb.SetPrivateIpGoogleAccessSubnetworkRequest{Project: project, Region: region, Subnetwork: name,
			SubnetworksSetPrivateIpGoogleAccessRequestResource: &computepb.SubnetworksSetPrivateIpGoogleAccessRequest{PrivateIpGoogleAccess: proto.Bool(on)}})
	})
}

// DeleteSubnetwork deletes a subnetwork and waits.
func (c *Clients) DeleteSubnetwork(ctx context.Context, project, region, name string, progress Progress) error {
	res := fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", project, region, name)
	return c.computeOp(ctx, "delete subnetwork", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.subnetworks.Delete(ctx, &computepb.DeleteSubnetworkRequest{Project: project, Region: region, Subnetwork: name})
	})
}

// SubnetworkIAMPolicy reads the IAM policy of a subnetwork (Shared VPC grants on the host).
func (c *Clients) SubnetworkIAMPolicy(ctx context.Context, project, region, name string) (*computepb.Policy, error) {
	var out *computepb.Policy
	res := fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", project, region, name)
	err := c.do(ctx, "get IAM policy of subnetwork", res, func(ctx context.Context) (err error) {
		out, err = c.subnetworks.GetIamPolicy(ctx, &computepb.GetIamPolicySubnetworkRequest{Project: project, Region: region, Resource: name})
		return err
	})
	return out, err
}

// SetSubnetworkIAMPolicy writes a policy read with SubnetworkIAMPolicy; its etag makes a
// concurrent change fail instead of being lost.
func (c *Clients) SetSubnetworkIAMPolicy(ctx context.Context, project, region, name string, p *computepb.Policy) error {
	res := fmt.Sprintf("projects/%s/regions/%s/subnetworks/%s", project, region, name)
	return c.do(ctx, "set IAM policy of subnetwork", res, func(ctx context.Context) error {
		_, err := c.subnetworks.SetIamPolicy(ctx, &computepb.SetIamPolicySubnetworkRequest{Project: project, Region: region, Resource: name,
			RegionSetPolicyRequestResource: &computepb.RegionSetPolicyRequest{Policy: p}})
		return err
	})
}

// Firewalls lists the firewall rules of a project.
func (c *Clients) Firewalls(ctx context.Context, project string) ([]*computepb.Firewall, error) {
	var out []*computepb.Firewall
	err := c.do(ctx, "list firewall rules", "projects/"+project, func(ctx context.Context) (err error) {
		out, err = collect(c.firewalls.List(ctx, &computepb.ListFirewallsRequest{Project: project}).Next)
		return err
	})
	return out, err
}

// InsertFirewall creates a firewall rule and waits for it.
func (c *Clients) InsertFirewall(ctx context.Context, project string, f *computepb.Firewall, progress Progress) error {
	res := fmt.Sprintf("projects/%s/global/firewalls/%s", project, f.GetName())
	return c.computeOp(ctx, "create firewall rule", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: f})
	})
}

// UpdateFirewall replaces a firewall rule's settings and waits.
func (c *Clients) UpdateFirewall(ctx context.Context, project string, f *computepb.Firewall, progress Progress) error {
	res := fmt.Sprintf("projects/%s/global/firewalls/%s", project, f.GetName())
	return c.computeOp(ctx, "update firewall rule", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.firewalls.Update(ctx, &computepb.UpdateFirewallRequest{Project: project, Firewall: f.GetName(), FirewallResource: f})
	})
}

// PatchFirewall changes the fields f sets on a firewall rule and waits; what f leaves out (logging,
// disabled, anything set by hand) keeps its value, as PATCH does on Compute Engine.
func (c *Clients) PatchFirewall(ctx context.Context, project string, f *computepb.Firewall, progress Progress) error {
	res := fmt.Sprintf("projects/%s/global/firewalls/%s", project, f.GetName())
	return c.computeOp(ctx, "update firewall rule", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.firewalls.Patch(ctx, &computepb.PatchFirewallRequest{Project: project, Firewall: f.GetName(), FirewallResource: f})
	})
}

// Firewall reads one firewall rule.
func (c *Clients) Firewall(ctx context.Context, project, name string) (*computepb.Firewall, error) {
	var out *computepb.Firewall
	err := c.do(ctx, "get firewall rule", fmt.Sprintf("projects/%s/global/firewalls/%s", project, name), func(ctx context.Context) (err error) {
		out, err = c.firewalls.Get(ctx, &computepb.GetFirewallRequest{Project: project, Firewall: name})
		return err
	})
	return out, err
}

// DeleteFirewall deletes a firewall rule and waits.
func (c *Clients) DeleteFirewall(ctx context.Context, project, name string, progress Progress) error {
	res := fmt.Sprintf("projects/%s/global/firewalls/%s", project, name)
	return c.computeOp(ctx, "delete firewall rule", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: project, Firewall: name})
	})
}

// Routers lists every Cloud Router of a project in one aggregated call.
func (c *Clients) Routers(ctx context.Context, project string) ([]*computepb.Router, error) {
	var out []*computepb.Router
	err := c.do(ctx, "list routers", "projects/"+project, func(ctx context.Context) error {
		out = nil
		pairs, err := collect(c.routers.AggregatedList(ctx, &computepb.AggregatedListRoutersRequest{Project: project}).Next)
		for _, p := range pairs {
			out = append(out, p.Value.GetRouters()...)
		}
		return err
	})
	return out, err
}

// InsertRouter creates a Cloud Router (with its NATs) and waits.
func (c *Clients) InsertRouter(ctx context.Context, project, region string, r *computepb.Router, progress Progress) error {
	res := fmt.Sprintf("projects/%s/regions/%s/routers/%s", project, region, r.GetName())
	return c.computeOp(ctx, "create router", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.routers.Insert(ctx, &computepb.InsertRouterRequest{Project: project, Region: region, RouterResource: r})
	})
}

// Router reads one Cloud Router.
func (c *Clients) Router(ctx context.Context, project, region, name string) (*computepb.Router, error) {
	var out *computepb.Router
	err := c.do(ctx, "get router", fmt.Sprintf("projects/%s/regions/%s/routers/%s", project, region, name), func(ctx context.Context) (err error) {
		out, err = c.routers.Get(ctx, &computepb.GetRouterRequest{Project: project, Region: region, Router: name})
		return err
	})
	return out, err
}

// PatchRouter changes the fields r sets on a router and waits; the NAT list, when set, is
// replaced whole, so r must carry every NAT the router keeps.
func (c *Clients) PatchRouter(ctx context.Context, project, region string, r *computepb.Router, progress Progress) error {
	res := fmt.Sprintf("projects/%s/regions/%s/routers/%s", project, region, r.GetName())
	return c.computeOp(ctx, "update router", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.routers.Patch(ctx, &computepb.PatchRouterRequest{Project: project, Region: region, Router: r.GetName(), RouterResource: r})
	})
}

// DeleteRouter deletes a router and its NATs and waits.
func (c *Clients) DeleteRouter(ctx context.Context, project, region, name string, progress Progress) error {
	res := fmt.Sprintf("projects/%s/regions/%s/routers/%s", project, region, name)
	return c.computeOp(ctx, "delete router", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.routers.Delete(ctx, &computepb.DeleteRouterRequest{Project: project, Region: region, Router: name})
	})
}

// XpnHost reports whether a project is a Shared VPC host.
func (c *Clients) XpnHost(ctx context.Context, project string) (bool, error) {
	var p *computepb.Project
	err := c.do(ctx, "get project", "projects/"+project, func(ctx context.Context) (err error) {
		p, err = c.projects.Get(ctx, &computepb.GetProjectRequest{Project: project})
		return err
	})
	return p.GetXpnProjectStatus() == "HOST", err
}

// EnableXpnHost makes a project a Shared VPC host and waits.
func (c *Clients) EnableXpnHost(ctx context.Context, project string, progress Progress) error {
	return c.computeOp(ctx, "enable Shared VPC host", "projects/"+project, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.projects.EnableXpnHost(ctx, &computepb.EnableXpnHostProjectRequest{Project: project})
	})
}

// XpnServiceProjects lists the service projects attached to a Shared VPC host.
func (c *Clients) XpnServiceProjects(ctx context.Context, host string) ([]string, error) {
	var out []string
	err := c.do(ctx, "list Shared VPC service projects", "projects/"+host, func(ctx context.Context) error {
		out = nil
		ids, err := collect(c.projects.GetXpnResources(ctx, &computepb.GetXpnResourcesProjectsRequest{Project: host}).Next)
		for _, id := range ids {
			if id.GetType() == "PROJECT" {
				out = append(out, id.GetId())
			}
		}
		return err
	})
	return out, err
}

// AttachXpnServiceProject attaches a service project to a Shared VPC host and waits.
func (c *Clients) AttachXpnServiceProject(ctx context.Context, host, service string, progress Progress) error {
	return c.computeOp(ctx, "attach Shared VPC service project "+service, "projects/"+host, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.projects.EnableXpnResource(ctx, &computepb.EnableXpnResourceProjectRequest{Project: host,
			ProjectsEnableXpnResourceRequestResource: &computepb.ProjectsEnableXpnResourceRequest{
				XpnResource: &computepb.XpnResourceId{Id: proto.String(service), Type: proto.String("PROJECT")}}})
	})
}

// computeOp starts a compute operation (retrying transient failures of the call) and waits for it.
func (c *Clients) computeOp(ctx context.Context, call, resource string, progress Progress, start func(ctx context.Context) (*compute.Operation, error)) error {
	var op *compute.Operation
	if err := c.do(ctx, call, resource, func(ctx context.Context) (err error) {
		op, err = start(ctx)
		return err
	}); err != nil {
		return err
	}
	return c.waitCompute(ctx, call, resource, op, progress)
}
