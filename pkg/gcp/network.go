package gcp

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

// PatchNetwork changes the fields n sets on a network (its description, routing mode) and waits;
// what n leaves out keeps its value.
func (c *Clients) PatchNetwork(ctx context.Context, project string, n *computepb.Network, progress Progress) error {
	res := fmt.Sprintf("projects/%s/global/networks/%s", project, n.GetName())
	return c.computeOp(ctx, "update network", res, progress, func(ctx context.Context) (*compute.Operation, error) {
		return c.networks.Patch(ctx, &computepb.PatchNetworkRequest{Project: project, Network: n.GetName(), NetworkResource: n})
	})
}
